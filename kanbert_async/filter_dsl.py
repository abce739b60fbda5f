"""Read Kanbert's filter DSL into filter trees: ``parse_filter('title contains "Acme" and x is null')``.

The API accepts the DSL as it is, but a tree can be checked against the operation's filter table
before anything is sent, and combined with other filters (a partition's range) without quoting
games. The grammar is documented in :mod:`kanbert_async._core.filter_syntax`; the sandbox reads
the DSL with the same parser, so both sides agree on what a filter means.
"""

from __future__ import annotations

from typing import Any

from ._core.filter_syntax import Cond, FilterError, Group, Node, Relation, RelCount, parse_dsl
from .filters import And, Condition, Count, Filter, Or

__all__ = ["FilterError", "parse_filter", "to_filter"]


def _value(value: Any) -> Any:
    # The syntax tree keeps lists as lists; conditions hold a list of values as a tuple.
    return tuple(value) if isinstance(value, list) else value


def to_filter(node: Node) -> Filter:
    """The SDK filter tree for a parsed syntax tree."""
    if isinstance(node, Cond):
        return Condition(node.field, node.op, _value(node.value))
    if isinstance(node, Group):
        parts = [to_filter(n) for n in node.nodes]
        return And(*parts) if node.kind == "and" else Or(*parts)
    if isinstance(node, Relation):
        return Condition(node.field, node.op, None if node.where is None else to_filter(node.where))
    if isinstance(node, RelCount):
        where = None if node.where is None else to_filter(node.where)
        return Condition(node.field, "count", Count(node.op, node.value, where))
    raise TypeError(f"not a filter node: {node!r}")


def parse_filter(text: str) -> Filter:
    """Parse the API's filter DSL into a tree of :class:`~kanbert_async.filters.Condition` nodes.

    Example: ``parse_filter('status in ["open", "paid"] and title contains "Acme"')``.
    Raises :class:`FilterError` (an :class:`~kanbert_async.errors.InvalidRequestError`) saying
    where the text stops making sense.
    """
    return to_filter(parse_dsl(text))
