"""What generated stubs say about an operation: :class:`Operation`, and the per-call :class:`RequestOptions`.

A generated stub describes its operation once, as an :class:`Operation` constant, and hands it
with the caller's arguments to the client (see :mod:`.resource`). Everything else — auth, query
encoding, retries, rate limiting, decoding, pagination — happens behind that interface.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass, field
from os import PathLike
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

if TYPE_CHECKING:
    from .capabilities import Capabilities

__all__ = ["DuplicateCheck", "FileInput", "Operation", "Paging", "RequestOptions", "with_extras"]

T = TypeVar("T")

#: What a multipart file field accepts: bytes, a filesystem path, or an async stream of chunks.
FileInput = bytes | str | PathLike[str] | AsyncIterable[bytes]


@dataclass(frozen=True, slots=True)
class DuplicateCheck:
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
    body: Literal["json", "form", "multipart"] | None = None
    #: The ``Accept`` header: the documented media types, JSON kept for error bodies.
    accept: str = "application/json"
    #: Multipart file fields.
    files: tuple[str, ...] = ()
    #: Multipart file fields whose size the API limits, and that limit in bytes.
    file_limits: Mapping[str, int] = field(default_factory=dict)
    scopes: tuple[str, ...] = ()
    capabilities: Capabilities | None = None
    #: For a create whose body carries a unique key: how to check it did not happen already.
    duplicate_check: DuplicateCheck | None = None
    #: The query parameter a list sends the cursor (or page number) in, and where its responses
    #: name the next one.
    cursor_param: str = "page[cursor]"
    page_size_param: str = "page[size]"
    paging: Paging = field(default_factory=Paging)


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestOptions:
    """Per-call overrides of the client's defaults.

    ``timeout``: total seconds for one attempt; ``connect_timeout``: seconds to connect;
    ``max_retries``: retry budget for this call; ``deadline``: overall seconds for the call,
    retries included; ``headers``: extra request headers; ``query``: extra query parameters
    (every page of a listing gets them); ``body``: extra body fields, merged over the method's.
    Generated methods fill the last three from ``extra_headers``, ``extra_query``, ``extra_body``.
    """

    timeout: float | None = None
    connect_timeout: float | None = None
    max_retries: int | None = None
    deadline: float | None = None
    headers: Mapping[str, str] | None = None
    query: Mapping[str, Any] | None = None
    body: Mapping[str, Any] | None = None


def with_extras(
    options: RequestOptions | None,
    extra_query: Mapping[str, Any] | None,
    extra_headers: Mapping[str, str] | None,
    extra_body: Mapping[str, Any] | None,
) -> RequestOptions | None:
    """``options`` with a generated method's ``extra_*`` arguments added (over any already there).

    Example: ``kb.outgoing_invoices.get(id, extra_query={"beta": "1"})`` sends ``?beta=1`` too.
    """
    if extra_query is None and extra_headers is None and extra_body is None:
        return options
    base = options or RequestOptions()
    return dataclasses.replace(
        base,
        query={**(base.query or {}), **(extra_query or {})} if extra_query is not None else base.query,
        headers={**(base.headers or {}), **(extra_headers or {})}
        if extra_headers is not None
        else base.headers,
        body={**(base.body or {}), **(extra_body or {})} if extra_body is not None else base.body,
    )
