"""Writing a filter tree for the wire: the API's JSON (the ``filter`` parameter) and its string DSL.

JSON is what list calls send: values travel as JSON data, never spliced into query text. The DSL
is written only where the API accepts nothing else (the ``where`` of a computed field).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from enum import Enum

import msgspec

from ..errors import InvalidRequestError
from .operators import RELATION_OPERATORS, canonical_operator
from .tree import DSL_STRING_MIX, And, Condition, Filter, Node, Or, SpecialValue

__all__ = ["DSL_FIELD_RE", "and_", "encode_filter", "to_dsl"]

# Decimals go out as JSON numbers with every digit kept (msgspec's default would quote them).
_encoder = msgspec.json.Encoder(decimal_format="number")


def encode_filter(filter: Filter | str | None) -> str | None:
    """The ``filter`` query parameter's value: compact JSON for a filter tree.

    A DSL string is returned unchanged; ``None`` and an empty ``And()`` give ``None`` (no filter).

    Example: ``encode_filter(F("title") == "x")`` → ``'[{"field":"title","op":"eq","value":"x"}]'``.
    """
    if filter is None or isinstance(filter, str):
        return filter
    if not isinstance(filter, Node):
        raise TypeError(f"a filter is built with F(...) or written as a DSL string, got {filter!r}")
    if isinstance(filter, And) and not filter.nodes:
        return None
    return _encoder.encode(filter.to_json()).decode()


def and_(a: Filter | str | None, b: Filter | str | None) -> Filter | str | None:
    """Both filters must match; either may be ``None`` (then the other is returned as is).

    Two filter trees give ``a & b``. A DSL string cannot be combined with another filter without
    parsing it, so that raises :class:`InvalidRequestError`; build both with ``F(...)`` instead.
    """
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, str) or isinstance(b, str):
        raise InvalidRequestError(DSL_STRING_MIX)
    return a & b


DSL_FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def _dsl_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _dsl_value(value: object) -> str:
    if isinstance(value, SpecialValue):
        return value.token
    if isinstance(value, Enum):
        return _dsl_value(value.value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        value = Decimal(repr(value))  # plain digits: the DSL is not known to read 1e+20
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return _dsl_string(value.isoformat())
    if isinstance(value, str):
        return _dsl_string(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_dsl_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} in the filter DSL")


def to_dsl(filter: Filter) -> str:
    """The filter in the API's string DSL, values double-quoted with ``\\`` and ``"`` escaped.

    Used for the ``where`` of computed fields, which only accept the DSL. Relation conditions
    (any/all/none/count) have no known DSL form and raise :class:`InvalidRequestError`.

    Example: ``to_dsl(F("title").contains('say "hi"') & (F("amount") > 2))`` →
    ``'title contains "say \\"hi\\"" and amount gt 2'``.
    """
    if isinstance(filter, Condition):
        if not DSL_FIELD_RE.fullmatch(filter.field):
            raise InvalidRequestError(f"field name {filter.field!r} cannot be written in the filter DSL")
        op = canonical_operator(filter.op)
        if op in RELATION_OPERATORS:
            raise InvalidRequestError(
                f"'{filter.field} {filter.op} ...' cannot be written in the filter DSL; "
                "relation conditions are only available in JSON filters"
            )
        if op == "isnull":
            return f"{filter.field} is null"
        if op == "isnotnull":
            return f"{filter.field} is not null"
        return f"{filter.field} {filter.op} {_dsl_value(filter.value)}"
    if isinstance(filter, And | Or):
        joiner = " and " if isinstance(filter, And) else " or "
        parts = [f"({to_dsl(n)})" if isinstance(n, And | Or) else to_dsl(n) for n in filter.nodes]
        return joiner.join(parts)
    raise TypeError(f"not a filter node: {filter!r}")
