"""Computed fields: ``computed_fields[alias]=relation.aggregate(args)`` read, checked, evaluated per row."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from kanbert_async._core.filters.dsl import parse_dsl, split_top_level
from kanbert_async._core.filters.tree import FilterError

from .collation import Context
from .query import Getter, Predicate, Target, compile_where

__all__ = ["ComputedField", "parse_computed"]

_NUMERIC_TYPES = frozenset({"currency", "float", "integer"})
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
        getter = functools.partial(target.item_getter, relation)
        where = compile_where(parse_dsl(where_text.strip()), sub_fields, getter, context, f" in {label}")
    read = target.item_getter(relation, column) if column is not None else None
    return ComputedField(alias, relation, aggregate, column, target.relation_items(relation), read, where)
