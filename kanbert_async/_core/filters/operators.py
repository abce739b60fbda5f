"""The filter operators: their canonical spellings, aliases, and which kind of field takes which.

Shared by everything that builds, reads, checks or evaluates a filter, so an operator means the
same thing to the builder, both readers, the capability checks, codegen and the sandbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "COMPUTED_OPERATORS",
    "COUNT_OPERATORS",
    "OPERATOR_ALIASES",
    "RELATION_OPERATORS",
    "SCALAR_OPERATORS",
    "canonical_operator",
]

#: Spellings the API treats as the same operator, mapped to the one the SDK emits.
OPERATOR_ALIASES: Mapping[str, str] = MappingProxyType(
    {"neq": "ne", "le": "lte", "ge": "gte", "notin": "nin", "notnull": "isnotnull"}
)

#: Canonical operators on plain (non-relation) fields.
SCALAR_OPERATORS = frozenset(
    {
        "eq", "ne", "lt", "lte", "gt", "gte", "in", "nin",
        "contains", "like", "startswith", "endswith", "isnull", "isnotnull",
    }
)  # fmt: skip

#: Operators on relation fields; each takes a nested filter over the relation's sub-fields.
RELATION_OPERATORS = frozenset({"any", "all", "none", "count"})

#: How a relation count may be compared with its number.
COUNT_OPERATORS = frozenset({"eq", "ne", "lt", "lte", "gt", "gte"})

#: A computed field is a number (count/sum/avg/min/max), so it takes the numeric operators.
COMPUTED_OPERATORS = frozenset({"eq", "ne", "lt", "lte", "gt", "gte", "in", "nin", "isnull", "isnotnull"})


def canonical_operator(op: str) -> str:
    """The canonical spelling of an operator: ``canonical_operator("neq") == "ne"``."""
    low = op.strip().lower()
    return OPERATOR_ALIASES.get(low, low)
