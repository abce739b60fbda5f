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
from typing import Any, Generic, Literal, TypeVar

from .capabilities import Capabilities

__all__ = ["DuplicateCheck", "FileInput", "Operation", "RequestOptions", "with_extras"]

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


@dataclass(frozen=True, slots=True, kw_only=True)
class Operation(Generic[T]):
    """One API operation as the description defines it."""

    id: str
    method: str
    path: str
    #: Decode target of a JSON response (the page type for paginated lists); None for binary.
    #: ``T`` is what the caller gets: the model, or for paginated lists the item type.
    response: type[Any] | None = None
    body: Literal["json", "multipart"] | None = None
    #: Multipart file fields and the largest size the API accepts for each, in bytes.
    file_limits: Mapping[str, int] = field(default_factory=dict)
    scopes: tuple[str, ...] = ()
    capabilities: Capabilities | None = None
    #: For a create whose body carries a unique key: how to check it did not happen already.
    duplicate_check: DuplicateCheck | None = None
    cursor_param: str = "page[cursor]"
    page_size_param: str = "page[size]"


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
