"""Computed fields: ad-hoc aggregates over a relation, declared per list call as ``computed_fields[alias]``.

Example: ``computed_fields={"items": Computed.count("line_items")}``, then
``sort=[desc("computed_fields.items")]`` or ``filter=F("computed_fields.items") >= 3``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import InvalidRequestError
from .encode import DSL_FIELD_RE, to_dsl
from .tree import And, Filter, Node

if TYPE_CHECKING:
    from ..capabilities import Capabilities

__all__ = ["Computed", "check_alias", "computed_fields_params"]

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
        elif not isinstance(self.column, str) or not DSL_FIELD_RE.fullmatch(self.column):
            raise InvalidRequestError(
                f"Computed.{self.aggregate}() needs a column name of {self.relation!r}, got {self.column!r}"
            )
        if self.where is not None and not isinstance(self.where, str | Node):
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


def check_alias(alias: object) -> str:
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
        check_alias(alias)
        if isinstance(comp, Computed):
            out[f"computed_fields[{alias}]"] = comp.expression()
        elif isinstance(comp, str):
            out[f"computed_fields[{alias}]"] = comp
        else:
            raise TypeError(f"computed_fields[{alias!r}] must be a Computed or a string, got {comp!r}")
    return out
