"""Operations the description does not have (yet): built from a method and a path at the call.

``kb.request("GET", "/projects/{id}", path={"id": ...}, cast_to=Project)`` and
``kb.paginate("GET", "/projects", item=Project)`` make an :class:`~.operation.Operation` here and
run it like a generated one. A listing's page is Kanbert's cursor page, ``{data: [...], meta:
{next_cursor, ...}}``, decoded straight into the caller's item type.
"""

from __future__ import annotations

from typing import Any

import msgspec

from .errors import InvalidRequestError
from .operation import Operation

__all__ = ["CursorMeta", "adhoc_operation", "page_of"]

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


class CursorMeta(msgspec.Struct, kw_only=True):
    """The ``meta`` of a Laravel cursor page (other keys are ignored)."""

    next_cursor: str | None = None
    prev_cursor: str | None = None
    per_page: int | None = None
    path: str | None = None


_pages: dict[Any, type[msgspec.Struct]] = {}


def page_of(item: Any) -> type[msgspec.Struct]:
    """The cursor page type whose ``data`` holds ``item``s (one type per item type, so its decoder
    is built once)."""
    found = _pages.get(item)
    if found is None:
        name = getattr(item, "__name__", "Item")
        found = _pages[item] = msgspec.defstruct(
            f"{name}CursorPage", [("data", list[item]), ("meta", CursorMeta)], kw_only=True
        )
    return found


def adhoc_operation(method: str, template: str, *, response: Any, body: bool) -> Operation[Any]:
    """An operation for ``method`` on ``template`` (``/projects/{id}``), relative to the base URL."""
    verb = method.upper()
    if verb not in _METHODS:
        raise InvalidRequestError(f"request: unknown HTTP method {method!r}; use one of {sorted(_METHODS)}")
    if not template.startswith("/") or "://" in template or "?" in template:
        raise InvalidRequestError(
            f"request: the path {template!r} must start with '/' and be relative to the base URL "
            "(e.g. '/projects/{id}'); put query parameters in query="
        )
    return Operation(
        id=f"{verb} {template}", method=verb, path=template, response=response, body="json" if body else None
    )
