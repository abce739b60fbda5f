"""``kanbert_async.sync.KanbertClient``: the async client, blocking, for scripts, notebooks and Airflow tasks.

It holds an async :class:`~kanbert_async.KanbertClient` and a private event-loop thread
(:class:`~.portal.Portal`); every method runs the async one there and waits. Same resources, same
methods and arguments (generated from the same operations), same retries, rate limiter and errors.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar, overload

import aiohttp

from .._client import DEFAULT_TIMEOUT
from .._client import KanbertClient as AsyncKanbertClient
from .._core.auth import Auth
from .._core.observe import EventHooks
from .._core.operation import RequestOptions
from .._core.ratelimit import RateLimitInfo
from .._core.reporting import ResponseInfo, Stats
from .._core.retry import RetryPolicy
from .._core.settings import Timeout
from .._generated.sync import SyncResourcesMixin
from .pager import SyncPager
from .portal import Portal

__all__ = ["KanbertClient"]

T = TypeVar("T")


class KanbertClient(SyncResourcesMixin):
    """The Kanbert API client, blocking. Use it as a context manager so its thread and pool close::

        from kanbert_async.sync import KanbertClient

        with KanbertClient() as kb:                            # KANBERT_API_TOKEN from the environment
            invoice = kb.outgoing_invoices.get("inv_123")
            for inv in kb.outgoing_invoices.list(include=["line_items"]):
                ...

    Arguments as :class:`kanbert_async.KanbertClient` (no ``session``: the client's aiohttp session
    lives on its own loop thread). Safe to call from several threads at once; hooks run on the
    client's loop thread.
    """

    def __init__(
        self,
        token: str | None = None,
        *,
        auth: Auth | None = None,
        base_url: str | None = None,
        timeout: float | Timeout = DEFAULT_TIMEOUT,
        max_retries: int = 5,
        retry: RetryPolicy | None = None,
        rate_limit: float | str | None = None,
        max_connections: int = 64,
        allow_insecure_http: bool = False,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, Any] | None = None,
        event_hooks: EventHooks | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
    ) -> None:
        client = AsyncKanbertClient(
            token,
            auth=auth,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            retry=retry,
            rate_limit=rate_limit,
            max_connections=max_connections,
            allow_insecure_http=allow_insecure_http,
            default_headers=default_headers,
            default_query=default_query,
            event_hooks=event_hooks,
            trace_configs=trace_configs,
        )
        self._setup(client, Portal(client._transport.pool.last_response), owns=True)

    def _setup(self, client: AsyncKanbertClient, portal: Portal, *, owns: bool) -> None:
        self._client = client
        self._portal = portal
        self._owns = owns

    def _sync_parts(self) -> tuple[AsyncKanbertClient, Portal]:
        return self._client, self._portal

    def __repr__(self) -> str:
        return f"<kanbert_async.sync.KanbertClient {self._client.base_url}>"

    @property
    def async_client(self) -> AsyncKanbertClient:
        """The async client underneath (its coroutines must run on this client's loop thread)."""
        return self._client

    @property
    def base_url(self) -> str:
        """The API base URL requests go to."""
        return self._client.base_url

    @property
    def rate_limit(self) -> RateLimitInfo:
        """The server's last reported limit, remaining requests and reset time."""
        return self._client.rate_limit

    @property
    def stats(self) -> Stats:
        """Requests made, retries, 429s seen and token refreshes, so far."""
        return self._client.stats

    @property
    def last_response(self) -> ResponseInfo | None:
        """Status, headers, request id, time and retries of the calling thread's last successful call."""
        return self._portal.last_response()

    def with_options(
        self,
        *,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
    ) -> KanbertClient:
        """A client with other defaults sharing this one's thread, pool, rate limiter and stats."""
        derived = self._client.with_options(
            timeout=timeout, max_retries=max_retries, retry=retry, headers=headers, query=query
        )
        clone = type(self).__new__(type(self))
        clone._setup(derived, self._portal, owns=False)
        return clone

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> KanbertClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool and stop the loop thread (a ``with_options`` copy closes nothing)."""
        if self._owns:
            self._portal.close(self._client.aclose())

    def __del__(self) -> None:
        portal = getattr(self, "_portal", None)
        if portal is not None and getattr(self, "_owns", False) and not portal.closed:
            warnings.warn(
                f"{self!r} was not closed; use `with KanbertClient() as kb:` or `kb.close()`",
                ResourceWarning,
                stacklevel=2,
            )
            portal.close_soon(self._client.aclose())

    # -- what is not generated (yet) -------------------------------------------------------------
    @overload
    def request(
        self,
        method: str,
        path_template: str,
        /,
        *,
        cast_to: type[T],
        path: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        options: RequestOptions | None = None,
    ) -> T: ...

    @overload
    def request(
        self,
        method: str,
        path_template: str,
        /,
        *,
        cast_to: object = ...,
        path: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        options: RequestOptions | None = None,
    ) -> Any: ...

    def request(
        self,
        method: str,
        path_template: str,
        /,
        *,
        cast_to: object = Any,
        path: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        options: RequestOptions | None = None,
    ) -> Any:
        """Call an endpoint the SDK does not generate (yet): see ``kanbert_async.KanbertClient.request``."""
        return self._portal.run(
            self._client.request(
                method, path_template, cast_to=cast_to, path=path, query=query, body=body, options=options
            )
        )

    def paginate(
        self,
        method: str,
        path_template: str,
        /,
        *,
        item: type[T],
        path: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        page_size: int | None = None,
        start_cursor: str | None = None,
        max_items: int | None = None,
        max_pages: int | None = None,
        prefetch: int = 1,
        options: RequestOptions | None = None,
    ) -> SyncPager[T]:
        """A listing the SDK does not generate (yet); see :meth:`kanbert_async.KanbertClient.paginate`."""
        pager = self._client.paginate(
            method,
            path_template,
            item=item,
            path=path,
            query=query,
            page_size=page_size,
            start_cursor=start_cursor,
            max_items=max_items,
            max_pages=max_pages,
            prefetch=prefetch,
            options=options,
        )
        return SyncPager(pager, self._portal)
