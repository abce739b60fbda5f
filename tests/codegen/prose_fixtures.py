"""The seed pages' prose for the three outgoing-invoice list operations, as the description carries
it (``shared/seeds/003_*.txt``): Markdown tables with ``<br>`` inside the relation cells. Operator
lists repeat verbatim in the seed, so they are spelled once here as constants.
"""

from __future__ import annotations

from kanbert_async._core.capabilities import FilterField

STRING_OPS = "in, nin, notin, eq, ne, neq, contains, like, startswith, endswith, isnull, isnotnull, notnull"
ENUM_OPS = "eq, ne, neq, in, nin, notin"
BOOL_OPS = "eq, ne, neq, isnull, isnotnull, notnull"
DATE_OPS = "eq, ne, neq, lt, lte, le, gt, gte, ge, in, nin, notin, isnull, isnotnull, notnull"
FLOAT_OPS = DATE_OPS
CURRENCY_OPS = (
    "eq, ne, neq, lt, lte, le, gt, gte, ge, in, nin, notin, contains, like, startswith, endswith, "
    "isnull, isnotnull, notnull"
)
ID_OPS = "eq, ne, neq, in, nin, notin, isnull, isnotnull, notnull"
RELATION_OPS = "any, none, count, all"

LINE_ITEMS_CELL = (
    "Relation<br>- title (string)<br>- price (currency)<br>- amount (float)<br>- project.id (id)"
    "<br>- project.title (string)<br>- project.external_id (string)<br>- project.shortcode (string)"
    "<br>- total_net (currency)<br>- total_net_base (currency)<br>- total_net_without_discount (currency)"
    "<br>- total_gross (currency)<br>- total_gross_base (currency)"
    "<br>- total_gross_without_discount (currency)<br>- purchase_total (currency)"
    "<br>- purchase_total_base (currency)<br>- type (enum)"
)
EXTERNAL_COSTS_CELL = (
    "Relation<br>- title (string)<br>- amount (float)<br>- project.id (id)<br>- project.title (string)"
    "<br>- project.external_id (string)<br>- project.shortcode (string)<br>- supplier.id (id)"
    "<br>- supplier.name (string)<br>- price (currency)<br>- total (currency)"
)

FILTER_TRAILER = """

Filtering expression. Accepts either JSON (array/tree of conditions) or a readable string DSL.

You can check the full syntax at Docs Filtering section.

Special values:

- me.id — current authenticated user id (usable on fields of type id). Example: id eq me.id
- now — current date-time. Example: dueOn lt now
- sow/eow — start/end of week. Examples: dueOn gt sow, dueOn lt eow
- som/eom — start/end of month. Examples: dueOn gt som, dueOn lt eom
- today — special date for today; with eq it expands to the whole day range. Example: dueOn eq today
- today±Nd — relative day offset. Examples: today-30d, today+5d."""


def table(*rows: tuple[str, str, str]) -> str:
    head = "Allowed filter fields (with allowed operators):\n\n| Field | Type | Operators |\n|---|---|---|\n"
    return head + "\n".join(f"| {f} | {t} | {o} |" for f, t, o in rows) + FILTER_TRAILER


INVOICES_SORT = (
    "Available sorts are invoice_number, title, date_of_invoice, sum_net, sum_tax, sum_external_costs, "
    "sum_gross, created_at, updated_at, computed_fields.<alias>.\nYou can sort by multiple options by "
    "separating them with a comma. To sort in descending order, use - sign in front of the sort, "
    "for example: -title."
)
MASTERS_SORT = (
    "Available sorts are title, performance_range_start, performance_range_end, sum_net, sum_tax, "
    "sum_external_costs, sum_gross, created_at, updated_at, computed_fields.<alias>.\nYou can sort by "
    "multiple options by separating them with a comma. To sort in descending order, use - sign in front "
    "of the sort, for example: -title."
)
LINE_ITEMS_SORT = (
    "Available sorts are title, price, total_net_base, total_net_without_discount, total_net, "
    "total_gross_base, total_gross_without_discount, total_gross, purchase_total, purchase_total_base, "
    "purchase_price, created_at, updated_at.\nYou can sort by multiple options by separating them with a "
    "comma. To sort in descending order, use - sign in front of the sort, for example: -title."
)
INCLUDE = (
    "Available includes are external_costs, line_items, discounts. "
    "You can include multiple options by separating them with a comma."
)

# Rows shared by the invoice and master-invoice tables, in the seed's order.
_PARTY_ROWS = (
    ("editor.id", "id<UserData>", ID_OPS),
    ("editor.external_id", "string", STRING_OPS),
    ("editor.email", "string", STRING_OPS),
    ("client.id", "id<ClientData>", ID_OPS),
    ("client.name", "string", STRING_OPS),
    ("client.external_id", "string", STRING_OPS),
    ("client.shortcode", "string", STRING_OPS),
    ("project.id", "id<ProjectData>", ID_OPS),
    ("project.title", "string", STRING_OPS),
    ("project.external_id", "string", STRING_OPS),
    ("project.shortcode", "string", STRING_OPS),
    ("company.id", "id<CompanyData>", ID_OPS),
    ("company.company_name:string", "string", STRING_OPS),
    ("line_items", LINE_ITEMS_CELL, RELATION_OPS),
    ("external_costs", EXTERNAL_COSTS_CELL, RELATION_OPS),
)
INVOICES_FILTER = table(
    ("archived", "enum: with, only, without", "eq"),
    ("title", "string", STRING_OPS),
    ("status", "enum<OutgoingInvoiceStatus>", ENUM_OPS),
    ("payment_status", "enum<OutgoingInvoicePaymentStatus>", ENUM_OPS),
    ("invoice_number", "string", STRING_OPS),
    ("is_credit", "boolean", BOOL_OPS),
    ("date_of_invoice", "date", DATE_OPS),
    ("payment_due_date", "date", DATE_OPS),
    ("sum_net", "currency", CURRENCY_OPS),
    ("sum_tax", "currency", CURRENCY_OPS),
    ("sum_gross", "currency", CURRENCY_OPS),
    *_PARTY_ROWS,
)
MASTERS_FILTER = table(
    ("archived", "enum: with, only, without", "eq"),
    ("title", "string", STRING_OPS),
    ("sum_net", "currency", CURRENCY_OPS),
    ("sum_tax", "currency", CURRENCY_OPS),
    ("sum_gross", "currency", CURRENCY_OPS),
    *_PARTY_ROWS,
)
LINE_ITEMS_FILTER = table(
    ("title", "string", STRING_OPS),
    ("price", "float", FLOAT_OPS),
    ("amount", "float", FLOAT_OPS),
    ("tax_factor", "float", FLOAT_OPS),
    ("project.id", "id<ProjectData>", ID_OPS),
    ("project.title", "string", STRING_OPS),
    ("project.external_id", "string", STRING_OPS),
    ("project.shortcode", "string", STRING_OPS),
    ("total_net_base", "currency", CURRENCY_OPS),
    ("total_net_without_discount", "currency", CURRENCY_OPS),
    ("total_net", "currency", CURRENCY_OPS),
    ("total_gross_base", "currency", CURRENCY_OPS),
    ("total_gross_without_discount", "currency", CURRENCY_OPS),
    ("total_gross", "currency", CURRENCY_OPS),
    ("purchase_price", "currency", CURRENCY_OPS),
    ("purchase_total_base", "currency", CURRENCY_OPS),
    ("purchase_total", "currency", CURRENCY_OPS),
    ("type", "enum<AccountingLineItemType>", ENUM_OPS),
    ("metric.id", "id<MetricData>", ID_OPS),
    ("metric.title", "string", STRING_OPS),
)
COMPUTED = """Dynamic computed relation fields (computed_fields[alias])

Declare ad-hoc aggregates per request using: computed_fields[<alias>] = relation.aggregate(args)

Syntax:

- Count: relation.count() or relation.count(<where>)
- Sum/Avg/Min/Max: relation.sum(<column>) or relation.sum(<column>, <where>)

Where is written using the same Filter DSL and is validated against the relation's allowed fields.

Use the prefix computed_fields. when referencing these aliases in filter or sort, e.g., \
filter=computed_fields.tasks_done gte 1 or sort=-computed_fields.tasks_done. Bare aliases are accepted \
for backward compatibility but deprecated.

Allowed relations for computed_fields (deny-all by default):

- line_items (→ lineItems): aggregates: count, sum, avg, min, max; coalesce default: 0
- external_costs (→ internalCosts): aggregates: count, sum, avg, min, max; coalesce default: 0

Example: ?computed_fields[tasks_done]=tasks.count(status%20eq%20%22Completed%22)"""


def q(name: str, description: str) -> dict[str, object]:
    return {"name": name, "in": "query", "description": description, "schema": {"type": "string"}}


PAGING = [
    {
        "name": "page[size]",
        "in": "query",
        "description": "The number of results.",
        "schema": {"type": "integer"},
    },
    {"name": "page[cursor]", "in": "query", "description": "The cursor.", "schema": {"type": "string"}},
]
INVOICES_PARAMS = [
    q("sort", INVOICES_SORT),
    q("include", INCLUDE),
    *PAGING,
    q("filter", INVOICES_FILTER),
    q("computed_fields[alias]", COMPUTED),
]
MASTERS_PARAMS = [
    q("sort", MASTERS_SORT),
    q("include", INCLUDE),
    *PAGING,
    q("filter", MASTERS_FILTER),
    q("computed_fields[alias]", COMPUTED),
]
LINE_ITEMS_PARAMS = [
    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
    {"name": "find_by", "in": "query", "description": "The field to search by", "schema": {"type": "string"}},
    q("sort", LINE_ITEMS_SORT),
    *PAGING,
    q("filter", LINE_ITEMS_FILTER),
]

ALL_OPERATIONS = [
    ("outgoingInvoices.index", INVOICES_PARAMS),
    ("outgoingInvoiceMasters.index", MASTERS_PARAMS),
    ("outgoingInvoices.lineItems", LINE_ITEMS_PARAMS),
]


def ops(text: str) -> frozenset[str]:
    return frozenset(o.strip() for o in text.split(","))


def by_name(fields: list[FilterField]) -> dict[str, FilterField]:
    return {f.name: f for f in fields}
