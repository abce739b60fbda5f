"""What a filter means: a filter tree checked against an operation's filter table, compiled to a predicate.

The table is the operation's :class:`~kanbert_async._core.capabilities.Capabilities`: each field's
type decides how values compare (:mod:`.collation`), its operator list which operators it takes.
A comparison with a NULL column is false, ``ne`` and ``nin`` included, as in MySQL.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from kanbert_async._core.capabilities import COMPUTED_PREFIX, Capabilities, FilterField
from kanbert_async._core.filters.dsl import parse_dsl
from kanbert_async._core.filters.json_format import parse_json
from kanbert_async._core.filters.operators import COMPUTED_OPERATORS, RELATION_OPERATORS
from kanbert_async._core.filters.tree import And, Condition, Count, Filter, FilterError, Or

from .collation import KINDS, Context, DayRange, Kind, bad_value, fold, like_regex

__all__ = [
    "ARCHIVED_MODES",
    "ComputedValue",
    "Getter",
    "Predicate",
    "Target",
    "compile_filter",
    "compile_where",
    "read_filter",
    "split_archived",
]

Predicate = Callable[[Any], bool]
Getter = Callable[[Any], Any]

#: The values of the ``archived`` filter; "without" is the default.
ARCHIVED_MODES = ("with", "only", "without")

_PATTERN_OPS = frozenset({"contains", "like", "startswith", "endswith"})


class Target(Protocol):
    """How one list operation reads its rows: fields by dotted path, relations and their items."""

    @property
    def capabilities(self) -> Capabilities:
        """The operation's sorts, includes, filter fields and computed relations."""
        ...

    def getter(self, path: str) -> Getter:
        """A function reading ``path`` (``client.name``) from a row; None along the way gives None."""
        ...

    def relation_items(self, name: str) -> Callable[[Any], Sequence[Any]]:
        """A function giving a row's related items (``line_items``)."""
        ...

    def item_getter(self, relation: str, path: str) -> Getter:
        """A function reading ``path`` from one item of ``relation``."""
        ...


class ComputedValue(Protocol):
    """A computed field declared in the request (see :mod:`.computed`), as filters see it."""

    alias: str

    def value(self, row: Any) -> float | int:
        """The field's value for ``row``."""
        ...


def read_filter(text: str) -> Filter | None:
    """Read a ``filter`` parameter in either format (JSON starts with ``[`` or ``{``); blank → None."""
    stripped = text.strip()
    if not stripped:
        return None
    if stripped[0] in "[{":
        return parse_json(stripped)
    return parse_dsl(stripped)


def split_archived(node: Filter | None) -> tuple[Filter | None, str]:
    """Take the ``archived`` condition out of a filter: it picks the rows, it does not test them.

    It may only appear among the top-level conditions (which are and-ed); returns the rest of the
    filter and the mode (``"without"`` unless asked otherwise).
    """
    if node is None:
        return None, "without"
    top = list(node.nodes) if isinstance(node, And) else [node]
    archived = [n for n in top if isinstance(n, Condition) and n.field == "archived"]
    rest = [n for n in top if not (isinstance(n, Condition) and n.field == "archived")]
    if _mentions_archived(rest):
        raise FilterError("Invalid filter: `archived` can only be used as a top-level condition.")
    if len(archived) > 1:
        raise FilterError("Invalid filter: `archived` is given more than once.")
    mode = "without"
    if archived:
        cond = archived[0]
        if cond.op != "eq":
            raise FilterError(
                f"Operator `{cond.op}` is not allowed for filter `archived`. Allowed operators are `eq`."
            )
        mode = str(cond.value).strip().lower()
        if mode not in ARCHIVED_MODES:
            raise FilterError(
                f"Invalid value for filter `archived`: expected with, only or without, got {cond.value!r}."
            )
    if not rest:
        return None, mode
    return (rest[0] if len(rest) == 1 else And(*rest)), mode


def _mentions_archived(nodes: Sequence[Filter]) -> bool:
    for node in nodes:
        if isinstance(node, Condition) and node.field == "archived":
            return True
        if isinstance(node, And | Or) and _mentions_archived(node.nodes):
            return True
    return False


@dataclasses.dataclass(slots=True)
class _Scope:
    """The fields a (sub)filter may use and how to read them."""

    fields: Mapping[str, FilterField]
    getter: Callable[[str], Getter]
    target: Target | None  # None inside a relation: no nested relations, no computed fields
    computed: Mapping[str, ComputedValue]
    context: Context
    label: str = ""


def compile_filter(
    node: Filter, target: Target, context: Context, computed: Mapping[str, ComputedValue] | None = None
) -> Predicate:
    """Check ``node`` against ``target``'s filter table and return a predicate over its rows."""
    caps = target.capabilities
    scope = _Scope(caps.filter_fields, target.getter, target, computed or {}, context)
    return _compile(node, scope)


def compile_where(
    node: Filter,
    fields: Mapping[str, FilterField],
    getter: Callable[[str], Getter],
    context: Context,
    label: str,
) -> Predicate:
    """A predicate over a relation's items (a computed field's ``where``): its own fields, no nesting."""
    return _compile(node, _Scope(fields, getter, None, {}, context, label))


def _compile(node: Filter, scope: _Scope) -> Predicate:
    if isinstance(node, And | Or):
        parts = tuple(_compile(child, scope) for child in node.nodes)
        if isinstance(node, And):
            return lambda row: all(p(row) for p in parts)
        return lambda row: any(p(row) for p in parts)
    if node.op in RELATION_OPERATORS:
        return _compile_relation(node, scope)
    return _compile_condition(node, scope)


def _field_spec(field: str, op: str, scope: _Scope) -> FilterField:
    spec = scope.fields.get(field)
    if spec is None:
        allowed = ", ".join(sorted(scope.fields))
        raise FilterError(
            f"Requested filter(s) `{field}`{scope.label} are not allowed. Allowed filter(s) are `{allowed}`."
        )
    if not spec.allows(op):
        allowed = ", ".join(sorted(spec.operators))
        where = f"filter `{field}`{scope.label}"
        raise FilterError(f"Operator `{op}` is not allowed for {where}. Allowed operators are `{allowed}`.")
    return spec


def _compile_relation(node: Condition, scope: _Scope) -> Predicate:
    target = scope.target
    count = node.value if isinstance(node.value, Count) else None
    spec = _field_spec(node.field, node.op, scope)
    if not spec.is_relation or target is None:
        raise FilterError(
            f"Operator `{node.op}` needs a relation, but filter `{node.field}` is a {spec.type}."
        )
    nested = count.where if count is not None else node.value
    assert nested is None or isinstance(nested, Condition | And | Or)
    relation = node.field
    items = target.relation_items(relation)
    where: Predicate | None = None
    if nested is not None:
        inner = _Scope(
            spec.sub_field_map(),
            functools.partial(target.item_getter, relation),
            None,
            {},
            scope.context,
            f" in relation `{relation}`",
        )
        where = _compile(nested, inner)
    if count is not None:
        compare = _NUMBER_COMPARE[count.op]
        wanted = count.value
        if where is None:
            return lambda row: compare(len(items(row)), wanted)
        test = where
        return lambda row: compare(sum(1 for item in items(row) if test(item)), wanted)
    if where is None:
        if node.op == "any":
            return lambda row: len(items(row)) > 0
        if node.op == "none":
            return lambda row: len(items(row)) == 0
        return lambda row: True
    test = where
    if node.op == "any":
        return lambda row: any(test(item) for item in items(row))
    if node.op == "none":
        return lambda row: not any(test(item) for item in items(row))
    return lambda row: all(test(item) for item in items(row))


_NUMBER_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
}


def _computed_for(field: str, scope: _Scope) -> ComputedValue | None:
    if scope.target is None:
        return None
    if field.startswith(COMPUTED_PREFIX):
        alias = field[len(COMPUTED_PREFIX) :]
        found = scope.computed.get(alias)
        if found is None:
            raise FilterError(
                f"Invalid filter: computed field `{alias}` is not declared in computed_fields[{alias}]."
            )
        return found
    if field not in scope.fields:
        return scope.computed.get(field)  # bare aliases are still accepted (deprecated)
    return None


def _compile_condition(node: Condition, scope: _Scope) -> Predicate:
    computed = _computed_for(node.field, scope)
    if computed is not None:
        if node.op not in COMPUTED_OPERATORS:
            allowed = ", ".join(sorted(COMPUTED_OPERATORS))
            raise FilterError(
                f"Operator `{node.op}` is not allowed for computed field `{computed.alias}`. "
                f"Allowed operators are `{allowed}`."
            )
        return _scalar(node, computed.value, KINDS["float"], scope.context)
    spec = _field_spec(node.field, node.op, scope)
    if spec.is_relation:
        raise FilterError(
            f"Operator `{node.op}` is not allowed for relation filter `{node.field}`{scope.label}. "
            "Use any, all, none or count."
        )
    if node.field == "archived":
        raise FilterError("Invalid filter: `archived` can only be used as a top-level condition.")
    return _scalar(node, scope.getter(node.field), KINDS.get(spec.type, KINDS["string"]), scope.context)


def _scalar(node: Condition, get: Getter, kind: Kind, ctx: Context) -> Predicate:
    op, field = node.op, node.field
    if op == "isnull":
        return lambda row: get(row) is None
    if op == "isnotnull":
        return lambda row: get(row) is not None
    if op in ("in", "nin"):
        values = node.value if isinstance(node.value, tuple) else (node.value,)
        wanted = frozenset(_point(kind.operand(v, field, ctx)) for v in values if v is not None)
        record = kind.record
        if op == "in":
            return lambda row: (v := get(row)) is not None and record(v) in wanted
        return lambda row: (v := get(row)) is not None and record(v) not in wanted
    if op in _PATTERN_OPS:
        return _pattern(op, node, get, kind)
    operand = kind.operand(node.value, field, ctx)
    record = kind.record
    if isinstance(operand, DayRange):
        return _day_range(op, operand, get, record)
    compare = _NUMBER_COMPARE.get(op)
    if compare is None:
        raise FilterError(f"Operator `{op}` is not allowed for filter `{field}`.")
    return lambda row: (v := get(row)) is not None and compare(record(v), operand)


def _point(operand: Any) -> Any:
    return operand.low if isinstance(operand, DayRange) else operand


def _day_range(op: str, span: DayRange, get: Getter, record: Callable[[Any], Any]) -> Predicate:
    low, high = span.low, span.high
    tests: dict[str, Callable[[Any], bool]] = {
        "eq": lambda v: low <= v < high,
        "ne": lambda v: not low <= v < high,
        "lt": lambda v: v < low,
        "lte": lambda v: v < high,
        "gt": lambda v: v >= high,
        "gte": lambda v: v >= low,
    }
    test = tests[op]
    return lambda row: (v := get(row)) is not None and test(record(v))


def _pattern(op: str, node: Condition, get: Getter, kind: Kind) -> Predicate:
    if isinstance(node.value, tuple) or node.value is None:
        raise bad_value(node.field, "a text", node.value)
    raw = node.value
    if isinstance(raw, bool):
        raw = "1" if raw else "0"
    needle = fold(str(raw))
    text = kind.text if kind.patterns_on_text else kind.record
    if op == "contains":
        return lambda row: (v := get(row)) is not None and needle in text(v)
    if op == "startswith":
        return lambda row: (v := get(row)) is not None and text(v).startswith(needle)
    if op == "endswith":
        return lambda row: (v := get(row)) is not None and text(v).endswith(needle)
    regex = like_regex(needle)
    return lambda row: (v := get(row)) is not None and regex.fullmatch(text(v)) is not None
