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

from ._core.filters.builder import F, RelationCount
from ._core.filters.computed import Computed, computed_fields_params
from ._core.filters.encode import and_, encode_filter, to_dsl
from ._core.filters.tree import (
    EOM,
    EOW,
    ME_ID,
    NOW,
    SOM,
    SOW,
    TODAY,
    And,
    Condition,
    Count,
    Filter,
    Or,
    Scalar,
    SpecialValue,
    today,
)
from ._core.list_args import SortKey, asc, desc, prepare_list_params

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
