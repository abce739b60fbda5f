"""The connection pool a client and its ``with_options`` copies share: one aiohttp session, its slots.

The session is created on first use, inside the running event loop. One slot per pooled connection
is taken before the rate-limit gate, so a request never waits for a connection after passing the
gate (and none slips out into a cooldown begun meanwhile).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import aiohttp

from .errors import KanbertError
from .reporting import LastResponse

__all__ = ["ConnectionPool"]

_UNLIMITED = 2**31


class ConnectionPool:
    """One aiohttp session (created on first use, or the caller's) and the request slots over it."""

    def __init__(
        self,
        *,
        max_connections: int,
        session: aiohttp.ClientSession | None,
        user_agent: str,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
    ) -> None:
        self._max_connections = max_connections
        self._session = session
        self.owns_session = session is None
        self.user_agent = user_agent
        self._trace_configs = list(trace_configs)
        self._closed = False
        self.slots = asyncio.Semaphore(_pool_size(max_connections, session))
        #: The last successful call of each task through this pool (``kb.last_response``).
        self.last_response = LastResponse()

    @property
    def session(self) -> aiohttp.ClientSession:
        """The session, created on first use inside the running event loop."""
        if self._closed:
            raise KanbertError("the client is closed; create a new KanbertClient (or use `async with`)")
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, limit_per_host=self._max_connections, ttl_dns_cache=300
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": self.user_agent},
                trace_configs=self._trace_configs or None,
            )
        return self._session

    @property
    def owns_open_session(self) -> bool:
        """Whether closing must close a session this pool created."""
        return self.owns_session and self._session is not None and not self._session.closed

    async def close(self) -> None:
        """Close the session if this pool created it (an injected session is left open)."""
        self._closed = True
        if self.owns_session and self._session is not None:
            await self._session.close()


def _pool_size(max_connections: int, session: aiohttp.ClientSession | None) -> int:
    """Requests that may be in flight at once: ours, or an injected session's tighter connector limit.

    0 means no limit, as it does for aiohttp's connector.
    """
    limits = [max_connections]
    connector = session.connector if session is not None else None
    if connector is not None:
        limits += [connector.limit, connector.limit_per_host]
    return min((limit for limit in limits if limit > 0), default=_UNLIMITED)
