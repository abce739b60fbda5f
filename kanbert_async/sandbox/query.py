"""What a filter means: nodes checked against an operation's filter table and compiled to predicates.

The table comes from ``kanbert_async._generated.capabilities`` at runtime (never restated here):
each field's type decides how values compare, its operator list which operators it takes.

Semantics follow MySQL, which Kanbert runs on:

- strings (and enums) compare case- and accent-insensitively (``utf8mb4_0900_ai_ci``), so do
  ``contains``/``startswith``/``endswith``/``like`` (``%`` and ``_`` wildcards, ``\\`` escapes);
- a comparison with a NULL column is false, ``ne`` and ``nin`` included; ``eq null`` is ``is null``;
- ``date`` fields compare on the date part, ``datetime`` fields as instants (naive values are UTC);
- ``currency``/``float`` compare as exact decimals; their text (for ``contains`` and friends) is
  the decimal as MySQL prints it (currency with two places);
- special values: ``me.id`` on id fields; ``now``, ``today``, ``today±Nd``, ``sow``/``eow``,
  ``som``/``eom`` on date and datetime fields (``eq today`` on a datetime is the whole day).

Computed fields (``computed_fields[alias]=relation.aggregate(args)``) are parsed here too.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any, Protocol

from kanbert_async._core.capabilities import COMPUTED_PREFIX, Capabilities, FilterField
from kanbert_async._core.filter_syntax import parse_dsl, split_top_level

from .nodes import Cond, FilterError, Group, Node, Relation, RelCount, parse_json

__all__ = [
    "ARCHIVED_MODES",
    "ComputedField",
    "Context",
    "Predicate",
    "Target",
    "compile_filter",
    "fold",
    "parse_computed",
    "parse_filter",
    "split_archived",
]

Predicate = Callable[[Any], bool]
Getter = Callable[[Any], Any]

#: The values of the ``archived`` filter; "without" is the default.
ARCHIVED_MODES = ("with", "only", "without")

_COMPUTED_OPERATORS = frozenset({"eq", "ne", "lt", "lte", "gt", "gte", "in", "nin", "isnull", "isnotnull"})
_NUMERIC_TYPES = frozenset({"currency", "float", "integer"})
_PATTERN_OPS = frozenset({"contains", "like", "startswith", "endswith"})
_RELATIVE_DAY_RE = re.compile(r"^today([+-]\d+)d$")


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


@dataclasses.dataclass(frozen=True, slots=True)
class Context:
    """Who is asking and when: what ``me.id`` and ``now`` resolve to."""

    me_id: str
    now: datetime


# -- collation and value kinds ------------------------------------------------------------------


@functools.lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """A string's comparison key under an accent- and case-insensitive collation."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _like_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            out.append(re.escape(next(chars, "\\")))
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL)


@dataclasses.dataclass(frozen=True, slots=True)
class _DayRange:
    """A whole day (or more) as ``[low, high)``: what ``today`` means to a datetime ``eq``."""

    low: datetime
    high: datetime


class _Kind:
    """How one field type turns a record value and a filter value into comparable things."""

    name = "string"

    def record(self, value: Any) -> Any:
        if isinstance(value, Enum):
            value = value.value
        return fold(str(value))

    def text(self, value: Any) -> str:
        return self.record(value)  # type: ignore[no-any-return]

    def operand(self, value: Any, field: str, ctx: Context) -> Any:
        if isinstance(value, list | dict):
            raise _bad_value(field, "a single value", value)
        if isinstance(value, bool):
            value = "1" if value else "0"
        return fold(str(value))


class _IdKind(_Kind):
    name = "id"

    def record(self, value: Any) -> Any:
        return str(value)

    def operand(self, value: Any, field: str, ctx: Context) -> Any:
        if isinstance(value, list | dict | bool):
            raise _bad_value(field, "an id", value)
        text = str(value)
        return ctx.me_id if text.lower() == "me.id" else text


class _BoolKind(_Kind):
    name = "boolean"

    def record(self, value: Any) -> Any:
        return bool(value)

    def text(self, value: Any) -> str:
        return "1" if value else "0"

    def operand(self, value: Any, field: str, ctx: Context) -> Any:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true"):
            return True
        if text in ("0", "false"):
            return False
        raise _bad_value(field, "true or false", value)


class _NumberKind(_Kind):
    name = "number"

    def __init__(self, places: int | None) -> None:
        self.places = places

    def record(self, value: Any) -> Any:
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)

    def text(self, value: Any) -> str:
        number = self.record(value)
        return format(number, f".{self.places}f") if self.places is not None else format(number, "f")

    def operand(self, value: Any, field: str, ctx: Context) -> Any:
        if isinstance(value, bool | list | dict):
            raise _bad_value(field, "a number", value)
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise _bad_value(field, "a number", value) from None
        if not number.is_finite():
            raise _bad_value(field, "a finite number", value)
        return number


class _DateKind(_Kind):
    name = "date"

    def record(self, value: Any) -> Any:
        return value.date() if isinstance(value, datetime) else value

    def text(self, value: Any) -> str:
        return str(self.record(value).isoformat())

    def operand(self, value: Any, field: str, ctx: Context) -> Any:
        if not isinstance(value, str):
            raise _bad_value(field, "a date (YYYY-MM-DD)", value)
        special = _special_day(value, ctx)
        if special is not None:
            return special
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise _bad_value(field, "a date (YYYY-MM-DD)", value) from None


class _DateTimeKind(_Kind):
    name = "datetime"

    def record(self, value: Any) -> Any:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        return datetime.combine(value, time(), tzinfo=UTC)

    def text(self, value: Any) -> str:
        return str(self.record(value).isoformat())

    def operand(self, value: Any, field: str, ctx: Context) -> Any:
        if not isinstance(value, str):
            raise _bad_value(field, "a date-time (ISO 8601)", value)
        low = value.strip().lower()
        if low == "now":
            return ctx.now
        day = _special_day(value, ctx)
        if day is not None:
            start = datetime.combine(day, time(), tzinfo=UTC)
            if low == "today" or _RELATIVE_DAY_RE.match(low):
                return _DayRange(start, start + timedelta(days=1))
            if low in ("eow", "eom"):
                return start + timedelta(days=1) - timedelta(microseconds=1)
            return start
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise _bad_value(field, "a date-time (ISO 8601)", value) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _special_day(value: str, ctx: Context) -> date | None:
    low = value.strip().lower()
    today = ctx.now.date()
    if low in ("today", "now"):
        return today
    relative = _RELATIVE_DAY_RE.match(low)
    if relative:
        return today + timedelta(days=int(relative.group(1)))
    if low == "sow":
        return today - timedelta(days=today.weekday())
    if low == "eow":
        return today + timedelta(days=6 - today.weekday())
    if low == "som":
        return today.replace(day=1)
    if low == "eom":
        next_month = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
        return next_month - timedelta(days=1)
    return None


_KINDS: dict[str, _Kind] = {
    "string": _Kind(),
    "enum": _Kind(),
    "unknown": _Kind(),
    "id": _IdKind(),
    "boolean": _BoolKind(),
    "currency": _NumberKind(2),
    "float": _NumberKind(None),
    "integer": _NumberKind(0),
    "date": _DateKind(),
    "datetime": _DateTimeKind(),
}


def _bad_value(field: str, expected: str, value: Any) -> FilterError:
    return FilterError(f"Invalid value for filter `{field}`: expected {expected}, got {value!r}.")


# -- compiling ----------------------------------------------------------------------------------


def parse_filter(text: str) -> Node | None:
    """Read a ``filter`` parameter in either format (JSON starts with ``[`` or ``{``); blank → None."""
    stripped = text.strip()
    if not stripped:
        return None
    if stripped[0] in "[{":
        return parse_json(stripped)
    return parse_dsl(stripped)


def split_archived(node: Node | None) -> tuple[Node | None, str]:
    """Take the ``archived`` condition out of a filter: it picks the rows, it does not test them.

    It may only appear among the top-level conditions (which are and-ed); returns the rest of the
    filter and the mode (``"without"`` unless asked otherwise).
    """
    if node is None:
        return None, "without"
    top = list(node.nodes) if isinstance(node, Group) and node.kind == "and" else [node]
    archived = [n for n in top if isinstance(n, Cond) and n.field == "archived"]
    rest = [n for n in top if not (isinstance(n, Cond) and n.field == "archived")]
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
    return (rest[0] if len(rest) == 1 else Group("and", tuple(rest))), mode


def _mentions_archived(nodes: Sequence[Node]) -> bool:
    for node in nodes:
        if isinstance(node, Cond) and node.field == "archived":
            return True
        if isinstance(node, Group) and _mentions_archived(node.nodes):
            return True
    return False


@dataclasses.dataclass(slots=True)
class _Scope:
    """The fields a (sub)filter may use and how to read them."""

    fields: Mapping[str, FilterField]
    getter: Callable[[str], Getter]
    target: Target | None  # None inside a relation: no nested relations, no computed fields
    computed: Mapping[str, ComputedField]
    context: Context
    label: str = ""


def compile_filter(
    node: Node, target: Target, context: Context, computed: Mapping[str, ComputedField] | None = None
) -> Predicate:
    """Check ``node`` against ``target``'s filter table and return a predicate over its rows."""
    caps = target.capabilities
    scope = _Scope(caps.filter_fields, target.getter, target, computed or {}, context)
    return _compile(node, scope)


def _compile(node: Node, scope: _Scope) -> Predicate:
    if isinstance(node, Group):
        parts = tuple(_compile(child, scope) for child in node.nodes)
        if node.kind == "and":
            return lambda row: all(p(row) for p in parts)
        return lambda row: any(p(row) for p in parts)
    if isinstance(node, Relation | RelCount):
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


def _compile_relation(node: Relation | RelCount, scope: _Scope) -> Predicate:
    target = scope.target
    spec = _field_spec(node.field, "count" if isinstance(node, RelCount) else node.op, scope)
    if not spec.is_relation or target is None:
        raise FilterError(
            f"Operator `{node.op}` needs a relation, but filter `{node.field}` is a {spec.type}."
        )
    relation = node.field
    items = target.relation_items(relation)
    where: Predicate | None = None
    if node.where is not None:
        inner = _Scope(
            spec.sub_field_map(),
            functools.partial(target.item_getter, relation),
            None,
            {},
            scope.context,
            f" in relation `{relation}`",
        )
        where = _compile(node.where, inner)
    if isinstance(node, RelCount):
        compare = _NUMBER_COMPARE[node.op]
        wanted = node.value
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


def _computed_for(field: str, scope: _Scope) -> ComputedField | None:
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


def _compile_condition(node: Cond, scope: _Scope) -> Predicate:
    computed = _computed_for(node.field, scope)
    if computed is not None:
        if node.op not in _COMPUTED_OPERATORS:
            allowed = ", ".join(sorted(_COMPUTED_OPERATORS))
            raise FilterError(
                f"Operator `{node.op}` is not allowed for computed field `{computed.alias}`. "
                f"Allowed operators are `{allowed}`."
            )
        return _scalar(node, computed.value, _KINDS["float"], scope.context)
    spec = _field_spec(node.field, node.op, scope)
    if spec.is_relation:
        raise FilterError(
            f"Operator `{node.op}` is not allowed for relation filter `{node.field}`{scope.label}. "
            "Use any, all, none or count."
        )
    if node.field == "archived":
        raise FilterError("Invalid filter: `archived` can only be used as a top-level condition.")
    return _scalar(node, scope.getter(node.field), _KINDS.get(spec.type, _KINDS["string"]), scope.context)


def _scalar(node: Cond, get: Getter, kind: _Kind, ctx: Context) -> Predicate:
    op, field = node.op, node.field
    if op == "isnull":
        return lambda row: get(row) is None
    if op == "isnotnull":
        return lambda row: get(row) is not None
    if op in ("in", "nin"):
        values = node.value if isinstance(node.value, list) else [node.value]
        wanted = frozenset(_point(kind.operand(v, field, ctx)) for v in values if v is not None)
        record = kind.record
        if op == "in":
            return lambda row: (v := get(row)) is not None and record(v) in wanted
        return lambda row: (v := get(row)) is not None and record(v) not in wanted
    if op in _PATTERN_OPS:
        return _pattern(op, node, get, kind)
    operand = kind.operand(node.value, field, ctx)
    record = kind.record
    if isinstance(operand, _DayRange):
        return _day_range(op, operand, get, record)
    compare = _NUMBER_COMPARE.get(op)
    if compare is None:
        raise FilterError(f"Operator `{op}` is not allowed for filter `{field}`.")
    return lambda row: (v := get(row)) is not None and compare(record(v), operand)


def _point(operand: Any) -> Any:
    return operand.low if isinstance(operand, _DayRange) else operand


def _day_range(op: str, span: _DayRange, get: Getter, record: Callable[[Any], Any]) -> Predicate:
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


def _pattern(op: str, node: Cond, get: Getter, kind: _Kind) -> Predicate:
    if isinstance(node.value, list | dict) or node.value is None:
        raise _bad_value(node.field, "a text", node.value)
    raw = node.value
    if isinstance(raw, bool):
        raw = "1" if raw else "0"
    needle = fold(str(raw))
    text = kind.text if isinstance(kind, _NumberKind | _BoolKind | _DateKind | _DateTimeKind) else kind.record
    if op == "contains":
        return lambda row: (v := get(row)) is not None and needle in text(v)
    if op == "startswith":
        return lambda row: (v := get(row)) is not None and text(v).startswith(needle)
    if op == "endswith":
        return lambda row: (v := get(row)) is not None and text(v).endswith(needle)
    regex = _like_regex(needle)
    return lambda row: (v := get(row)) is not None and regex.fullmatch(text(v)) is not None


# -- computed fields ----------------------------------------------------------------------------

_COMPUTED_RE = re.compile(r"^\s*([A-Za-z_]\w*)\s*\.\s*([A-Za-z_]\w*)\s*\((.*)\)\s*$", re.DOTALL)
_ALIAS_RE = re.compile(r"^[A-Za-z_]\w*$")


@dataclasses.dataclass(slots=True)
class ComputedField:
    """One ``computed_fields[alias]`` declaration, evaluated per row (memoised for the request)."""

    alias: str
    relation: str
    aggregate: str
    column: str | None
    items: Callable[[Any], Sequence[Any]]
    read: Getter | None
    where: Predicate | None
    _memo: dict[int, float | int] = dataclasses.field(default_factory=dict)

    def value(self, row: Any) -> float | int:
        """The aggregate for ``row`` (0 when nothing matches: the API's coalesce default)."""
        key = id(row)
        found = self._memo.get(key)
        if found is None:
            found = self._compute(row)
            self._memo[key] = found
        return found

    def _compute(self, row: Any) -> float | int:
        items = self.items(row)
        if self.where is not None:
            test = self.where
            items = [item for item in items if test(item)]
        if self.aggregate == "count":
            return len(items)
        assert self.read is not None
        read = self.read
        values = [
            Decimal(repr(v)) if isinstance(v, float) else Decimal(v)
            for v in map(read, items)
            if v is not None
        ]
        if not values:
            return 0
        if self.aggregate == "sum":
            return float(sum(values))
        if self.aggregate == "avg":
            return float(sum(values) / len(values))
        return float(min(values) if self.aggregate == "min" else max(values))


def parse_computed(alias: str, expression: str, target: Target, context: Context) -> ComputedField:
    """Read ``relation.aggregate(args)`` for ``alias``, checked against the operation's table."""
    caps = target.capabilities
    label = f"computed_fields[{alias}]"
    if not _ALIAS_RE.match(alias):
        raise FilterError(f"Invalid {label}: the alias must be letters, digits and underscores.")
    if not caps.computed_relations:
        raise FilterError(f"Invalid {label}: this endpoint offers no computed fields.")
    match = _COMPUTED_RE.match(expression)
    if match is None:
        raise FilterError(f"Invalid {label}: expected relation.aggregate(args), e.g. line_items.count().")
    relation, aggregate, args = match.group(1), match.group(2).lower(), match.group(3).strip()
    allowed = {r.name: r for r in caps.computed_relations}
    if relation not in allowed:
        raise FilterError(
            f"Invalid {label}: relation `{relation}` is not allowed. Allowed: {', '.join(sorted(allowed))}."
        )
    if aggregate not in allowed[relation].aggregates:
        choices = ", ".join(sorted(allowed[relation].aggregates))
        raise FilterError(
            f"Invalid {label}: aggregate `{aggregate}` is not allowed on `{relation}`. Allowed: {choices}."
        )
    spec = caps.filter_fields.get(relation)
    sub_fields = spec.sub_field_map() if spec is not None else {}
    column: str | None = None
    where_text = args
    if aggregate != "count":
        parts = split_top_level(args, ",")
        column, where_text = parts[0].strip(), ",".join(parts[1:])
        numeric = sorted(n for n, f in sub_fields.items() if f.type in _NUMERIC_TYPES)
        if column not in numeric:
            choices = ", ".join(numeric)
            raise FilterError(
                f"Invalid {label}: `{column}` is not a numeric field of `{relation}`. Allowed: {choices}."
            )
    where: Predicate | None = None
    if where_text.strip():
        inner = _Scope(
            sub_fields, functools.partial(target.item_getter, relation), None, {}, context, f" in {label}"
        )
        where = _compile(parse_dsl(where_text.strip()), inner)
    read = target.item_getter(relation, column) if column is not None else None
    return ComputedField(alias, relation, aggregate, column, target.relation_items(relation), read, where)
