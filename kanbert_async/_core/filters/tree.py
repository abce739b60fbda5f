"""The filter tree: values, conditions and their ``&``/``|`` combinations, and its JSON form.

One tree for every filter: the builder (:mod:`.builder`) makes it, the DSL and JSON readers
(:mod:`.dsl`, :mod:`.json_format`) read into it, the capability checks walk it, and the sandbox
evaluates it. A node validates its own shape when built, so a tree that exists is well-formed.

Nodes: :class:`Condition` (``field op value``), :class:`And`, :class:`Or`; a relation's ``count``
condition carries a :class:`Count`. Values are plain data (:data:`Scalar`); readers keep a list
of values as a tuple and a bare word (``me.id``) as a string, whose meaning depends on the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, NoReturn, TypeAlias

from ..errors import InvalidRequestError
from .operators import COUNT_OPERATORS, RELATION_OPERATORS, canonical_operator

__all__ = [
    "EOM",
    "EOW",
    "ME_ID",
    "NOW",
    "SOM",
    "SOW",
    "TODAY",
    "And",
    "Condition",
    "Count",
    "Filter",
    "FilterError",
    "Node",
    "Or",
    "Scalar",
    "SpecialValue",
    "today",
]


class FilterError(InvalidRequestError):
    """A filter that cannot be read (or, on the sandbox, does not fit the operation).

    ``position`` is the offset in the filter text where reading stopped (the text's length when
    it ended too early), or None when the problem is not at one place; a CLI can put a caret there.
    """

    def __init__(self, message: str, *, position: int | None = None) -> None:
        super().__init__(message)
        self.position = position


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

NO_TRUTH = (
    "a filter has no truth value: combine conditions with & and | (not 'and'/'or'), parenthesise "
    "comparisons as in (F('a') == 1) & (F('b') > 2), and write a range as (F('x') > 1) & (F('x') < 5) "
    "rather than 1 < F('x') < 5"
)

DSL_STRING_MIX = (
    "a filter written as a DSL string cannot be combined safely with another filter; "
    "build both with F(...) and combine them with & or |"
)


class Node:
    """Behaviour shared by every filter node: ``&``, ``|``, no truth value, JSON output."""

    __slots__ = ()

    def __and__(self, other: Filter) -> And:
        if isinstance(other, str):
            raise InvalidRequestError(DSL_STRING_MIX)
        if not isinstance(other, Node):
            return NotImplemented
        left = self.nodes if isinstance(self, And) else (self,)
        right = other.nodes if isinstance(other, And) else (other,)
        return And(*left, *right)

    def __rand__(self, other: object) -> NoReturn:
        if isinstance(other, str):
            raise InvalidRequestError(DSL_STRING_MIX)
        raise TypeError(f"cannot combine {other!r} with a filter; build both with F(...)")

    def __or__(self, other: Filter) -> Or:
        if isinstance(other, str):
            raise InvalidRequestError(DSL_STRING_MIX)
        if not isinstance(other, Node):
            return NotImplemented
        left = self.nodes if isinstance(self, Or) else (self,)
        right = other.nodes if isinstance(other, Or) else (other,)
        return Or(*left, *right)

    __ror__ = __rand__

    def __bool__(self) -> bool:
        raise TypeError(NO_TRUTH)

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
        if canonical_operator(self.op) not in COUNT_OPERATORS:
            raise InvalidRequestError(f"compare a relation count with eq, ne, lt, lte, gt, gte: {self.op!r}")
        if isinstance(self.value, bool) or not isinstance(self.value, int) or self.value < 0:
            raise InvalidRequestError(f"compare a relation count with a whole number ≥ 0, not {self.value!r}")
        if self.where is not None and not isinstance(self.where, Node):
            raise TypeError(f"a relation count's condition must be built with F(...), got {self.where!r}")

    def to_json(self) -> dict[str, Any]:
        """``{"op": "gte", "value": 3}``, plus ``"filter": <nested filter>`` when counting only matches."""
        out: dict[str, Any] = {"op": self.op, "value": self.value}
        if self.where is not None:
            out["filter"] = self.where.to_json()
        return out


@dataclass(frozen=True, slots=True)
class Condition(Node):
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
            if self.value is not None and not isinstance(self.value, Node):
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
        if isinstance(self.value, Count | Node):
            value = self.value.to_json()
        elif self.value is None and canonical_operator(self.op) in RELATION_OPERATORS:
            value = []  # no nested conditions: every related item matches
        else:
            value = _json_value(self.value)
        return {"field": self.field, "op": self.op, "value": value}


@dataclass(frozen=True, slots=True, init=False)
class And(Node):
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
class Or(Node):
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
            raise InvalidRequestError(DSL_STRING_MIX)
        if not isinstance(n, Node):
            raise TypeError(f"{kind}() takes filter nodes built with F(...), got {n!r}")
