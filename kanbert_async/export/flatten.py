"""Flatten models to CSV rows with a fixed, documented set of columns derived from the model types.

Nested objects become dotted columns (``client.name``) up to two levels deep; lists and
free-form objects below that are written as JSON text in one column; relations exported as
files of their own (line items, discounts, external costs) are left out of the parent's row.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec
from msgspec import inspect as mi

__all__ = ["columns_for", "row_for"]

_MAX_DEPTH = 2


def _struct_of(info: mi.Type) -> mi.StructType | None:
    if isinstance(info, mi.StructType):
        return info
    if isinstance(info, mi.UnionType):
        structs = [t for t in info.types if isinstance(t, mi.StructType)]
        others = [t for t in info.types if not isinstance(t, mi.NoneType | mi.StructType)]
        if len(structs) == 1 and not others:
            return structs[0]
    return None


def _columns(info: mi.StructType, prefix: str, depth: int, skip: frozenset[str]) -> list[str]:
    columns: list[str] = []
    for field in info.fields:
        if not prefix and field.encode_name in skip:
            continue
        name = f"{prefix}{field.encode_name}"
        nested = _struct_of(field.type)
        if nested is not None and depth < _MAX_DEPTH:
            columns.extend(_columns(nested, f"{name}.", depth + 1, skip))
        else:
            columns.append(name)
    return columns


def columns_for(model: type[msgspec.Struct], *, skip: Iterable[str] = ()) -> list[str]:
    """The CSV columns of ``model``: dotted paths in field order, ``skip`` relations left out."""
    return _columns(mi.type_info(model), "", 0, frozenset(skip))  # type: ignore[arg-type]


def _cell(value: Any) -> str:
    if value is None or value is msgspec.UNSET:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return msgspec.json.encode(value).decode()
    return str(value)


def row_for(builtins: dict[str, Any], columns: list[str]) -> list[str]:
    """One CSV row: each dotted column looked up in the model's builtins (``msgspec.to_builtins``)."""
    row = []
    for column in columns:
        value: Any = builtins
        for part in column.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        row.append(_cell(value))
    return row
