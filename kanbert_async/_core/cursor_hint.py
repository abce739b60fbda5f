"""The next page's cursor read from a list response's bytes before they are decoded — a hint.

A cursor chain can send its next request only once it knows the next cursor, and the cursor sits
in the body: a plain loop decodes the whole page (a millisecond for a hundred invoices) before the
next request leaves. Laravel puts ``meta`` (and a bare paginator its ``next_cursor``) after
``data``, so the last ``"next_cursor": "…"`` in the body is, on every server we know, the page's.
The pager sends the next request on that hint, decodes the page while the server works, and
compares the hint with the decoded cursor: a wrong hint costs one discarded request, never a
wrong page.
"""

from __future__ import annotations

import re
import types
from typing import TYPE_CHECKING, Annotated, Any, Union, get_args, get_origin

import msgspec

if TYPE_CHECKING:
    from .operation import Operation

__all__ = ["next_cursor_hint"]

#: After a key: the colon and a JSON string (escapes included). ``null`` or a number does not match.
_STRING_VALUE = re.compile(rb'\s*:\s*("(?:[^"\\]|\\.)*")')

#: (response model, path of the cursor) → the cursor's JSON key with its quotes, or None.
_keys: dict[tuple[Any, tuple[str, ...]], bytes | None] = {}


def next_cursor_hint(operation: Operation[Any], body: bytes) -> str | None:
    """The cursor the body most likely names as the next page's; None when it cannot tell."""
    key = _cursor_key(operation)
    if key is None:
        return None
    at = body.rfind(key)
    if at < 0:
        return None
    value = _STRING_VALUE.match(body, at + len(key))
    if value is None:
        return None
    try:
        return msgspec.json.decode(value.group(1), type=str)
    except msgspec.DecodeError:
        return None


def _cursor_key(operation: Operation[Any]) -> bytes | None:
    """The JSON key the operation's responses send the next cursor under (the model may rename
    it), quoted as it appears in a body; None for page numbers or a response that is no Struct."""
    paging = operation.paging
    if paging.current is not None:  # page numbers: the next one is computed, not sent
        return None
    cache = (operation.response, paging.next)
    if cache not in _keys:
        _keys[cache] = _json_key(operation.response, paging.next)
    return _keys[cache]


def _json_key(model: Any, path: tuple[str, ...]) -> bytes | None:
    name = None
    for attribute in path:
        struct = _struct_in(model)
        if struct is None:
            return None
        found = next((f for f in msgspec.structs.fields(struct) if f.name == attribute), None)
        if found is None:
            return None
        name, model = found.encode_name, found.type
    return None if name is None else msgspec.json.encode(name)


def _struct_in(kind: Any) -> type[msgspec.Struct] | None:
    """The Struct a field holds: ``Meta``, ``Meta | None``, ``Annotated[Meta, ...]``."""
    if get_origin(kind) is Annotated:
        kind = get_args(kind)[0]
    options = get_args(kind) if get_origin(kind) in (Union, types.UnionType) else (kind,)
    return next((o for o in options if isinstance(o, type) and issubclass(o, msgspec.Struct)), None)
