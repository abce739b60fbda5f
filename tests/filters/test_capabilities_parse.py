"""Codegen reads each list operation's sorts, includes, filter table and computed-field relations
out of the description's Markdown prose.

The fixtures are the seed pages' texts for the three outgoing-invoice list operations
(``shared/seeds/003_*.txt``), written as the description carries them: Markdown tables with
``<br>`` inside the relation cells. Operator lists repeat verbatim in the seed, so they are spelled
once here as constants.
"""

from __future__ import annotations

import random

import pytest

from codegen.capabilities import (
    DEFAULT_OPERATORS,
    parse_computed_relations,
    parse_filter_table,
    parse_includes,
    parse_operation,
    parse_sorts,
    render_capabilities,
)
from kanbert_async._core.capabilities import Capabilities, ComputedRelation, FilterField

# -- fixtures: the seed's prose ----------------------------------------------------------------

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


# -- sorts and includes -------------------------------------------------------------------------


def test_invoice_sorts_are_read_in_order_and_computed_alias_is_a_flag() -> None:
    assert parse_sorts(INVOICES_SORT) == (
        [
            "invoice_number", "title", "date_of_invoice", "sum_net", "sum_tax", "sum_external_costs",
            "sum_gross", "created_at", "updated_at",
        ],
        True,
    )  # fmt: skip


def test_line_item_sorts_do_not_offer_computed_fields() -> None:
    parsed = parse_sorts(LINE_ITEMS_SORT)
    assert parsed is not None
    names, computed = parsed
    assert computed is False
    assert names[0] == "title"
    assert names[-3:] == ["purchase_price", "created_at", "updated_at"]
    assert len(names) == 13


def test_includes_are_the_listed_relations() -> None:
    assert parse_includes(INCLUDE) == ["external_costs", "line_items", "discounts"]


@pytest.mark.parametrize(
    "text",
    [
        "Available sorts are `title`, `created_at` and `-updated_at`.",
        "Available sorts are: title, created_at, updated_at",
        "available sorts are title,created_at ,  updated_at.  You can sort descending.",
        "Available sorts are:\n\n- title\n* created_at\n• updated_at\n\nYou can sort by several.",
    ],
)
def test_sort_lists_are_read_in_their_variants(text: str) -> None:
    assert parse_sorts(text) == (["title", "created_at", "updated_at"], False)


def test_escaped_and_entity_encoded_alias_placeholders_still_mark_computed_sorts() -> None:
    assert parse_sorts("Available sorts are title, computed_fields.\\<alias\\>.") == (["title"], True)
    assert parse_sorts("Available sorts are title, computed_fields.&lt;alias&gt;.") == (["title"], True)


@pytest.mark.parametrize(
    "text",
    [None, "", "Sort the results.", "Available sorts are listed in the guide at docs/sorting."],
)
def test_sort_prose_without_a_readable_list_gives_none(text: str | None) -> None:
    assert parse_sorts(text) is None


def test_include_prose_without_a_list_gives_none() -> None:
    assert parse_includes("Relations to load with the records.") is None


# -- filter tables ------------------------------------------------------------------------------


def test_invoice_filter_table_lists_every_field_in_table_order() -> None:
    fields = parse_filter_table(INVOICES_FILTER)
    assert fields is not None
    assert [f.name for f in fields] == [
        "archived", "title", "status", "payment_status", "invoice_number", "is_credit",
        "date_of_invoice", "payment_due_date", "sum_net", "sum_tax", "sum_gross",
        "editor.id", "editor.external_id", "editor.email",
        "client.id", "client.name", "client.external_id", "client.shortcode",
        "project.id", "project.title", "project.external_id", "project.shortcode",
        "company.id", "company.company_name", "line_items", "external_costs",
    ]  # fmt: skip


def test_invoice_filter_fields_carry_types_type_args_and_operators() -> None:
    fields = by_name(parse_filter_table(INVOICES_FILTER) or [])
    assert fields["archived"] == FilterField(
        "archived", "enum", frozenset({"eq"}), enum_values=("with", "only", "without")
    )
    assert fields["title"] == FilterField("title", "string", ops(STRING_OPS))
    assert fields["status"] == FilterField("status", "enum", ops(ENUM_OPS), type_arg="OutgoingInvoiceStatus")
    assert fields["payment_status"].type_arg == "OutgoingInvoicePaymentStatus"
    assert fields["is_credit"] == FilterField("is_credit", "boolean", ops(BOOL_OPS))
    assert fields["date_of_invoice"] == FilterField("date_of_invoice", "date", ops(DATE_OPS))
    assert fields["sum_gross"] == FilterField("sum_gross", "currency", ops(CURRENCY_OPS))
    assert fields["editor.id"] == FilterField("editor.id", "id", ops(ID_OPS), type_arg="UserData")
    assert fields["client.id"].type_arg == "ClientData"
    assert fields["project.id"].type_arg == "ProjectData"
    assert fields["company.id"].type_arg == "CompanyData"


def test_a_field_name_with_a_type_suffix_is_read_as_the_bare_name() -> None:
    fields = by_name(parse_filter_table(INVOICES_FILTER) or [])
    assert "company.company_name:string" not in fields
    assert fields["company.company_name"] == FilterField("company.company_name", "string", ops(STRING_OPS))


def test_line_items_relation_keeps_its_sub_fields_with_their_types() -> None:
    line_items = by_name(parse_filter_table(INVOICES_FILTER) or [])["line_items"]
    assert line_items.type == "relation"
    assert line_items.operators == frozenset({"any", "none", "count", "all"})
    assert {s.name: s.type for s in line_items.sub_fields} == {
        "title": "string", "price": "currency", "amount": "float", "project.id": "id",
        "project.title": "string", "project.external_id": "string", "project.shortcode": "string",
        "total_net": "currency", "total_net_base": "currency", "total_net_without_discount": "currency",
        "total_gross": "currency", "total_gross_base": "currency",
        "total_gross_without_discount": "currency", "purchase_total": "currency",
        "purchase_total_base": "currency", "type": "enum",
    }  # fmt: skip
    subs = line_items.sub_field_map()
    # "(id)" and "(enum)" come without a <Name>: kept as plain id / enum.
    assert subs["project.id"].type_arg is None
    assert subs["type"].type_arg is None
    # Sub-fields are listed without operators; they get those the tables give their type.
    assert subs["title"].operators == ops(STRING_OPS)
    assert subs["total_net"].operators == ops(CURRENCY_OPS)


def test_external_costs_relation_lists_supplier_fields() -> None:
    costs = by_name(parse_filter_table(INVOICES_FILTER) or [])["external_costs"]
    assert [s.name for s in costs.sub_fields] == sorted(
        ["title", "amount", "project.id", "project.title", "project.external_id", "project.shortcode",
         "supplier.id", "supplier.name", "price", "total"]
    )  # fmt: skip
    assert costs.sub_field_map()["supplier.id"].type == "id"


def test_master_invoice_table_has_no_invoice_dates_but_the_same_relations() -> None:
    fields = by_name(parse_filter_table(MASTERS_FILTER) or [])
    assert len(fields) == 20
    assert "date_of_invoice" not in fields and "status" not in fields
    assert fields["line_items"].type == "relation"
    assert fields["archived"].enum_values == ("with", "only", "without")


def test_line_item_table_reads_floats_enums_and_ids() -> None:
    fields = by_name(parse_filter_table(LINE_ITEMS_FILTER) or [])
    assert len(fields) == 20
    assert fields["price"] == FilterField("price", "float", ops(FLOAT_OPS))
    assert fields["type"] == FilterField("type", "enum", ops(ENUM_OPS), type_arg="AccountingLineItemType")
    assert fields["metric.id"] == FilterField("metric.id", "id", ops(ID_OPS), type_arg="MetricData")
    assert fields["purchase_price"].type == "currency"


def test_the_table_variants_of_the_published_bundle_are_read() -> None:
    text = "\n".join(
        [
            "Allowed filter fields:",
            "",
            "|  **Field**  | Type |  Allowed operators  |",
            "|:-----|:----:|------:|",
            "|  `due_on`  |  datetime.  |  EQ,  lt   gte;ge  |",
            "| hours | integer | eq lt |",
            "| done | boolean | eq |",
            "| kind | enum&lt;TaskKind&gt; | eq, in |",
            "| owner | id | eq |",
            "| state | enum(open, closed) | eq |",
            "| tasks | Relation",
            "• name (string)",
            "* due_on (date)",
            "- owner.id (id) | any, count |",
            "| comments | Relation<br>- body (string)<br>- created_at (datetime). | any |",
        ]
    )
    fields = by_name(parse_filter_table(text) or [])
    assert fields["due_on"] == FilterField("due_on", "datetime", frozenset({"eq", "lt", "gte", "ge"}))
    assert fields["hours"] == FilterField("hours", "integer", frozenset({"eq", "lt"}))
    assert fields["done"].type == "boolean"
    assert (fields["kind"].type, fields["kind"].type_arg) == ("enum", "TaskKind")
    assert (fields["owner"].type, fields["owner"].type_arg) == ("id", None)
    assert fields["state"].enum_values == ("open", "closed")
    assert {s.name: s.type for s in fields["tasks"].sub_fields} == {
        "name": "string",
        "due_on": "date",
        "owner.id": "id",
    }
    assert fields["tasks"].operators == frozenset({"any", "count"})
    assert {s.name: s.type for s in fields["comments"].sub_fields} == {
        "body": "string",
        "created_at": "datetime",
    }


def test_a_table_without_outer_pipes_is_read() -> None:
    text = "Field | Type | Operators\n--- | --- | ---\ntitle | string | eq, contains\n"
    assert parse_filter_table(text) == [FilterField("title", "string", frozenset({"eq", "contains"}))]


def test_an_unknown_type_is_kept_as_unknown_with_its_text() -> None:
    text = table(("budget", "money", "eq, lt"), ("title", "string", "eq"))
    fields = by_name(parse_filter_table(text) or [])
    assert fields["budget"] == FilterField("budget", "unknown", frozenset({"eq", "lt"}), type_arg="money")


def test_an_empty_operator_cell_gets_the_operators_of_its_type() -> None:
    fields = by_name(parse_filter_table(table(("due_on", "date", ""))) or [])
    assert fields["due_on"].operators == DEFAULT_OPERATORS["date"]


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "Filtering expression. Accepts either JSON or a readable string DSL.",
        # the flattened rendering of the docs page, not Markdown
        "Allowed filter fields (with allowed operators):\n\nFieldTypeOperators\ntitlestringeq, ne\n",
        # a header without rows
        "| Field | Type | Operators |\n|---|---|---|\n\nNothing here.",
        # a row whose field cell is not a name
        table(("title", "string", "eq"), ("see the guide for more", "string", "eq")),
        # a row with too few cells
        "| Field | Type | Operators |\n|---|---|---|\n| title | string |\n",
        # a relation cell whose sub-field list is garbled
        table(("line_items", "Relation<br>- title (string<br>- price currency)", "any")),
        # a multi-line row that never closes
        "| Field | Type | Operators |\n|---|---|---|\n| tasks | Relation\n- name (string)\n",
        "| Field | Type | Operators |\n|---|---|---|\n| title | string | eq |\n| tasks | Relation\n- name\n",
        # a second line in a plain type cell
        table(("title", "string<br>or number", "eq")),
    ],
)
def test_a_missing_or_malformed_table_gives_none(text: str | None) -> None:
    assert parse_filter_table(text) is None


# -- computed fields ----------------------------------------------------------------------------


def test_computed_relations_are_read_with_targets_and_aggregates() -> None:
    assert parse_computed_relations(COMPUTED) == [
        ComputedRelation("line_items", frozenset({"count", "sum", "avg", "min", "max"}), "lineItems"),
        ComputedRelation("external_costs", frozenset({"count", "sum", "avg", "min", "max"}), "internalCosts"),
    ]


def test_computed_relation_variants_are_read() -> None:
    text = (
        "Allowed relations for computed_fields:\n"
        "  • tasks (-> tasks): aggregates: count.\n"
        "  * efforts: sum, avg\n"
    )
    assert parse_computed_relations(text) == [
        ComputedRelation("tasks", frozenset({"count"}), "tasks"),
        ComputedRelation("efforts", frozenset({"sum", "avg"}), None),
    ]


@pytest.mark.parametrize(
    "text",
    [
        None,
        "Dynamic computed relation fields.",
        "Allowed relations for computed_fields (deny-all by default):\n\nAsk support to enable some.",
        "Allowed relations for computed_fields:\n- line_items (→ lineItems): aggregates: ; coalesce: 0\n",
        "Allowed relations for computed_fields:\n- line items with totals\n",
    ],
)
def test_computed_prose_without_a_readable_list_gives_none(text: str | None) -> None:
    assert parse_computed_relations(text) is None


# -- whole operations ---------------------------------------------------------------------------


def test_invoice_list_capabilities_combine_every_parameter() -> None:
    caps, warnings = parse_operation("outgoingInvoices.index", INVOICES_PARAMS)
    assert caps is not None
    assert caps.operation == "outgoingInvoices.index"
    assert caps.sorts_computed is True
    assert "date_of_invoice" in caps.sorts and "computed_fields.<alias>" not in caps.sorts
    assert caps.includes == frozenset({"external_costs", "line_items", "discounts"})
    assert len(caps.filter_fields) == 26
    assert {r.name for r in caps.computed_relations} == {"line_items", "external_costs"}
    assert caps.unchecked == frozenset()
    assert warnings == [
        "outgoingInvoices.index: filter field 'company.company_name:string' read as 'company.company_name'"
    ]


def test_line_item_list_offers_no_includes_or_computed_fields() -> None:
    caps, warnings = parse_operation("outgoingInvoices.lineItems", LINE_ITEMS_PARAMS)
    assert caps is not None
    assert warnings == []
    assert caps.includes == frozenset()
    assert caps.computed_relations == ()
    assert caps.sorts_computed is False
    assert "purchase_price" in caps.sorts


def test_an_operation_without_list_parameters_has_no_capabilities() -> None:
    params = [{"name": "id", "in": "path", "required": True}, q("find_by", "The field to search by")]
    assert parse_operation("outgoingInvoices.show", params) == (None, [])


def test_an_unreadable_filter_table_leaves_the_filter_unchecked_and_says_so() -> None:
    params = [q("sort", INVOICES_SORT), q("filter", "Filtering expression, see the guide.")]
    caps, warnings = parse_operation("outgoingInvoices.index", params)
    assert caps is not None
    assert caps.unchecked == frozenset({"filter"})
    assert caps.fields == ()
    assert "title" in caps.sorts
    assert "outgoingInvoices.index: could not parse the filter table; its filter parameter stays untyped" in (
        warnings
    )


def test_unreadable_sort_include_and_computed_prose_each_warn_with_the_operation() -> None:
    params = [
        q("sort", "Sort by anything."),
        q("include", "Load relations."),
        q("filter", table(("title", "string", "eq"))),
        q("computed_fields[alias]", "Aggregates."),
    ]
    caps, warnings = parse_operation("tasks.index", params)
    assert caps is not None
    assert caps.unchecked == frozenset({"sort", "include", "computed_fields"})
    assert len(warnings) == 3
    assert all(w.startswith("tasks.index: could not parse") for w in warnings)


def test_unknown_types_and_empty_operator_cells_are_warned_about() -> None:
    params = [q("filter", table(("budget", "money", "eq"), ("due_on", "date", "")))]
    caps, warnings = parse_operation("projects.index", params)
    assert caps is not None and caps.unchecked == frozenset()
    assert "projects.index: filter field 'budget' has unknown type 'money'; kept as 'unknown'" in warnings
    assert any(w.startswith("projects.index: filter field 'due_on' lists no operators") for w in warnings)


def test_the_description_may_sit_on_the_parameter_schema() -> None:
    param = {"name": "include", "in": "query", "schema": {"type": "string", "description": INCLUDE}}
    caps, _ = parse_operation("outgoingInvoices.index", [param])
    assert caps is not None and caps.includes == frozenset({"external_costs", "line_items", "discounts"})


# -- rendering ----------------------------------------------------------------------------------

NAMESPACE = {"Capabilities": Capabilities, "FilterField": FilterField, "ComputedRelation": ComputedRelation}


@pytest.mark.parametrize(("operation_id", "params"), ALL_OPERATIONS)
def test_rendered_capabilities_evaluate_back_to_an_equal_value(operation_id: str, params: list[dict]) -> None:
    caps, _ = parse_operation(operation_id, params)
    assert caps is not None
    source = render_capabilities(caps)
    rebuilt = eval(source, dict(NAMESPACE))
    assert rebuilt == caps
    assert rebuilt.filter_fields.keys() == caps.filter_fields.keys()
    assert max(len(line) for line in source.splitlines()) <= 110
    # Sets are written sorted, so the output does not depend on hash order.
    assert "frozenset({'eq', 'in', 'isnotnull', 'isnull', 'ne', 'neq', 'nin', 'notin', 'notnull'})" in source


def test_rendering_does_not_depend_on_document_order() -> None:
    rows = [
        ("title", "string", STRING_OPS),
        ("date_of_invoice", "date", DATE_OPS),
        ("line_items", LINE_ITEMS_CELL, RELATION_OPS),
        ("status", "enum<OutgoingInvoiceStatus>", ENUM_OPS),
    ]
    shuffled = rows[:]
    random.Random(7).shuffle(shuffled)
    assert shuffled != rows
    first, _ = parse_operation("x.index", [q("filter", table(*rows)), q("sort", INVOICES_SORT)])
    second, _ = parse_operation("x.index", [q("sort", INVOICES_SORT), q("filter", table(*shuffled))])
    assert first is not None and second is not None
    assert render_capabilities(first) == render_capabilities(second)


def test_rendering_keeps_unchecked_parameters_and_unknown_types() -> None:
    caps = Capabilities(
        "tasks.index",
        fields=(FilterField("budget", "unknown", frozenset({"eq"}), type_arg="money"),),
        unchecked=frozenset({"sort"}),
    )
    rebuilt = eval(render_capabilities(caps), dict(NAMESPACE))
    assert rebuilt == caps
    assert rebuilt.unchecked == frozenset({"sort"})


def test_a_sort_family_named_by_a_placeholder_is_parsed_not_left_unchecked() -> None:
    from codegen.capabilities import parse_operation, parse_sort_prefixes
    from kanbert_async._core.errors import InvalidRequestError

    text = "Available sorts are name, created_at, custom_fields.<alias>.\nYou can sort by multiple options."
    assert parse_sort_prefixes(text) == ["custom_fields."]
    caps, warnings = parse_operation("clients.index", [{"name": "sort", "in": "query", "description": text}])
    assert warnings == [] and caps is not None
    assert caps.sorts == {"name", "created_at"} and caps.sort_prefixes == {"custom_fields."}
    assert isinstance(caps, Capabilities)
    assert caps.check_sort(["-custom_fields.industry", "name"]) == "-custom_fields.industry,name"
    with pytest.raises(InvalidRequestError, match=r"custom_fields\.<alias>"):
        caps.check_sort(["custom_fields."])
