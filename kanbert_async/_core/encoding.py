"""Pure request building: paths, query strings and form fields exactly as Kanbert expects them."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

import msgspec

from .errors import InvalidRequestError

__all__ = [
    "build_path",
    "encode_form_fields",
    "encode_query_value",
    "flatten_query",
    "is_unset",
    "query_string",
]


def is_unset(value: Any) -> bool:
    """Whether an argument was left out (``None`` for query/form arguments, ``UNSET`` for JSON bodies)."""
    return value is None or value is msgspec.UNSET


def _segment(value: Any, name: str, operation: str) -> str:
    text = str(value.value if isinstance(value, enum.Enum) else value)
    if text == "":
        raise InvalidRequestError(f"{operation}: path parameter {name!r} must not be empty")
    # quote(safe="") encodes '/', '?', '#', '%' and spaces; '.' and '..' are unreserved and would be
    # collapsed by URL normalisation into another path, so encode the dots of such a segment too.
    encoded = quote(text, safe="")
    if encoded in {".", ".."}:
        encoded = encoded.replace(".", "%2E")
    return encoded


def build_path(template: str, params: Mapping[str, Any] | None, operation: str) -> str:
    """``/outgoing-invoices/{id}`` + ``{"id": "a/b"}`` → ``/outgoing-invoices/a%2Fb`` (already encoded)."""
    path = template
    for name, value in (params or {}).items():
        if is_unset(value):
            raise InvalidRequestError(f"{operation}: path parameter {name!r} is required")
        path = path.replace("{" + name + "}", _segment(value, name, operation))
    if "{" in path:
        raise InvalidRequestError(f"{operation}: missing path parameters in {template}")
    return path


def encode_query_value(value: Any) -> str:
    """One scalar as the API reads it: booleans lower-case, enums by value, dates in ISO 8601."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence):
        return ",".join(encode_query_value(v) for v in value)
    return str(value)


def flatten_query(query: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Query pairs: left-out values dropped, mappings as ``name[key]=value``, sequences comma-joined."""
    pairs: list[tuple[str, str]] = []
    for name, value in query.items():
        if is_unset(value):
            continue
        if isinstance(value, Mapping):
            pairs.extend((f"{name}[{key}]", encode_query_value(item)) for key, item in value.items())
        else:
            pairs.append((name, encode_query_value(value)))
    return pairs


def query_string(pairs: Sequence[tuple[str, str]]) -> str:
    """``page[size]=10&sort=-title``: brackets, commas and colons kept readable, the rest percent-encoded.

    A cursor is opaque: ``+``, ``/`` and ``=`` in it are encoded, so they arrive as themselves.
    """
    return urlencode(pairs, safe="[],:")


def _form_scalar(value: Any) -> str:
    # Laravel's `boolean` rule accepts 1/0 but not the strings "true"/"false".
    if isinstance(value, bool):
        return "1" if value else "0"
    return encode_query_value(value)


def encode_form(body: Mapping[str, Any]) -> bytes:
    """An ``application/x-www-form-urlencoded`` body with PHP-style field names."""
    pairs = [pair for name, value in body.items() for pair in encode_form_fields(name, value)]
    return urlencode(pairs).encode()


def encode_form_fields(name: str, value: Any) -> Iterator[tuple[str, str]]:
    """PHP-style nesting for multipart/form fields: ``vats[0][vat]=19``, ``vats[0][value]=38``.

    A field documented with PHP's array suffix (``bookings[]``) repeats that name for each scalar
    item (``bookings[]=a&bookings[]=b``); objects in it are indexed (``bookings[0][amount]``), which
    PHP reads alike and which keeps each object's fields together.
    """
    if is_unset(value):
        return
    if name.endswith("[]") and isinstance(value, Sequence) and not isinstance(value, str | bytes):
        if all(not isinstance(item, Mapping | msgspec.Struct | list | tuple) for item in value):
            for item in value:
                yield name, _form_scalar(item)
            return
        name = name[:-2]
    if isinstance(value, msgspec.Struct):
        value = msgspec.to_builtins(value)
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from encode_form_fields(f"{name}[{key}]", item)
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        for index, item in enumerate(value):
            yield from encode_form_fields(f"{name}[{index}]", item)
    else:
        yield name, _form_scalar(value)
