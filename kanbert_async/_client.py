"""KanbertClient: owns the session, auth and policies, and hosts the generated resources."""

from __future__ import annotations

import os
import warnings
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, TypeVar

import aiohttp

from ._core.auth import Auth, BearerToken
from ._core.capabilities import Capabilities
from ._core.decode import decode_response
from ._core.download import BinaryResponse
from ._core.duplicates import duplicate_check_for
from ._core.encoding import flatten_query
from ._core.errors import InvalidRequestError
from ._core.fanout import FanOut
from ._core.list_args import ListArgs
from ._core.list_source import ListSource
from ._core.operation import Operation, RequestOptions
from ._core.pager import AsyncPager
from ._core.ratelimit import Limiter, RateLimiter, RateLimitInfo, RateLimitStore, parse_rate
from ._core.retry import RetryPolicy
from ._core.settings import Timeout, check_base_url
from ._core.transport import Stats, Transport
from ._generated.resources import ResourcesMixin
from ._version import __version__

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
        rate_limit: client-side pacing, e.g. ``"600/min"`` or requests per second; learned from the
            server's headers when None.
        rate_limit_store: where the token's rate-limit budget lives: a ``RedisStore`` shares it with
            every process using the token (default: ``KANBERT_RATE_LIMIT_REDIS_URL`` if set, else a
            budget of this client's own).
        max_connections: size of the connection pool.
        session: an aiohttp session to use; it is not closed by the client.
        allow_insecure_http: permit ``http://`` to a non-loopback host.
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
    ) -> None:
        if auth is None:
            token = token if token is not None else os.environ.get("KANBERT_API_TOKEN")
            if not token:
                raise InvalidRequestError(
                    "no API token: pass token=... or set KANBERT_API_TOKEN (create one in Kanbert under "
                    "Settings → Apps & API)"
                )
            auth = BearerToken(token)
        url = check_base_url(
            base_url or os.environ.get("KANBERT_BASE_URL") or DEFAULT_BASE_URL,
            allow_insecure_http=allow_insecure_http,
        )
        stats = Stats()
        self._owned_store: RateLimitStore | None = None
        self._transport = Transport(
            base_url=url,
            auth=auth,
            timeout=timeout if isinstance(timeout, Timeout) else Timeout(total=timeout),
            retry=retry or RetryPolicy(max_retries=max_retries),
            limiter=self._limiter(url, auth, rate_limit, rate_limit_store, stats),
            max_connections=max_connections,
            session=session,
            user_agent=f"kanbert-async/{__version__}",
            stats=stats,
        )

    def _limiter(
        self, url: str, auth: Auth, rate: float | str | None, store: RateLimitStore | None, stats: Stats
    ) -> Limiter:
        """This client's gate: its own, or one over its token's budget in ``store``."""
        if store is None and (redis_url := os.environ.get("KANBERT_RATE_LIMIT_REDIS_URL")):
            from ._core.ratelimit.redis_store import RedisStore

            store = self._owned_store = RedisStore.from_url(redis_url)
        if store is None:
            return RateLimiter(rate)
        token = auth.fixed_token if isinstance(auth, BearerToken) else None
        pace = parse_rate(rate) if isinstance(rate, str) else rate
        return store.limiter(url, token, rate=pace, metrics=stats)

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

    # -- lifecycle -------------------------------------------------------------------------------
    async def __aenter__(self) -> KanbertClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool (an injected session and rate-limit store are left open)."""
        await self._transport.close()
        if self._owned_store is not None:
            await self._owned_store.aclose()

    def __del__(self) -> None:
        transport = getattr(self, "_transport", None)
        if transport is not None and transport.owns_open_session:
            warnings.warn(
                f"{self!r} was not closed; use `async with KanbertClient() as kb:` or `await kb.aclose()`",
                ResourceWarning,
                stacklevel=2,
            )

    # -- OperationRunner: what generated resources call ------------------------------------------
    def _runner(self) -> KanbertClient:
        return self

    def _url(
        self,
        operation: Operation[Any],
        path: Mapping[str, Any] | None,
        query: Mapping[str, Any] | None,
        args: ListArgs | None,
    ) -> str:
        if args is None:
            return self._transport.url_for(operation, path, flatten_query(query or {}))
        caps = operation.capabilities or Capabilities.undocumented(operation.id)
        return self._transport.url_for(operation, path, args.encode(caps, operation.page_size_param))

    async def call(
        self,
        operation: Operation[T],
        *,
        path: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        args: ListArgs | None = None,
        body: Mapping[str, Any] | None = None,
        options: RequestOptions | None = None,
    ) -> T:
        """Run ``operation`` and decode its JSON response (used by generated resources).

        Query parameters come as ``query`` or, for an operation with list parameters (sort,
        include, filter, computed fields), as ``args``.
        """
        response = await self._transport.send(
            operation,
            self._url(operation, path, query, args),
            body=body,
            options=options,
            find_existing=duplicate_check_for(self._transport, operation, body),
        )
        if operation.response is None:
            # 204 No Content, or a success the description documents without a body.
            return None  # type: ignore[return-value]
        result: T = decode_response(operation, response.body)
        return result

    def paginate(
        self,
        operation: Operation[T],
        *,
        path: Mapping[str, Any] | None = None,
        args: ListArgs | None = None,
        start_cursor: str | None = None,
        max_items: int | None = None,
        max_pages: int | None = None,
        prefetch: int = 1,
        options: RequestOptions | None = None,
    ) -> AsyncPager[T]:
        """A pager over a list operation (used by generated resources); ``args`` are checked now."""
        return AsyncPager(
            ListSource(self._transport, operation, path, options),
            args or ListArgs(),
            operation=operation.id,
            capabilities=operation.capabilities,
            start_cursor=start_cursor,
            max_items=max_items,
            max_pages=max_pages,
            prefetch=prefetch,
        )

    def download(
        self,
        operation: Operation[Any],
        *,
        path: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        args: ListArgs | None = None,
        options: RequestOptions | None = None,
    ) -> BinaryResponse:
        """A binary response to read, stream or save (used by generated resources)."""
        return BinaryResponse(self._transport, operation, self._url(operation, path, query, args), options)

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
        return FanOut(fn, items, concurrency=concurrency, stop_on_error=stop_on_error)
