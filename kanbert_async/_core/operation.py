"""The one narrow interface between generated endpoint stubs and the hand-written core.

A generated stub describes its operation once, as an :class:`Operation` constant, and hands the
caller's arguments to an :class:`OperationRunner` (the client). Everything else — auth, query
encoding, retries, rate limiting, decoding, pagination — happens behind that interface.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass, field
from os import PathLike
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

if TYPE_CHECKING:
    from .capabilities import Capabilities
    from .pagination import AsyncPager
    from .transport import BinaryResponse

__all__ = ["FileInput", "Operation", "OperationRunner", "Paging", "Recovery", "RequestOptions"]

T = TypeVar("T")

#: What a multipart file field accepts: bytes, a filesystem path, or an async stream of chunks.
FileInput = bytes | str | PathLike[str] | AsyncIterable[bytes]


@dataclass(frozen=True, slots=True)
class Recovery:
    """How to tell, after an ambiguous failure, whether a create already happened.

    The create's body carries a caller-chosen unique key (``key_field``); ``lookup`` finds a record
    by it. If the lookup finds the record, the create succeeded and its result is returned instead
    of creating a duplicate; if it answers 404, the create provably did not happen and may be sent again.
    """

    lookup: Operation[Any]
    key_field: str
    path_param: str
    query: Mapping[str, str] = field(default_factory=dict)
    #: Body field → lookup query parameter carrying the key's namespace (e.g. the integration origin).
    scope_fields: Mapping[str, str] = field(default_factory=dict)


def _attribute(value: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        value = getattr(value, name, None)
    return value


@dataclass(frozen=True, slots=True, kw_only=True)
class Paging:
    """Where a decoded list response names the next page: data, so one pager serves every shape.

    A cursor paginator names the next cursor at ``next`` (``meta.next_cursor`` in a Laravel resource
    collection, ``next_cursor`` in a bare ``CursorPaginator``). A page-numbered paginator
    (``LengthAwarePaginator``, ``Paginator``) has ``current`` set: the next page is ``current + 1``
    while ``current < last`` (when ``last`` is documented) or while ``more`` (``next_page_url``) is
    not null. ``meta`` is the part of the response a :class:`~kanbert_async.Page` carries as ``meta``
    (``()``: the whole response).
    """

    next: tuple[str, ...] = ("meta", "next_cursor")
    current: tuple[str, ...] | None = None
    last: tuple[str, ...] | None = None
    more: tuple[str, ...] | None = None
    meta: tuple[str, ...] = ("meta",)

    def next_cursor(self, page: Any) -> str | None:
        """The cursor (or page number, as text) of the page after ``page``; None on the last page."""
        if self.current is None:
            cursor = _attribute(page, self.next)
            return None if cursor is None else str(cursor)
        current = _attribute(page, self.current)
        if not isinstance(current, int):
            return None
        if self.last is not None:
            last = _attribute(page, self.last)
            return str(current + 1) if isinstance(last, int) and current < last else None
        if self.more is not None and _attribute(page, self.more) is not None:
            return str(current + 1)
        return None

    def meta_of(self, page: Any) -> Any:
        """What :attr:`Page.meta <kanbert_async.Page.meta>` holds for this response."""
        return _attribute(page, self.meta)


@dataclass(frozen=True, slots=True, kw_only=True)
class Operation(Generic[T]):
    """One API operation as the description defines it."""

    id: str
    method: str
    path: str
    #: Decode target of a JSON response (the page type for paginated lists): a model, ``list[X]``,
    #: a scalar type or a union; None for binary responses and for responses without a body (the
    #: call returns None). ``T`` is what the caller gets: that type, or for lists the item type.
    response: Any = None
    binary: bool = False
    paginated: bool = False
    body: Literal["json", "form", "multipart"] | None = None
    #: The ``Accept`` header: the documented media types, JSON kept for error bodies.
    accept: str = "application/json"
    #: Multipart file fields.
    files: tuple[str, ...] = ()
    #: Multipart file fields whose size the API limits, and that limit in bytes.
    file_limits: Mapping[str, int] = field(default_factory=dict)
    scopes: tuple[str, ...] = ()
    capabilities: Capabilities | None = None
    recovery: Recovery | None = None
    #: The query parameter a list sends the cursor (or page number) in, and where its responses
    #: name the next one.
    cursor_param: str = "page[cursor]"
    paging: Paging = field(default_factory=Paging)

    @property
    def idempotent(self) -> bool:
        """Whether sending the request twice has the effect of sending it once (RFC 9110)."""
        return self.method in {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestOptions:
    """Per-call overrides of the client's defaults.

    ``timeout``: total seconds for one attempt; ``connect_timeout``: seconds to connect;
    ``max_retries``: retry budget for this call; ``deadline``: overall seconds for the call,
    retries included; ``headers``: extra request headers.
    """

    timeout: float | None = None
    connect_timeout: float | None = None
    max_retries: int | None = None
    deadline: float | None = None
    headers: Mapping[str, str] | None = None


class OperationRunner(Protocol):
    """What generated resources need from the client: three ways to run an operation."""

    async def call(
        self,
        operation: Operation[T],
        *,
        path: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        options: RequestOptions | None = None,
    ) -> T:
        """Send the request and decode the JSON response into ``operation.response``."""
        ...

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
        """A pager over a cursor-paginated list operation."""
        ...

    def download(
        self,
        operation: Operation[Any],
        *,
        path: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        options: RequestOptions | None = None,
    ) -> BinaryResponse:
        """A binary response, to be streamed, saved or read."""
        ...
