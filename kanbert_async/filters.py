"""Build list filters, sorts and computed fields for Kanbert's list endpoints.

A filter is a tree of :class:`Condition` nodes joined with ``&`` (and) and ``|`` (or)::

    from datetime import date
    from kanbert_async.filters import F, ME_ID, today

    flt = F("title").contains("Acme") & (
        (F("date_of_invoice") >= date(2024, 1, 1)) | F("client.name").startswith("Corp")
    )
    async for inv in kb.outgoing_invoices.list(filter=flt, sort=[desc("date_of_invoice")]):
        ...

Python gives ``&`` and ``|`` a higher precedence than comparisons, so parenthesise each comparison
inside a combination: ``(F("a") == 1) & (F("b") > 2)``. A filter has no truth value, so
``F("a") == 1 and F("b") == 2`` and chained comparisons like ``1 < F("x") < 5`` raise TypeError
instead of silently dropping a condition.

Filters are sent as JSON (see :meth:`And.to_json`); values travel as JSON data, never spliced into
query text. A filter string in the API's own DSL is also accepted and sent unchanged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, NewType, NoReturn, TypeAlias

import msgspec

from kanbert_async._core.capabilities import (
    RELATION_OPERATORS,
    Capabilities,
    canonical_operator,
)
from kanbert_async._core.errors import InvalidRequestError

__all__ = [
    "EOM",
    "EOW",
    "ME_ID",
    "NOW",
    "SOM",
    "SOW",
    "TODAY",
    "And",
    "Computed",
    "Condition",
    "Count",
    "F",
    "Filter",
    "Or",
    "RelationCount",
    "Scalar",
    "SortKey",
    "SpecialValue",
    "and_",
    "asc",
    "computed_fields_params",
    "desc",
    "encode_filter",
    "prepare_list_params",
    "to_dsl",
    "today",
]


# -- values -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpecialValue:
    """A value the API resolves itself (the current user, now, start of month, ...).

    Sent as its bare token: ``"me.id"`` in JSON, ``me.id`` (unquoted) in the DSL. Use the module
    constants :data:`ME_ID`, :data:`NOW`, :data:`TODAY`, :data:`SOW`, :data:`EOW`, :data:`SOM`,
    :data:`EOM` and :func:`today`.
    """

    token: str

    def __str__(self) -> str:
        return self.token


#: The id of the authenticated user (for fields of type id): ``F("editor.id") == ME_ID``.
ME_ID = SpecialValue("me.id")
#: The current date-time.
NOW = SpecialValue("now")
#: Today; with ``eq`` the API expands it to the whole day.
TODAY = SpecialValue("today")
#: Start of the current week.
SOW = SpecialValue("sow")
#: End of the current week.
EOW = SpecialValue("eow")
#: Start of the current month.
SOM = SpecialValue("som")
#: End of the current month.
EOM = SpecialValue("eom")


def today(offset_days: int) -> SpecialValue:
    """A day relative to today: ``today(-30)`` is the API's ``today-30d``, ``today(5)`` its ``today+5d``.

    ``today(0)`` is :data:`TODAY`.
    """
    if isinstance(offset_days, bool) or not isinstance(offset_days, int):
        raise TypeError(f"today() takes a whole number of days, got {offset_days!r}")
    if offset_days == 0:
        return TODAY
    return SpecialValue(f"today{offset_days:+d}d")


#: A value a condition compares with. Enums are sent as their value, dates and datetimes in ISO
#: format (a datetime keeps its UTC offset; a naive one is sent as given).
Scalar: TypeAlias = str | int | float | Decimal | bool | date | datetime | Enum | SpecialValue | None


def _check_scalar(value: object, where: str) -> None:
    inner = value.value if isinstance(value, Enum) else value
    if inner is None or isinstance(inner, str | int | date | SpecialValue):
        return
    if isinstance(inner, float | Decimal):
        if not (inner.is_finite() if isinstance(inner, Decimal) else math.isfinite(inner)):
            raise InvalidRequestError(f"filter value for {where} must be a finite number, got {value!r}")
        return
    raise TypeError(
        f"unsupported filter value for {where}: {value!r} ({type(value).__name__}); use str, int, float, "
        "Decimal, bool, None, date, datetime, an Enum or a special value such as ME_ID"
    )


def _json_value(value: object) -> Any:
    if isinstance(value, SpecialValue):
        return value.token
    if isinstance(value, Enum):  # before str/int: StrEnum and IntEnum are str and int too
        return _json_value(value.value)
    if isinstance(value, date):  # datetime is a date; both have isoformat()
        return value.isoformat()
    if isinstance(value, tuple):
        return [_json_value(v) for v in value]
    return value


# -- nodes --------------------------------------------------------------------------------------

_NO_TRUTH = (
    "a filter has no truth value: combine conditions with & and | (not 'and'/'or'), parenthesise "
    "comparisons as in (F('a') == 1) & (F('b') > 2), and write a range as (F('x') > 1) & (F('x') < 5) "
    "rather than 1 < F('x') < 5"
)

_DSL_STRING_MIX = (
    "a filter written as a DSL string cannot be combined safely with another filter; "
    "build both with F(...) and combine them with & or |"
)


class _Node:
    """Behaviour shared by every filter node: ``&``, ``|``, no truth value, JSON output."""

    __slots__ = ()

    def __and__(self, other: Filter) -> And:
        if isinstance(other, str):
            raise InvalidRequestError(_DSL_STRING_MIX)
        if not isinstance(other, _Node):
            return NotImplemented
        left = self.nodes if isinstance(self, And) else (self,)
        right = other.nodes if isinstance(other, And) else (other,)
        return And(*left, *right)

    def __rand__(self, other: object) -> NoReturn:
        if isinstance(other, str):
            raise InvalidRequestError(_DSL_STRING_MIX)
        raise TypeError(f"cannot combine {other!r} with a filter; build both with F(...)")

    def __or__(self, other: Filter) -> Or:
        if isinstance(other, str):
            raise InvalidRequestError(_DSL_STRING_MIX)
        if not isinstance(other, _Node):
            return NotImplemented
        left = self.nodes if isinstance(self, Or) else (self,)
        right = other.nodes if isinstance(other, Or) else (other,)
        return Or(*left, *right)

    __ror__ = __rand__

    def __bool__(self) -> bool:
        raise TypeError(_NO_TRUTH)

    def to_json(self) -> list[Any] | dict[str, Any]:
        """The filter in the API's JSON format (see :meth:`And.to_json`)."""
        raise NotImplementedError

    def _tree(self) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Count:
    """The value of a ``count`` condition on a relation: how many related items match ``where``.

    Built by comparing :meth:`F.count`: ``F("line_items").count() >= 3``.
    """

    op: str
    value: int
    where: Filter | None = None

    def __post_init__(self) -> None:
        if canonical_operator(self.op) not in {"eq", "ne", "lt", "lte", "gt", "gte"}:
            raise InvalidRequestError(f"compare a relation count with eq, ne, lt, lte, gt, gte: {self.op!r}")
        if isinstance(self.value, bool) or not isinstance(self.value, int) or self.value < 0:
            raise InvalidRequestError(f"compare a relation count with a whole number ≥ 0, not {self.value!r}")
        if self.where is not None and not isinstance(self.where, _Node):
            raise TypeError(f"a relation count's condition must be built with F(...), got {self.where!r}")

    def to_json(self) -> dict[str, Any]:
        """``{"op": "gte", "value": 3}``, plus ``"filter": <nested filter>`` when counting only matches."""
        out: dict[str, Any] = {"op": self.op, "value": self.value}
        if self.where is not None:
            out["filter"] = self.where.to_json()
        return out


@dataclass(frozen=True, slots=True)
class Condition(_Node):
    """One condition: ``field op value``. Usually built with :class:`F`: ``F("title").contains("Acme")``.

    For the relation operators ``any``/``all``/``none`` the value is a nested filter over the
    relation's fields (or None: any item at all); for ``count`` it is a :class:`Count`.
    """

    field: str
    op: str
    value: object = None

    def __post_init__(self) -> None:
        if not isinstance(self.field, str) or not self.field.strip():
            raise TypeError(f"a filter field is a non-empty string, got {self.field!r}")
        if not isinstance(self.op, str) or not self.op.strip():
            raise TypeError(f"a filter operator is a non-empty string, got {self.op!r}")
        object.__setattr__(self, "op", self.op.strip().lower())
        op = canonical_operator(self.op)
        where = f"'{self.field}' {self.op}"
        if op == "count":
            if not isinstance(self.value, Count):
                raise TypeError(f"{where} takes a Count; write F({self.field!r}).count() >= n")
        elif op in RELATION_OPERATORS:
            if self.value is not None and not isinstance(self.value, _Node):
                raise TypeError(f"{where} takes a filter built with F(...), got {self.value!r}")
        elif isinstance(self.value, tuple):
            for item in self.value:
                _check_scalar(item, where)
        else:
            _check_scalar(self.value, where)

    def to_json(self) -> list[Any]:
        """A one-condition filter: ``[{"field": ..., "op": ..., "value": ...}]``."""
        return [self._tree()]

    def _tree(self) -> dict[str, Any]:
        value: Any
        if isinstance(self.value, Count | _Node):
            value = self.value.to_json()
        elif self.value is None and canonical_operator(self.op) in RELATION_OPERATORS:
            value = []  # no nested conditions: every related item matches
        else:
            value = _json_value(self.value)
        return {"field": self.field, "op": self.op, "value": value}


@dataclass(frozen=True, slots=True, init=False)
class And(_Node):
    """All of the nodes must match. ``a & b`` builds one, flattening nested ``And`` groups.

    ``And()`` with no nodes matches everything (and is sent as no filter at all).
    """

    nodes: tuple[Filter, ...]

    def __init__(self, *nodes: Filter) -> None:
        _check_nodes(nodes, "And")
        object.__setattr__(self, "nodes", tuple(nodes))

    def to_json(self) -> list[Any] | dict[str, Any]:
        """The API's JSON: a plain list of conditions when every node is a condition, else a tree.

        ``(F("a") == 1) & (F("b") == 2)`` →
        ``[{"field": "a", "op": "eq", "value": 1}, {"field": "b", "op": "eq", "value": 2}]``;
        ``(F("a") == 1) & ((F("b") == 2) | (F("c") == 3))`` →
        ``{"and": [{"field": "a", ...}, {"or": [{"field": "b", ...}, {"field": "c", ...}]}]}``.
        """
        if all(isinstance(n, Condition) for n in self.nodes):
            return [n._tree() for n in self.nodes]
        return self._tree()

    def _tree(self) -> dict[str, Any]:
        return {"and": [n._tree() for n in self.nodes]}


@dataclass(frozen=True, slots=True, init=False)
class Or(_Node):
    """At least one of the nodes must match. ``a | b`` builds one, flattening nested ``Or`` groups."""

    nodes: tuple[Filter, ...]

    def __init__(self, *nodes: Filter) -> None:
        if not nodes:
            raise InvalidRequestError("Or() needs at least one condition")
        _check_nodes(nodes, "Or")
        object.__setattr__(self, "nodes", tuple(nodes))

    def to_json(self) -> dict[str, Any]:
        """``{"or": [<condition or group>, ...]}``."""
        return self._tree()

    def _tree(self) -> dict[str, Any]:
        return {"or": [n._tree() for n in self.nodes]}


#: A filter tree.
Filter: TypeAlias = Condition | And | Or


def _check_nodes(nodes: tuple[object, ...], kind: str) -> None:
    for n in nodes:
        if isinstance(n, str):
            raise InvalidRequestError(_DSL_STRING_MIX)
        if not isinstance(n, _Node):
            raise TypeError(f"{kind}() takes filter nodes built with F(...), got {n!r}")


# -- builder ------------------------------------------------------------------------------------


class F:
    """A field to build conditions on: ``F("title").contains("Acme")``, ``F("sum_net") >= 100``.

    ``== != < <= > >=`` give ``eq ne lt lte gt gte``. Relation fields take :meth:`any`,
    :meth:`all`, :meth:`none` and :meth:`count` with a condition on the relation's own fields::

        F("line_items").any(F("title").contains("Support"))
        F("line_items").count(F("total_net") > 1000) >= 3

    Which fields and operators an operation accepts is checked when the filter is used.
    """

    __slots__ = ("name",)
    __hash__ = None  # type: ignore[assignment]  # == builds a condition, so F is not hashable

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name.strip():
            raise TypeError(f"F() takes a field name, got {name!r}")
        self.name = name.strip()

    def __repr__(self) -> str:
        return f"F({self.name!r})"

    def __bool__(self) -> bool:
        raise TypeError(_NO_TRUTH)

    def _cmp(self, op: str, value: object) -> Condition:
        if isinstance(value, F | RelationCount):
            raise TypeError(f"cannot compare {self.name!r} with another field; the API compares with values")
        return Condition(self.name, op, value)

    def __eq__(self, value: object) -> Condition:  # type: ignore[override]
        return self._cmp("eq", value)

    def __ne__(self, value: object) -> Condition:  # type: ignore[override]
        return self._cmp("ne", value)

    def __lt__(self, value: object) -> Condition:
        return self._cmp("lt", value)

    def __le__(self, value: object) -> Condition:
        return self._cmp("lte", value)

    def __gt__(self, value: object) -> Condition:
        return self._cmp("gt", value)

    def __ge__(self, value: object) -> Condition:
        return self._cmp("gte", value)

    def eq(self, value: Scalar) -> Condition:
        """``field eq value``."""
        return self._cmp("eq", value)

    def ne(self, value: Scalar) -> Condition:
        """``field ne value``."""
        return self._cmp("ne", value)

    def lt(self, value: Scalar) -> Condition:
        """``field lt value``."""
        return self._cmp("lt", value)

    def lte(self, value: Scalar) -> Condition:
        """``field lte value``."""
        return self._cmp("lte", value)

    def gt(self, value: Scalar) -> Condition:
        """``field gt value``."""
        return self._cmp("gt", value)

    def gte(self, value: Scalar) -> Condition:
        """``field gte value``."""
        return self._cmp("gte", value)

    def _many(self, op: str, values: Iterable[Scalar]) -> Condition:
        if isinstance(values, str | bytes) or not isinstance(values, Iterable):
            raise TypeError(f"F({self.name!r}).{op}() takes a collection of values, got {values!r}")
        items = tuple(values)
        if not items:
            raise InvalidRequestError(f"F({self.name!r}).{op}() needs at least one value")
        return Condition(self.name, op, items)

    def in_(self, values: Iterable[Scalar]) -> Condition:
        """``field in [values]``: ``F("status").in_(["open", "paid"])``."""
        return self._many("in", values)

    def nin(self, values: Iterable[Scalar]) -> Condition:
        """``field nin [values]`` (not in)."""
        return self._many("nin", values)

    def contains(self, value: Scalar) -> Condition:
        """``field contains value`` (substring match)."""
        return self._cmp("contains", value)

    def like(self, value: Scalar) -> Condition:
        """``field like value`` (SQL ``LIKE`` pattern, as the API interprets it)."""
        return self._cmp("like", value)

    def startswith(self, value: Scalar) -> Condition:
        """``field startswith value``."""
        return self._cmp("startswith", value)

    def endswith(self, value: Scalar) -> Condition:
        """``field endswith value``."""
        return self._cmp("endswith", value)

    def is_null(self) -> Condition:
        """``field is null``."""
        return Condition(self.name, "isnull", None)

    def is_not_null(self) -> Condition:
        """``field is not null``."""
        return Condition(self.name, "isnotnull", None)

    def any(self, cond: Filter | None = None) -> Condition:
        """At least one related item matches ``cond`` (with no ``cond``: has any related item)."""
        return Condition(self.name, "any", cond)

    def all(self, cond: Filter) -> Condition:
        """Every related item matches ``cond``."""
        return Condition(self.name, "all", cond)

    def none(self, cond: Filter | None = None) -> Condition:
        """No related item matches ``cond`` (with no ``cond``: has no related items)."""
        return Condition(self.name, "none", cond)

    def count(self, cond: Filter | None = None) -> RelationCount:
        """The number of related items (matching ``cond``), to compare: ``F("line_items").count() >= 3``."""
        if cond is not None and not isinstance(cond, _Node):
            raise TypeError(f"F({self.name!r}).count() takes a filter built with F(...), got {cond!r}")
        return RelationCount(self.name, cond)


@dataclass(frozen=True, slots=True, eq=False)
class RelationCount:
    """``F("line_items").count(...)``, waiting to be compared with a number."""

    field: str
    where: Filter | None = None
    __hash__ = None  # type: ignore[assignment]

    def _cmp(self, op: str, value: object) -> Condition:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"compare F({self.field!r}).count() with a whole number, got {value!r}")
        return Condition(self.field, "count", Count(op, value, self.where))

    def __eq__(self, value: object) -> Condition:  # type: ignore[override]
        return self._cmp("eq", value)

    def __ne__(self, value: object) -> Condition:  # type: ignore[override]
        return self._cmp("ne", value)

    def __lt__(self, value: object) -> Condition:
        return self._cmp("lt", value)

    def __le__(self, value: object) -> Condition:
        return self._cmp("lte", value)

    def __gt__(self, value: object) -> Condition:
        return self._cmp("gt", value)

    def __ge__(self, value: object) -> Condition:
        return self._cmp("gte", value)

    def __bool__(self) -> bool:
        raise TypeError(_NO_TRUTH)


# -- encoding -----------------------------------------------------------------------------------

# Decimals go out as JSON numbers with every digit kept (msgspec's default would quote them).
_encoder = msgspec.json.Encoder(decimal_format="number")


def encode_filter(filter: Filter | str | None) -> str | None:
    """The ``filter`` query parameter's value: compact JSON for a filter tree.

    A DSL string is returned unchanged; ``None`` and an empty ``And()`` give ``None`` (no filter).

    Example: ``encode_filter(F("title") == "x")`` → ``'[{"field":"title","op":"eq","value":"x"}]'``.
    """
    if filter is None or isinstance(filter, str):
        return filter
    if not isinstance(filter, _Node):
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
        raise InvalidRequestError(_DSL_STRING_MIX)
    return a & b


_FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


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
        if not _FIELD_RE.fullmatch(filter.field):
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


# -- computed fields ----------------------------------------------------------------------------

_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_AGGREGATES = frozenset({"count", "sum", "avg", "min", "max"})


@dataclass(frozen=True, slots=True)
class Computed:
    """An ad-hoc aggregate over a relation, declared per request as ``computed_fields[alias]``.

    Example::

        computed = {
            "items": Computed.count("line_items"),
            "support_net": Computed.sum("line_items", "total_net", where=F("title").contains("Support")),
        }
        kb.outgoing_invoices.list(computed_fields=computed, sort=["-computed_fields.items"],
                                  filter=F("computed_fields.items") >= 3)

    ``where`` is a filter built with ``F(...)`` (checked against the relation's fields and written
    in the DSL) or a DSL string (sent as written).
    """

    relation: str
    aggregate: str
    column: str | None = None
    where: Filter | str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.relation, str) or not _IDENT_RE.fullmatch(self.relation):
            raise InvalidRequestError(f"computed field relation must be a plain name, got {self.relation!r}")
        if self.aggregate not in _AGGREGATES:
            choices = ", ".join(sorted(_AGGREGATES))
            raise InvalidRequestError(f"unknown computed-field aggregate {self.aggregate!r}; use {choices}")
        if self.aggregate == "count":
            if self.column is not None:
                raise InvalidRequestError("Computed.count() takes no column")
        elif not isinstance(self.column, str) or not _FIELD_RE.fullmatch(self.column):
            raise InvalidRequestError(
                f"Computed.{self.aggregate}() needs a column name of {self.relation!r}, got {self.column!r}"
            )
        if self.where is not None and not isinstance(self.where, str | _Node):
            raise TypeError(f"a computed field's where is F(...) filter or a DSL string, got {self.where!r}")

    @classmethod
    def count(cls, relation: str, where: Filter | str | None = None) -> Computed:
        """``relation.count()`` / ``relation.count(<where>)``: the number of (matching) related items."""
        return cls(relation, "count", None, where)

    @classmethod
    def sum(cls, relation: str, column: str, where: Filter | str | None = None) -> Computed:
        """``relation.sum(column)`` / ``relation.sum(column, <where>)``."""
        return cls(relation, "sum", column, where)

    @classmethod
    def avg(cls, relation: str, column: str, where: Filter | str | None = None) -> Computed:
        """``relation.avg(column)`` / ``relation.avg(column, <where>)``."""
        return cls(relation, "avg", column, where)

    @classmethod
    def min(cls, relation: str, column: str, where: Filter | str | None = None) -> Computed:
        """``relation.min(column)`` / ``relation.min(column, <where>)``."""
        return cls(relation, "min", column, where)

    @classmethod
    def max(cls, relation: str, column: str, where: Filter | str | None = None) -> Computed:
        """``relation.max(column)`` / ``relation.max(column, <where>)``."""
        return cls(relation, "max", column, where)

    def expression(self) -> str:
        """The API's ``relation.aggregate(args)`` text, e.g. ``line_items.sum(total_net, amount gt 2)``."""
        args: list[str] = [self.column] if self.column is not None else []
        where = self.where
        if isinstance(where, And) and not where.nodes:
            where = None
        if where is not None:
            text = where.strip() if isinstance(where, str) else to_dsl(where)
            if text:
                args.append(text)
        return f"{self.relation}.{self.aggregate}({', '.join(args)})"

    def check(self, caps: Capabilities, alias: str) -> None:
        """Check this declaration against an operation: relation, aggregate and ``where`` fields."""
        caps.check_computed(alias, self.relation, self.aggregate, self.where)


def _check_alias(alias: object) -> str:
    if not isinstance(alias, str) or not _IDENT_RE.fullmatch(alias):
        raise InvalidRequestError(
            f"a computed field alias is a plain name (letters, digits, underscores), got {alias!r}"
        )
    return alias


def computed_fields_params(mapping: Mapping[str, Computed | str]) -> dict[str, str]:
    """The query parameters declaring computed fields: ``{"computed_fields[alias]": expression}``.

    Example: ``computed_fields_params({"n": Computed.count("line_items")})`` →
    ``{"computed_fields[n]": "line_items.count()"}``. A string value is sent as written.
    """
    out: dict[str, str] = {}
    for alias, comp in mapping.items():
        _check_alias(alias)
        if isinstance(comp, Computed):
            out[f"computed_fields[{alias}]"] = comp.expression()
        elif isinstance(comp, str):
            out[f"computed_fields[{alias}]"] = comp
        else:
            raise TypeError(f"computed_fields[{alias!r}] must be a Computed or a string, got {comp!r}")
    return out


# -- the entry point for generated list methods -------------------------------------------------


#: A sort key built by :func:`asc` or :func:`desc`; list methods accept it besides their literal keys.
SortKey = NewType("SortKey", str)


def _sort_name(name: object, fn: str) -> str:
    if not isinstance(name, str) or not name.strip() or name.strip().startswith("-") or "," in name:
        raise InvalidRequestError(f"{fn}() takes one sort field name, got {name!r}")
    return name.strip()


def asc(name: str) -> SortKey:
    """An ascending sort key, e.g. for a computed field: ``asc("computed_fields.items")``."""
    return SortKey(_sort_name(name, "asc"))


def desc(name: str) -> SortKey:
    """A descending sort key: ``desc("created_at")`` → ``"-created_at"``."""
    return SortKey(f"-{_sort_name(name, 'desc')}")


def prepare_list_params(
    caps: Capabilities,
    *,
    sort: str | Sequence[str] | None = None,
    include: str | Sequence[str] | None = None,
    filter: Filter | str | None = None,
    computed_fields: Mapping[str, Computed | str] | None = None,
) -> dict[str, str]:
    """Check a list call's arguments against the operation and return its query parameters.

    Gives ``sort``, ``include``, ``filter`` and ``computed_fields[alias]`` entries for what was
    given; raises :class:`InvalidRequestError` naming the operation and what it allows.

    Example::

        prepare_list_params(caps, sort=["-date_of_invoice"], include="line_items",
                            filter=F("status") == "paid")
        # {"sort": "-date_of_invoice", "include": "line_items",
        #  "filter": '[{"field":"status","op":"eq","value":"paid"}]'}
    """
    params: dict[str, str] = {}
    declared: tuple[str, ...] = ()
    if computed_fields:
        for alias, comp in computed_fields.items():
            _check_alias(alias)
            if isinstance(comp, Computed):
                comp.check(caps, alias)
            elif not caps.computed_relations and "computed_fields" not in caps.unchecked:
                raise InvalidRequestError(
                    f"{caps.operation}: computed field '{alias}': the operation offers no computed fields."
                )
        params.update(computed_fields_params(computed_fields))
        declared = tuple(computed_fields)
    if sort is not None:
        value = caps.check_sort(sort, computed=declared)
        if value:
            params["sort"] = value
    if include is not None:
        value = caps.check_include(include)
        if value:
            params["include"] = value
    if filter is not None:
        if not isinstance(filter, str):
            caps.check_filter(filter, computed=declared)
        encoded = encode_filter(filter)
        if encoded is not None:
            params["filter"] = encoded
    return params
