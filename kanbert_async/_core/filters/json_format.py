"""The reader of the API's JSON filter format (what :func:`.encode.encode_filter` writes), into the tree.

Both formats (JSON here, the string DSL in :mod:`.dsl`) are read into the same tree, so one
evaluator gives them the same meaning. Values stay as written (strings, ``Decimal`` numbers,
integers, booleans, None; a list as a tuple); what they mean depends on the field's type, which
the reader does not know.

The format:

- a list of nodes: all must match;
- ``{"and": [...]}`` / ``{"or": [...]}``: a group;
- ``{"field": "title", "op": "contains", "value": "Acme"}``: a condition (``value`` may be left
  out for ``isnull``/``isnotnull``);
- relation conditions: ``{"field": "line_items", "op": "any"|"all"|"none", "value": <nested
  filter, [] or null>}`` and ``{"field": "line_items", "op": "count", "value": {"op": "gte",
  "value": 3, "filter": <nested filter, optional>}}``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from .operators import COUNT_OPERATORS, RELATION_OPERATORS, canonical_operator
from .tree import And, Condition, Count, Filter, FilterError, Or

__all__ = ["parse_json"]

_json_decoder = msgspec.json.Decoder(float_hook=Decimal)


def parse_json(text: str) -> Filter:
    """Read a JSON filter; raises :class:`FilterError` for anything that is not one."""
    try:
        data = _json_decoder.decode(text.encode())
    except msgspec.DecodeError as exc:
        raise FilterError(f"Invalid filter: the JSON cannot be parsed ({exc}).") from None
    return _node(data, "filter")


def _node(data: Any, where: str) -> Filter:
    if isinstance(data, list):
        if not data:
            raise FilterError(f"Invalid filter: {where} is an empty list.")
        return _group_of("and", tuple(_node(item, f"{where}[{n}]") for n, item in enumerate(data)))
    if not isinstance(data, dict):
        raise FilterError(f"Invalid filter: {where} must be a condition object or a list of them.")
    if "field" not in data:
        return _group(data, where)
    field, op = data.get("field"), data.get("op")
    if not isinstance(field, str) or not field.strip():
        raise FilterError(f"Invalid filter: {where}.field must be a non-empty string.")
    if not isinstance(op, str) or not op.strip():
        raise FilterError(f"Invalid filter: {where}.op must be an operator name.")
    unknown = set(data) - {"field", "op", "value"}
    if unknown:
        raise FilterError(f"Invalid filter: {where} has unknown keys {', '.join(sorted(unknown))}.")
    field, op = field.strip(), canonical_operator(op)
    value = data.get("value")
    if op == "count":
        return _count(field, value, f"{where}.value")
    if op in RELATION_OPERATORS:
        nested = None if value is None or value == [] else _node(value, f"{where}.value")
        return Condition(field, op, nested)
    return Condition(field, op, _scalars(field, value))


def _group(data: dict[str, Any], where: str) -> Filter:
    if len(data) != 1 or next(iter(data)).lower() not in ("and", "or"):
        raise FilterError(
            f"Invalid filter: {where} must be a condition with field, op and value, "
            'or a group {"and": [...]} / {"or": [...]}.'
        )
    kind, items = next(iter(data.items()))
    if not isinstance(items, list) or not items:
        raise FilterError(f"Invalid filter: {where}.{kind} must be a non-empty list.")
    return _group_of(kind.lower(), tuple(_node(item, f"{where}.{kind}[{n}]") for n, item in enumerate(items)))


def _group_of(kind: str, nodes: tuple[Filter, ...]) -> Filter:
    # A group of one is that one node: the same tree the DSL gives for the same filter.
    if len(nodes) == 1:
        return nodes[0]
    return And(*nodes) if kind == "and" else Or(*nodes)


def _scalars(field: str, value: Any) -> Any:
    """A condition's value: a scalar, or a list of scalars (kept as a tuple)."""
    if isinstance(value, list):
        for item in value:
            if isinstance(item, list | dict):
                raise FilterError(
                    f"Invalid value for filter `{field}`: expected plain values, got {value!r}."
                )
        return tuple(value)
    if isinstance(value, dict):
        raise FilterError(f"Invalid value for filter `{field}`: expected a single value, got {value!r}.")
    return value


def _count(field: str, value: Any, where: str) -> Condition:
    if not isinstance(value, dict) or "op" not in value or "value" not in value:
        raise FilterError(f'Invalid filter: {where} must be {{"op": ..., "value": <number>, "filter": ...}}.')
    unknown = set(value) - {"op", "value", "filter"}
    if unknown:
        raise FilterError(f"Invalid filter: {where} has unknown keys {', '.join(sorted(unknown))}.")
    op = canonical_operator(str(value["op"]))
    if op not in COUNT_OPERATORS:
        raise FilterError(f"Invalid filter: {where}.op must be one of {', '.join(sorted(COUNT_OPERATORS))}.")
    number = value["value"]
    if isinstance(number, Decimal) and number == number.to_integral_value():
        number = int(number)
    if isinstance(number, bool) or not isinstance(number, int) or number < 0:
        raise FilterError(f"Invalid filter: {where}.value must be a whole number >= 0.")
    nested = value.get("filter")
    inner = None if nested is None or nested == [] else _node(nested, f"{where}.filter")
    return Condition(field, "count", Count(op, number, inner))
