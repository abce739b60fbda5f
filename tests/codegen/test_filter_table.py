"""Codegen reads an operation's filter table (``| Field | Type | Operators |``) out of its prose."""

from __future__ import annotations

import pytest

from codegen.capabilities import (
    DEFAULT_OPERATORS,
    parse_filter_table,
)
from kanbert_async._core.capabilities import FilterField
from tests.codegen.prose_fixtures import (
    BOOL_OPS,
    CURRENCY_OPS,
    DATE_OPS,
    ENUM_OPS,
    FLOAT_OPS,
    ID_OPS,
    INVOICES_FILTER,
    LINE_ITEMS_FILTER,
    MASTERS_FILTER,
    STRING_OPS,
    by_name,
    ops,
    table,
)

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
