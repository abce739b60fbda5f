"""KanbertClient: owns the session, auth and policies, and hosts the generated resources."""

from __future__ import annotations

import os
import warnings
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, overload

import aiohttp

from ._core.auth import Auth, BearerToken
from ._core.errors import InvalidRequestError
from ._core.observe import EventHooks, Observer
from ._core.pool import ConnectionPool
from ._core.ratelimit import BucketRouter, Limiter, RateLimiter, RateLimitInfo, RateLimitStore, parse_rate
from ._core.retry import RetryPolicy
from ._core.runner import Runner
from ._core.settings import Timeout, check_base_url
from ._core.transport import Stats, Transport
from ._generated.resources import ResourcesMixin
from ._version import __version__

if TYPE_CHECKING:  # what only a call uses loads with the call: every program pays for the import
    from ._core.fanout import FanOut
    from ._core.operation import RequestOptions
    from ._core.pager import AsyncPager
    from ._core.reporting import ResponseInfo

__all__ = ["DEFAULT_BASE_URL", "KanbertClient"]

DEFAULT_BASE_URL = "https://api.kanbert.com/api/v1"
#: 10 s to connect, 60 s for a whole attempt.
DEFAULT_TIMEOUT = Timeout()

T = TypeVar("T")
R = TypeVar("R")


class KanbertClient(ResourcesMixin):
    """The Kanbert API client.

    Use it as an async context manager so its connection pool is closed::

        async with KanbertClient() as kb:                      # KANBERT_API_TOKEN from the environment
            invoice = await kb.outgoing_invoices.get("inv_123")
            async for inv in kb.outgoing_invoices.list(include=["line_items"]):
                ...

    Args:
        token: API token; defaults to ``KANBERT_API_TOKEN``. Ignored when ``auth`` is given.
        auth: an auth object (``BearerToken``, ``OAuth2``) for tokens that change.
        base_url: defaults to ``KANBERT_BASE_URL``, then ``https://api.kanbert.com/api/v1``.
        timeout: seconds for one attempt, or a :class:`Timeout` with connect and total.
        max_retries: retries of transient failures per call (see :class:`RetryPolicy`).
        retry: a full :class:`RetryPolicy` (overrides ``max_retries``).
        rate_limit: client-side pacing, e.g. ``"600/min"`` or requests per second (per server
            bucket, for a server that names several); learned from the server's headers when None.
        rate_limit_store: where the token's rate-limit budget lives: a ``RedisStore`` shares it with
            every process using the token (default: ``KANBERT_RATE_LIMIT_REDIS_URL`` if set, else a
            budget of this client's own).
        max_connections: size of the connection pool.
        session: an aiohttp session to use; it is not closed by the client.
        allow_insecure_http: permit ``http://`` to a non-loopback host.
        default_headers: headers sent with every request (a call's own override them).
        default_query: query parameters sent with every request (unless the call has its own).
        event_hooks: ``{"request": [...], "response": [...], "error": [...]}`` — functions or
            coroutine functions of an :class:`~kanbert_async.Attempt`, run once per attempt.
        trace_configs: aiohttp ``TraceConfig`` objects for the session the client creates (e.g.
            OpenTelemetry's ``create_trace_config()``).
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
        rate_limit_store: RateLimitStore | None = None,
        max_connections: int = 64,
        session: aiohttp.ClientSession | None = None,
        allow_insecure_http: bool = False,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, Any] | None = None,
        event_hooks: EventHooks | None = None,
        trace_configs: Sequence[aiohttp.TraceConfig] = (),
    ) -> None:
        if auth is None:
            token = token if token is not None else os.environ.get("KANBERT_API_TOKEN")
            if not token:
                raise InvalidRequestError(
                    "no API token: pass token=... or set KANBERT_API_TOKEN (create one in Kanbert under "
                    "Settings → Apps & API)"
                )
            auth = BearerToken(token)
        url = base_url or os.environ.get("KANBERT_BASE_URL") or DEFAULT_BASE_URL
        if session is not None and trace_configs:
            raise InvalidRequestError(
                "trace_configs apply to the session the client creates; pass them to your own "
                "aiohttp.ClientSession(trace_configs=...) instead"
            )
        pool = ConnectionPool(
            max_connections=max_connections,
            session=session,
            user_agent=f"kanbert-async/{__version__}",
            trace_configs=trace_configs,
        )
        url = check_base_url(url, allow_insecure_http=allow_insecure_http)
        stats = Stats()
        self._owned_store: RateLimitStore | None = None
        self._transport = Transport(
            base_url=url,
            auth=auth,
            timeout=_timeout(timeout),
            retry=retry or RetryPolicy(max_retries=max_retries),
            limiter=self._limiter(url, auth, rate_limit, rate_limit_store, stats),
            pool=pool,
            observer=Observer(event_hooks),
            default_headers=default_headers,
            default_query=default_query,
            stats=stats,
        )
        self._owns_pool = True
        self._ops = Runner(self._transport)

    @classmethod
    def _over(cls, transport: Transport) -> KanbertClient:
        """A client over ``transport`` whose pool another client owns (``with_options``)."""
        client = cls.__new__(cls)
        client._transport = transport
        client._owns_pool = False
        client._owned_store = None
        client._ops = Runner(transport)
        return client

    def with_options(
        self,
        *,
        timeout: float | Timeout | None = None,
        max_retries: int | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
    ) -> KanbertClient:
        """A client with other defaults that shares this one's connection pool, rate limiter, auth,
        hooks and stats; closing it leaves them open (close the original)::

            patient = kb.with_options(timeout=300, max_retries=10)
            big = await patient.outgoing_invoices.get("inv_1")

        ``headers`` and ``query`` are added to this client's defaults.
        """
        policy = retry
        if max_retries is not None:
            policy = (retry or self._transport.retry).with_overrides(max_retries=max_retries)
        return type(self)._over(
            self._transport.derive(
                timeout=_timeout(timeout) if timeout is not None else None,
                retry=policy,
                headers=headers,
                query=query,
            )
        )

    def _limiter(
        self, url: str, auth: Auth, rate: float | str | None, store: RateLimitStore | None, stats: Stats
    ) -> BucketRouter:
        """This client's gates, one per bucket the server names: its own, or over its token's budgets
        in ``store``."""
        if store is None and (redis_url := os.environ.get("KANBERT_RATE_LIMIT_REDIS_URL")):
            from ._core.ratelimit.redis_store import RedisStore

            store = self._owned_store = RedisStore.from_url(redis_url)
        pace = parse_rate(rate) if isinstance(rate, str) else rate
        if store is None:
            return BucketRouter(lambda bucket: RateLimiter(pace))
        shared, token = store, auth.fixed_token if isinstance(auth, BearerToken) else None

        def gate(bucket: str | None) -> Limiter:
            return shared.limiter(url, token, rate=pace, metrics=stats, bucket=bucket)

        return BucketRouter(gate)

    def __repr__(self) -> str:
        return f"<KanbertClient {self._transport.base_url}>"

    @property
    def base_url(self) -> str:
        """The API base URL requests go to."""
        return self._transport.base_url

    @property
    def rate_limit(self) -> RateLimitInfo:
        """The server's last reported limit, remaining requests and reset time."""
        return self._transport.limiter.info

    @property
    def stats(self) -> Stats:
        """Requests made, retries, 429s seen and token refreshes, so far."""
        return self._transport.stats

    @property
    def last_response(self) -> ResponseInfo | None:
        """Status, headers, request id, time and retries of the current task's last successful call
        through this client (or a ``with_options`` copy); None before the first::

            invoice = await kb.outgoing_invoices.get("inv_1")
            print(kb.last_response.request_id)

        Kept per asyncio task, so concurrent tasks never see each other's calls.
        """
        return self._transport.pool.last_response.get()

    # -- lifecycle -------------------------------------------------------------------------------
    async def __aenter__(self) -> KanbertClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool and the rate limiter (an injected session and rate-limit store
        are left open; a ``with_options`` copy leaves its original's open)."""
        if self._owns_pool:
            await self._transport.limiter.aclose()
            await self._transport.pool.close()
            if self._owned_store is not None:
                await self._owned_store.aclose()

    def __del__(self) -> None:
        transport = getattr(self, "_transport", None)
        if transport is not None and getattr(self, "_owns_pool", False) and transport.pool.owns_open_session:
            warnings.warn(
                f"{self!r} was not closed; use `async with KanbertClient() as kb:` or `await kb.aclose()`",
                ResourceWarning,
                stacklevel=2,
            )

    # -- what generated resources call ------------------------------------------------------------
    def _runner(self) -> Runner:
        return self._ops

    # -- what is not generated (yet) ---------------------------------------------------------------
    @overload
    async def request(
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
    async def request(
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

    async def request(
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
        """Call an endpoint the SDK does not generate (yet), with the same auth, retries, rate
        limiter and errors as every generated method::

            project = await kb.request("GET", "/projects/{id}", path={"id": "p_1"}, cast_to=Project)
            raw = await kb.request("GET", "/me")                    # decoded JSON: dicts and lists

        ``path_template`` is relative to the base URL; ``path`` fills its ``{placeholders}``
        (percent-encoded); ``query`` values are encoded like a generated method's; ``body`` is sent as
        JSON. ``cast_to`` is any type msgspec decodes (a Struct, ``list[X]``, ``X | None``); a 204
        returns None. POST and PATCH are retried only when they provably never arrived.
        """
        from ._core.adhoc import adhoc_operation

        operation = adhoc_operation(method, path_template, response=cast_to, body=body is not None)
        return await self._ops.call(operation, path=path, query=query, body=body, options=options)

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
    ) -> AsyncPager[T]:
        """A pager over a cursor-paginated endpoint the SDK does not generate (yet)::

            async for project in kb.paginate("GET", "/projects", item=Project, page_size=100):
                ...

        Pages are Kanbert's (``{data: [...], meta: {next_cursor}}``), fetched ahead like a generated
        listing's; ``query`` goes with every page (``sort``, ``filter`` as the API writes them).
        """
        from ._core.adhoc import adhoc_operation, page_of
        from ._core.list_args import ListArgs

        operation = adhoc_operation(method, path_template, response=page_of(item), body=False)
        return self._ops.paginate(
            operation,
            path=path,
            args=ListArgs(page_size=page_size, extras=dict(query or {})),
            start_cursor=start_cursor,
            max_items=max_items,
            max_pages=max_pages,
            prefetch=prefetch,
            options=options,
        )

    # -- fan-out -------------------------------------------------------------------------------
    def map(
        self,
        fn: Callable[[T], Awaitable[R]],
        items: Iterable[T] | AsyncIterable[T],
        *,
        concurrency: int = 8,
        stop_on_error: bool = False,
    ) -> FanOut[T, R]:
        """Run ``fn`` for every item, at most ``concurrency`` at once, sharing this client's limits.

        Iterate for results in completion order, or await for all of them::

            async for result in kb.map(fetch_line_items, invoices, concurrency=16):
                if result.ok: ...
            results = await kb.map(download, invoices)

        Every call goes through this client's rate limiter and retry policy, so more workers never
        means more 429s. Errors are collected per item unless ``stop_on_error`` is set.
        """
        from ._core.fanout import FanOut

        return FanOut(fn, items, concurrency=concurrency, stop_on_error=stop_on_error)


def _timeout(timeout: float | Timeout) -> Timeout:
    return timeout if isinstance(timeout, Timeout) else Timeout(total=timeout)
