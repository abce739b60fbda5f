"""Filter tables to check against: a subset of ``outgoingInvoices.index`` as the seed documents it."""

from __future__ import annotations

from typing import Any

import msgspec

from kanbert_async._core.capabilities import Capabilities, ComputedRelation, FilterField
from kanbert_async.filters import (
    encode_filter,
)

NULLS = frozenset({"isnull", "isnotnull", "notnull"})
ENUM = frozenset({"eq", "ne", "neq", "in", "nin", "notin"})
ID = ENUM | NULLS
STRING = ID | {"contains", "like", "startswith", "endswith"}
DATE = ID | {"lt", "lte", "le", "gt", "gte", "ge"}
CURRENCY = DATE | {"contains", "like", "startswith", "endswith"}
RELATION = frozenset({"any", "none", "count", "all"})

LINE_ITEM_FIELDS = (
    FilterField("title", "string", STRING),
    FilterField("total_net", "currency", CURRENCY),
    FilterField("amount", "float", DATE),
    FilterField("project.id", "id", ID),
    FilterField("type", "enum", ENUM),
)

# A subset of outgoingInvoices.index as the seed documents it.
INVOICES = Capabilities(
    "outgoingInvoices.index",
    sorts=frozenset({"invoice_number", "title", "date_of_invoice", "sum_net", "sum_gross", "created_at"}),
    includes=frozenset({"external_costs", "line_items", "discounts"}),
    fields=(
        FilterField("archived", "enum", frozenset({"eq"}), enum_values=("with", "only", "without")),
        FilterField("title", "string", STRING),
        FilterField("status", "enum", ENUM, type_arg="OutgoingInvoiceStatus"),
        FilterField("is_credit", "boolean", frozenset({"eq", "ne", "neq", "isnull", "isnotnull", "notnull"})),
        FilterField("date_of_invoice", "date", DATE),
        FilterField("payment_due_date", "date", DATE),
        FilterField("sum_net", "currency", CURRENCY),
        FilterField("sum_gross", "currency", CURRENCY),
        FilterField("editor.id", "id", ID, type_arg="UserData"),
        FilterField("client.name", "string", STRING),
        FilterField("line_items", "relation", RELATION, sub_fields=LINE_ITEM_FIELDS),
    ),
    computed_relations=(
        ComputedRelation("line_items", frozenset({"count", "sum", "avg", "min", "max"}), "lineItems"),
        ComputedRelation("external_costs", frozenset({"count", "sum"}), "internalCosts"),
    ),
    sorts_computed=True,
)
LINE_ITEMS = Capabilities("outgoingInvoices.lineItems", sorts=frozenset({"title"}), fields=LINE_ITEM_FIELDS)


def roundtrip(flt: Any) -> Any:
    encoded = encode_filter(flt)
    assert encoded is not None
    return msgspec.json.decode(encoded)
