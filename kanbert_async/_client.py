"""KanbertClient: owns the session, auth and policies, and hosts the generated resources."""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Annotated, Any, TypeVar, get_args, get_origin

import aiohttp
import msgspec

from ._core.auth import Auth, BearerToken
from ._core.encoding import flatten_query, is_unset
from ._core.errors import InvalidRequestError, ResponseDecodeError
from ._core.fanout import FanOut
from ._core.operation import Operation, RequestOptions
from ._core.pagination import AsyncPager, Page
from ._core.ratelimit import RateLimiter, RateLimitInfo
from ._core.retry import RetryPolicy
from ._core.transport import (
    BinaryResponse,
    Response,
    Stats,
    Timeout,
    Transport,
    check_base_url,
    recover_by_lookup,
)
from ._generated.resources import ResourcesMixin
from ._version import __version__
from .filters import Computed, encode_filter, prepare_list_params

__all__ = ["DEFAULT_BASE_URL", "KanbertClient"]

DEFAULT_BASE_URL = "https://api.kanbert.com/api/v1"
#: 10 s to connect, 60 s for a whole attempt.
DEFAULT_TIMEOUT = Timeout()

T = TypeVar("T")
R = TypeVar("R")

_LIST_ARGUMENTS = ("sort", "include", "filter", "computed_fields")


_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def _decoder(model: type[Any]) -> msgspec.json.Decoder[Any]:
    """One decoder per response type, built on first use (building one costs far more than decoding)."""
    decoder = _decoders.get(model)
    if decoder is None:
        decoder = _decoders[model] = msgspec.json.Decoder(model)
    return decoder


_raw_pages: dict[type[Any], tuple[type[Any], type[Any]]] = {}


def _raw_page_type(operation: Operation[Any]) -> tuple[type[Any], type[Any]]:
    """For a page wrapper ``{data: list[Item], ...}``: a twin whose ``data`` holds raw JSON spans
    (``msgspec.Raw``) and whose other fields are the wrapper's, and the item type to decode each
    span into."""
    wrapper = operation.response
    assert wrapper is not None
    cached = _raw_pages.get(wrapper)
    if cached is None:
        fields = msgspec.structs.fields(wrapper)
        data_type = next(f.type for f in fields if f.name == "data")
        if get_origin(data_type) is Annotated:  # Annotated[list[Item], Meta(...)]
            data_type = get_args(data_type)[0]
        (item_type,) = get_args(data_type)
        twin_fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
        for f in fields:
            kind = list[msgspec.Raw] if f.name == "data" else f.type
            has_default = f.default is not msgspec.NODEFAULT
            twin_fields.append((f.name, kind, f.default) if has_default else (f.name, kind))
        raw_page = msgspec.defstruct(
            f"Raw{wrapper.__name__}",
            twin_fields,
            kw_only=True,
            rename={f.name: f.encode_name for f in fields},
        )
        cached = _raw_pages[wrapper] = (raw_page, item_type)
    return cached


def _decode_error(
    operation: Operation[Any], model: type[Any], exc: msgspec.ValidationError, prefix: str = ""
) -> ResponseDecodeError:
    text = str(exc)
    path = text.rsplit(" - at `", 1)[1].rstrip("`") if " - at `" in text else None
    if prefix:
        path = prefix + (path or "$")[1:]
        text = f"{text} (in {prefix})"
    return ResponseDecodeError(
        f"{operation.id}: the response does not match {model.__name__}: {text}. "
        "The API may have changed incompatibly; upgrade kanbert-async or report this with the body.",
        operation=operation.id,
        path=path,
    )


def decode_response(operation: Operation[Any], body: bytes, model: type[Any] | None = None) -> Any:
    """Decode a response body into the operation's model in one pass, naming the operation on failure."""
    model = model or operation.response
    assert model is not None
    try:
        return _decoder(model).decode(body)
    except msgspec.ValidationError as exc:
        raise _decode_error(operation, model, exc) from None
    except msgspec.DecodeError as exc:
        raise ResponseDecodeError(
            f"{operation.id}: the response is not valid JSON ({exc}). Is the base URL a Kanbert API?",
            operation=operation.id,
        ) from None


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
        url = base_url or os.environ.get("KANBERT_BASE_URL") or DEFAULT_BASE_URL
        self._transport = Transport(
            base_url=check_base_url(url, allow_insecure_http=allow_insecure_http),
            auth=auth,
            timeout=timeout if isinstance(timeout, Timeout) else Timeout(total=timeout),
            retry=retry or RetryPolicy(max_retries=max_retries),
            limiter=RateLimiter(rate_limit),
            max_connections=max_connections,
            session=session,
            user_agent=f"kanbert-async/{__version__}",
        )

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
        """Close the connection pool (an injected session is left open)."""
        await self._transport.close()

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

    def _query(self, operation: Operation[Any], query: Mapping[str, Any] | None) -> list[tuple[str, str]]:
        query = dict(query or {})
        special = {name: query.pop(name) for name in _LIST_ARGUMENTS if name in query}
        if operation.capabilities is not None:
            encoded: dict[str, Any] = prepare_list_params(operation.capabilities, **special)
        else:
            encoded = {
                "sort": special.get("sort"),
                "include": special.get("include"),
                "filter": encode_filter(special.get("filter")),
            }
            for alias, value in (special.get("computed_fields") or {}).items():
                encoded[f"computed_fields[{alias}]"] = (
                    value.expression() if isinstance(value, Computed) else value
                )
        return flatten_query({**encoded, **query})

    async def call(
        self,
        operation: Operation[T],
        *,
        path: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        options: RequestOptions | None = None,
    ) -> T:
        """Run ``operation`` and decode its JSON response (used by generated resources)."""
        recover = self._recovery(operation, body)
        response = await self._transport.send(
            operation,
            path=path,
            query=self._query(operation, query),
            body=body,
            options=options,
            recover=recover,
        )
        if operation.response is None:
            # 204 No Content, or a success the description documents without a body.
            return None  # type: ignore[return-value]
        result: T = decode_response(operation, response.body)
        return result

    def _recovery(
        self, operation: Operation[Any], body: Mapping[str, Any] | None
    ) -> Callable[[], Awaitable[Response | None]] | None:
        recovery = operation.recovery
        if recovery is None or body is None or is_unset(body.get(recovery.key_field)):
            return None
        path = {recovery.path_param: body[recovery.key_field]}
        query = dict(recovery.query)
        for body_field, param in recovery.scope_fields.items():
            if not is_unset(body.get(body_field)):
                query[param] = body[body_field]
        pairs = flatten_query(query)
        return functools.partial(recover_by_lookup, self._transport, recovery.lookup, path, pairs)

    def paginate(
        self,
        operation: Operation[T],
        *,
        path: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        start_cursor: str | None = None,
        max_items: int | None = None,
        max_pages: int | None = None,
        prefetch: int = 1,
        options: RequestOptions | None = None,
    ) -> AsyncPager[T]:
        """A pager over a list operation (used by generated resources)."""

        async def send(page_query: Mapping[str, Any], cursor: str | None) -> bytes:
            pairs = self._query(operation, page_query)
            if cursor is not None:
                pairs.append((operation.cursor_param, cursor))
            return (await self._transport.send(operation, path=path, query=pairs, options=options)).body

        # The last body is let go only when the next one has arrived. Freed just before the next
        # read, a page-sized block at the top of glibc's heap is trimmed and faulted back in for
        # every page: ~150 extra page faults and a fifth more CPU per page (BENCHMARKS.md, bench 2).
        # Holding one body per listing costs less than its decoded page.
        last_body = b""

        async def fetch(page_query: Mapping[str, Any], cursor: str | None) -> Page[T]:
            nonlocal last_body
            body = await send(page_query, cursor)
            decoded = decode_response(operation, body)
            last_body = body
            paging = operation.paging
            return Page(decoded.data, cursor, paging.next_cursor(decoded), paging.meta_of(decoded))

        async def fetch_raw(page_query: Mapping[str, Any], cursor: str | None) -> Page[T]:
            raw_page, item_type = _raw_page_type(operation)
            body = await send(page_query, cursor)
            decoded = decode_response(operation, body, raw_page)
            item_decoder = _decoder(item_type)
            items = []
            for index, raw in enumerate(decoded.data):
                try:
                    items.append(item_decoder.decode(raw))
                except msgspec.ValidationError as exc:
                    raise _decode_error(operation, item_type, exc, prefix=f"$.data[{index}]") from None
            paging = operation.paging
            return Page(
                items, cursor, paging.next_cursor(decoded), paging.meta_of(decoded), raw=list(decoded.data)
            )

        # Check the arguments now, so a typo fails at the call, not at the first iteration.
        self._query(operation, query)
        return AsyncPager(
            fetch,
            query or {},
            operation=operation.id,
            capabilities=operation.capabilities,
            start_cursor=start_cursor,
            max_items=max_items,
            max_pages=max_pages,
            prefetch=prefetch,
            fetch_raw=fetch_raw,
        )

    def download(
        self,
        operation: Operation[Any],
        *,
        path: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        options: RequestOptions | None = None,
    ) -> BinaryResponse:
        """A binary response to read, stream or save (used by generated resources)."""
        return BinaryResponse(self._transport, operation, path, self._query(operation, query), options)

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
