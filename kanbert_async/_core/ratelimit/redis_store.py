"""RedisStore: rate-limit budgets in Redis, shared by every process and machine using the same token.

Layout — one hash per budget, nothing else::

    kanbert-async:ratelimit:v1:<budget>     HASH   v  the version: 16 random hex digits per write
                                                   s  the SharedBudget, MessagePack
                                            TTL    KEY_TTL (a day) from the last write

``<budget>`` is :func:`~.store.budget_key`: 32 hex digits of a one-way hash of the server's base
URL and the token (and the server's bucket, for a server that names several). No token, host name
or process id is ever written; holders are random ids.

A write is one Lua script that only swaps: it compares the version the writer read, writes the new
one with the data if it still matches, and answers with Redis' ``TIME`` (and, on a mismatch, with
what is stored now). Every decision is the rules' own, made in the client on Redis' clock
(:mod:`.shared_gate`). A read is ``HMGET`` and ``TIME`` in one round trip.

``redis`` (redis-py, asyncio API) is imported only when a store is made: ``pip install
'kanbert-async[redis]'``.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..auth import Secret
from ..errors import InvalidRequestError
from .shared_gate import SharedRateLimiter, Snapshot, StoreUnavailable
from .store import StoreMetrics, budget_key

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["KEY_PREFIX", "KEY_TTL", "RedisStore"]

KEY_PREFIX = "kanbert-async:ratelimit:v1:"
#: Seconds a budget is kept after its last write.
KEY_TTL = 86_400

# KEYS[1] the budget; ARGV: the version read ("" for none), the new version, the data, the TTL (ms).
_SWAP = """
local now = redis.call('TIME')
local current = redis.call('HGET', KEYS[1], 'v') or ''
if current ~= ARGV[1] then
  return {now[1], now[2], current, redis.call('HGET', KEYS[1], 's')}
end
redis.call('HSET', KEYS[1], 'v', ARGV[2], 's', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {now[1], now[2]}
"""


def _redis() -> Any:
    try:
        import redis.asyncio
    except ImportError:
        raise InvalidRequestError(
            "RedisStore needs the redis package: pip install 'kanbert-async[redis]'"
        ) from None
    return redis.asyncio


def _where(url: str) -> str:
    """``redis://host:port/db`` without user or password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    where = f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")
    return where + (parts.path if parts.path not in ("", "/") else "")


def _store_time(reply: Any) -> float:
    seconds, micros = reply
    return int(seconds) + int(micros) / 1e6


class _RedisBackend:
    """The :class:`~.shared_gate.SharedBackend` on redis-py: one client per event loop (a redis-py
    client belongs to the loop it first ran in; a worker that calls ``asyncio.run`` per task gets a
    fresh one each time), made by ``connect``."""

    def __init__(self, connect: Callable[[], redis.asyncio.Redis], where: str) -> None:
        self._connect = connect
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis] = (
            weakref.WeakKeyDictionary()
        )
        self._where = where
        self._swap: Any = None
        self._errors: tuple[type[BaseException], ...] = (_redis().RedisError, OSError)

    def _client(self) -> redis.asyncio.Redis:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = self._connect()
            if self._swap is None:
                self._swap = client.register_script(_SWAP)
        return client

    def describe(self) -> str:
        return self._where

    async def read(self, key: str) -> tuple[Snapshot, float]:
        try:
            pipe = self._client().pipeline(transaction=False)
            pipe.hmget(key, "v", "s")
            pipe.time()
            (version, data), now = await pipe.execute()
        except self._errors as exc:
            raise StoreUnavailable(_message(exc)) from None
        return Snapshot(version.decode() if version else "", data), _store_time(now)

    async def swap(self, key: str, expected: str, version: str, data: bytes) -> tuple[Snapshot | None, float]:
        try:
            client = self._client()
            reply = await self._swap(
                keys=[key], args=[expected, version, data, KEY_TTL * 1000], client=client
            )
        except self._errors as exc:
            raise StoreUnavailable(_message(exc)) from None
        now = _store_time(reply[:2])
        if len(reply) == 2:
            return None, now
        current, stored = reply[2], reply[3]
        return Snapshot(current.decode() if current else "", stored), now

    async def aclose(self) -> None:
        clients = list(self._clients.values())
        self._clients.clear()
        for client in clients:
            with contextlib.suppress(Exception):  # one of a loop that has ended
                await client.aclose()


def _message(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class RedisStore:
    """Budgets in Redis: every client of the same token on the same server, in any process on any
    machine, shares one budget — one pace, one cooldown after a 429, what each learns for all.

    Example::

        store = RedisStore.from_url("redis://localhost:6379/0")
        async with KanbertClient(token, rate_limit_store=store) as kb:
            ...
        await store.aclose()

    Or set ``KANBERT_RATE_LIMIT_REDIS_URL`` and every ``KanbertClient`` uses it. If Redis fails, a
    client paces itself alone (one warning, ``kb.stats.rate_limit_store_fallbacks``) and shares
    again once Redis answers. ``budget`` names the budget instead of the token — needed for auth
    whose token changes (OAuth2, a token provider): clients naming the same budget share it.
    """

    def __init__(
        self,
        client: redis.asyncio.Redis | Callable[[], redis.asyncio.Redis],
        *,
        budget: str | None = None,
        where: str = "redis",
    ) -> None:
        """``client``: a redis-py asyncio client, or a function that makes one (called once per
        event loop); ``where`` names the server in messages (no password)."""
        connect = client if callable(client) else lambda: client
        self._backend = _RedisBackend(connect, where)
        self._budget = budget

    @classmethod
    def from_url(cls, url: str, *, budget: str | None = None, timeout: float = 0.5) -> RedisStore:
        """A store on ``redis://[[user]:password@]host[:port][/db]`` (or ``rediss://``, ``unix://``);
        ``timeout`` seconds to connect or answer before the store counts as failed."""
        if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
            raise InvalidRequestError(
                f"not a Redis URL: {_where(url)!r}; write it like redis://localhost:6379/0"
            )
        module = _redis()
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        def connect() -> redis.asyncio.Redis:
            client: redis.asyncio.Redis = module.Redis.from_url(
                url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=Retry(NoBackoff(), 0)
            )
            return client

        return cls(connect, budget=budget, where=_where(url))

    def __repr__(self) -> str:
        return f"<RedisStore {self._backend.describe()}>"

    def key_for(self, server: str, token: Secret | None, bucket: str | None = None) -> str:
        """The Redis key of the budget of ``token`` on ``server`` (of the server's ``bucket`` of
        that name, if it has several): a one-way hash, see the module."""
        if token is None and self._budget is None:
            raise InvalidRequestError(
                "rate_limit_store: this client's token is not fixed (OAuth2 or a token provider), so it "
                "cannot name a shared budget; name one: RedisStore.from_url(url, budget='my-integration')"
            )
        return KEY_PREFIX + budget_key(server, token, self._budget, bucket)

    def limiter(
        self,
        server: str,
        token: Secret | None,
        *,
        rate: float | None = None,
        metrics: StoreMetrics | None = None,
        bucket: str | None = None,
    ) -> SharedRateLimiter:
        """A gate over the budget of ``token`` on ``server`` (of its ``bucket``), shared through Redis."""
        key = self.key_for(server, token, bucket)
        return SharedRateLimiter(self._backend, key, rate=rate, metrics=metrics)

    async def aclose(self) -> None:
        """Close the connections to Redis."""
        await self._backend.aclose()
