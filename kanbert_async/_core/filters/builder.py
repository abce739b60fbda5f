"""The filter builder: ``F("field")`` and its comparisons, which make nodes of the filter tree.

Example::

    F("title").contains("Acme") & ((F("sum_net") >= 100) | F("client.name").startswith("Corp"))
    F("line_items").count(F("total_net") > 1000) >= 3
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import InvalidRequestError
from .tree import NO_TRUTH, Condition, Count, Filter, Node, Scalar

__all__ = ["F", "RelationCount"]


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
        raise TypeError(NO_TRUTH)

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
        if cond is not None and not isinstance(cond, Node):
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
        raise TypeError(NO_TRUTH)
