"""Flatten models to table rows with a fixed, documented set of columns derived from the model types.

Nested objects become dotted columns (``client.name``) up to two levels deep; lists and
free-form objects below that stay in one column (JSON text in a CSV, a typed list or struct in
Parquet); relations exported as tables of their own (line items, discounts, external costs) are
left out of the parent's row.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import msgspec
from msgspec import inspect as mi

__all__ = ["column_types", "columns_for", "lookup", "plain_number", "record_id"]

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


def _columns(info: mi.StructType, prefix: str, depth: int, skip: frozenset[str]) -> list[tuple[str, mi.Type]]:
    columns: list[tuple[str, mi.Type]] = []
    for field in info.fields:
        if not prefix and field.encode_name in skip:
            continue
        name = f"{prefix}{field.encode_name}"
        nested = _struct_of(field.type)
        if nested is not None and depth < _MAX_DEPTH:
            columns.extend(_columns(nested, f"{name}.", depth + 1, skip))
        else:
            columns.append((name, field.type))
    return columns


def column_types(model: type[msgspec.Struct], *, skip: Iterable[str] = ()) -> dict[str, mi.Type]:
    """Each column of ``model`` (as :func:`columns_for` names them) with the type of its values."""
    return dict(_columns(mi.type_info(model), "", 0, frozenset(skip)))  # type: ignore[arg-type]


def columns_for(model: type[msgspec.Struct], *, skip: Iterable[str] = ()) -> list[str]:
    """The columns of ``model``: dotted paths in field order, ``skip`` relations left out."""
    return list(column_types(model, skip=skip))


class _Id(msgspec.Struct):
    id: str


_decode_id = msgspec.json.Decoder(_Id).decode


def record_id(line: bytes) -> str:
    """The ``id`` of a record in a JSON line, without decoding the rest of it."""
    return _decode_id(line).id


def plain_number(value: float) -> str:
    """A float in positional notation (``0.00001``, not ``1e-05``): spreadsheets read it as a number."""
    text = repr(value)
    return format(Decimal(text), "f") if "e" in text or "E" in text else text


def lookup(builtins: dict[str, Any], column: str) -> Any:
    """The value at a dotted column in a model's builtins (None where a level is missing)."""
    value: Any = builtins
    for part in column.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value
