"""Read Kanbert's filter DSL into a filter tree: ``parse_filter('title contains "Acme" and x is null')``.

The API accepts the DSL as it is, but a tree can be checked against the operation's filter table
before anything is sent, and combined with other filters (a partition's range) without quoting
games. The grammar is documented in :mod:`kanbert_async._core.filters.dsl`; the sandbox reads
the DSL with the same parser into the same tree, so both sides agree on what a filter means.
"""

from __future__ import annotations

from ._core.filters.dsl import parse_dsl
from ._core.filters.tree import Filter, FilterError

__all__ = ["FilterError", "parse_filter"]


def parse_filter(text: str) -> Filter:
    """Parse the API's filter DSL into a tree of :class:`~kanbert_async.filters.Condition` nodes.

    Example: ``parse_filter('status in ["open", "paid"] and title contains "Acme"')``.
    Raises :class:`FilterError` (an :class:`~kanbert_async.errors.InvalidRequestError`) saying
    where the text stops making sense.
    """
    return parse_dsl(text)
