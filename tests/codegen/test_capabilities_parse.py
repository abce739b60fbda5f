"""Codegen reads each list operation's sorts, includes and computed-field relations out of the
description's Markdown prose, and combines them with the filter table into its Capabilities.
"""

from __future__ import annotations

import pytest

from codegen.capabilities import (
    parse_computed_relations,
    parse_includes,
    parse_operation,
    parse_sort_prefixes,
    parse_sorts,
)
from kanbert_async._core.capabilities import ComputedRelation
from tests.codegen.prose_fixtures import (
    COMPUTED,
    INCLUDE,
    INVOICES_PARAMS,
    INVOICES_SORT,
    LINE_ITEMS_PARAMS,
    LINE_ITEMS_SORT,
    q,
    table,
)

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


def test_a_sort_family_named_by_a_placeholder_is_parsed_not_left_unchecked() -> None:
    from kanbert_async._core.errors import InvalidRequestError

    text = "Available sorts are name, created_at, custom_fields.<alias>.\nYou can sort by multiple options."
    assert parse_sort_prefixes(text) == ["custom_fields."]
    caps, warnings = parse_operation("clients.index", [q("sort", text)])
    assert warnings == [] and caps is not None
    assert caps.sorts == {"name", "created_at"} and caps.sort_prefixes == {"custom_fields."}
    assert caps.check_sort(["-custom_fields.industry", "name"]) == "-custom_fields.industry,name"
    with pytest.raises(InvalidRequestError, match=r"custom_fields\.<alias>"):
        caps.check_sort(["custom_fields."])
