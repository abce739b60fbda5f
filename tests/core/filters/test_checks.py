"""Checking a call's filter, sort, include and computed fields against the operation's tables."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from kanbert_async._core.capabilities import Capabilities, FilterField
from kanbert_async._core.errors import InvalidRequestError
from kanbert_async.filters import (
    ME_ID,
    Computed,
    Condition,
    F,
    asc,
    computed_fields_params,
    desc,
    prepare_list_params,
    today,
)
from tests.core.filters.fixtures import (
    INVOICES,
    LINE_ITEM_FIELDS,
    LINE_ITEMS,
)

# -- checks against an operation ----------------------------------------------------------------


def test_an_unknown_filter_field_names_the_operation_and_lists_the_allowed_fields() -> None:
    with pytest.raises(InvalidRequestError) as info:
        INVOICES.check_filter(F("titel") == "x")
    message = str(info.value)
    assert message.startswith("outgoingInvoices.index: unknown filter field 'titel'")
    assert "did you mean 'title'" in message
    assert "Allowed: archived, client.name, date_of_invoice, editor.id, is_credit, line_items," in message


def test_an_operator_the_field_lacks_is_refused_with_the_fields_operators() -> None:
    with pytest.raises(InvalidRequestError) as info:
        INVOICES.check_filter((F("sum_net") > 1) & F("title").lt("m"))
    message = str(info.value)
    assert "outgoingInvoices.index: operator 'lt' is not allowed on filter field 'title' (string)" in message
    assert "Allowed operators: contains, endswith, eq, in," in message


def test_nested_conditions_are_checked_too() -> None:
    with pytest.raises(InvalidRequestError, match="'archived'"):
        INVOICES.check_filter((F("title") == "a") | ((F("sum_net") > 1) & (F("archived") != "with")))


@pytest.mark.parametrize(
    ("fields", "op"),
    [({"le"}, "lte"), ({"lte"}, "le"), ({"neq"}, "ne"), ({"ge"}, "gte"), ({"notin"}, "nin"),
     ({"notnull"}, "isnotnull"), ({"isnotnull"}, "notnull"), ({"nin"}, "notin")],
)  # fmt: skip
def test_operator_aliases_are_equivalent(fields: set[str], op: str) -> None:
    caps = Capabilities("x.index", fields=(FilterField("n", "float", frozenset(fields)),))
    caps.check_filter(Condition("n", op, 1))
    with pytest.raises(InvalidRequestError):
        caps.check_filter(Condition("n", "contains", 1))


def test_the_built_filter_from_the_docs_passes() -> None:
    flt = F("title").contains("Acme") & (
        (F("date_of_invoice") >= date(2024, 1, 1)) | F("client.name").startswith("Corp")
    )
    INVOICES.check_filter(flt)
    INVOICES.check_filter((F("editor.id") == ME_ID) & (F("payment_due_date") < today(-30)))


def test_relation_conditions_are_checked_against_the_relations_fields() -> None:
    INVOICES.check_filter(F("line_items").any(F("title").contains("x")))
    INVOICES.check_filter(F("line_items").count(F("total_net") > 5) >= 2)
    with pytest.raises(InvalidRequestError) as info:
        INVOICES.check_filter(F("line_items").any(F("titel") == "x"))
    message = str(info.value)
    assert "unknown filter field 'titel' in relation 'line_items'" in message
    assert "Allowed: amount, project.id, title, total_net, type." in message
    with pytest.raises(InvalidRequestError, match="in relation 'line_items'"):
        INVOICES.check_filter(F("line_items").count(F("title") > "b") >= 1)


def test_a_relation_needs_a_relation_operator_and_only_relations_take_one() -> None:
    with pytest.raises(InvalidRequestError, match="is a relation"):
        INVOICES.check_filter(F("line_items") == "x")
    with pytest.raises(InvalidRequestError, match="needs a relation field"):
        INVOICES.check_filter(F("title").any(F("x") == 1))


def test_computed_fields_may_be_filtered_when_declared_in_the_call() -> None:
    flt = F("computed_fields.items") >= 3
    INVOICES.check_filter(flt, computed=["items"])
    with pytest.raises(InvalidRequestError, match="no computed field 'items' is declared"):
        INVOICES.check_filter(flt)
    with pytest.raises(InvalidRequestError, match=r"write it as 'computed_fields\.items'"):
        INVOICES.check_filter(F("items") >= 3, computed=["items"])
    with pytest.raises(InvalidRequestError, match="operator 'contains'"):
        INVOICES.check_filter(F("computed_fields.items").contains("3"), computed=["items"])


def test_sort_accepts_names_descending_names_and_declared_computed_fields() -> None:
    assert INVOICES.check_sort(["-date_of_invoice", "title"]) == "-date_of_invoice,title"
    assert INVOICES.check_sort("sum_net, -created_at") == "sum_net,-created_at"
    assert (
        INVOICES.check_sort([desc("computed_fields.items")], computed=["items"]) == "-computed_fields.items"
    )
    assert INVOICES.check_sort([asc("computed_fields.items")], computed=["items"]) == "computed_fields.items"


def test_an_unknown_sort_lists_the_sorts() -> None:
    with pytest.raises(InvalidRequestError) as info:
        INVOICES.check_sort(["-status"])
    assert str(info.value) == (
        "outgoingInvoices.index: unknown sort key 'status'. Allowed: created_at, date_of_invoice, "
        "invoice_number, sum_gross, sum_net, title, computed_fields.<alias>."
    )


def test_sorting_by_a_computed_field_needs_the_operation_and_the_declaration() -> None:
    with pytest.raises(InvalidRequestError, match="no computed field 'nope' is declared"):
        INVOICES.check_sort("computed_fields.nope")
    with pytest.raises(InvalidRequestError, match="no computed-field sorts"):
        LINE_ITEMS.check_sort("computed_fields.items", computed=["items"])
    with pytest.raises(InvalidRequestError, match=r"write it as 'computed_fields\.items'"):
        INVOICES.check_sort("-items", computed=["items"])


def test_includes_are_checked_and_deduplicated() -> None:
    assert INVOICES.check_include(["line_items", "discounts", "line_items"]) == "line_items,discounts"
    with pytest.raises(InvalidRequestError, match=r"unknown include 'lineitems'.*Allowed: discounts, ext"):
        INVOICES.check_include("lineitems")
    with pytest.raises(InvalidRequestError, match="offers no includes"):
        LINE_ITEMS.check_include("project")


def test_unchecked_parameters_pass_through_as_given() -> None:
    caps = Capabilities("x.index", unchecked=frozenset({"sort", "include", "filter", "computed_fields"}))
    assert caps.check_sort(["-anything"]) == "-anything"
    assert caps.check_include("whatever") == "whatever"
    caps.check_filter(F("nope") == 1)
    caps.check_computed("a", "tasks", "median", F("x") == 1)


def test_partition_fields_prefer_sortable_dates_then_currencies() -> None:
    assert [f.name for f in INVOICES.partition_fields()] == [
        "date_of_invoice", "sum_gross", "sum_net", "payment_due_date",
    ]  # fmt: skip
    assert LINE_ITEMS.partition_fields() == [LINE_ITEM_FIELDS[1]]


# -- computed fields ----------------------------------------------------------------------------


def test_computed_expressions_read_like_the_api_syntax() -> None:
    assert Computed.count("line_items").expression() == "line_items.count()"
    assert Computed.sum("line_items", "total_net").expression() == "line_items.sum(total_net)"
    assert Computed.avg("line_items", "amount").expression() == "line_items.avg(amount)"
    assert Computed.min("line_items", "amount").expression() == "line_items.min(amount)"
    assert Computed.max("line_items", "amount").expression() == "line_items.max(amount)"
    where = F("title").contains('say "hi"') & (F("amount") > 2)
    assert Computed.sum("line_items", "total_net", where=where).expression() == (
        'line_items.sum(total_net, title contains "say \\"hi\\"" and amount gt 2)'
    )
    assert Computed.count("line_items", where='type eq "service"').expression() == (
        'line_items.count(type eq "service")'
    )


def test_computed_fields_become_query_parameters() -> None:
    params = computed_fields_params({"n": Computed.count("line_items"), "raw": "tasks.count()"})
    assert params == {"computed_fields[n]": "line_items.count()", "computed_fields[raw]": "tasks.count()"}


@pytest.mark.parametrize("alias", ["", "a b", "a]", "x[y]", "1st", "a.b"])
def test_a_computed_alias_must_be_a_plain_name(alias: str) -> None:
    with pytest.raises(InvalidRequestError, match="alias"):
        computed_fields_params({alias: Computed.count("line_items")})


@pytest.mark.parametrize(
    "build",
    [
        lambda: Computed("line_items", "median", "amount"),
        lambda: Computed("line_items", "count", "amount"),
        lambda: Computed.sum("line_items", "total_net) or (1"),
        lambda: Computed.count("line_items) or (x"),
    ],
)
def test_malformed_computed_fields_are_refused_when_built(build: Any) -> None:
    with pytest.raises(InvalidRequestError):
        build()


def test_computed_fields_are_checked_against_the_operation() -> None:
    with pytest.raises(InvalidRequestError) as info:
        Computed.count("tasks").check(INVOICES, "n")
    assert str(info.value) == (
        "outgoingInvoices.index: computed field 'n': relation 'tasks' is not allowed. "
        "Allowed: external_costs, line_items."
    )
    with pytest.raises(InvalidRequestError, match="aggregate 'avg' is not allowed on 'external_costs'"):
        Computed.avg("external_costs", "amount").check(INVOICES, "n")
    with pytest.raises(InvalidRequestError, match="offers no computed fields"):
        Computed.count("line_items").check(LINE_ITEMS, "n")


def test_a_computed_where_is_checked_against_the_relations_fields() -> None:
    Computed.count("line_items", where=F("title").contains("x")).check(INVOICES, "n")
    with pytest.raises(InvalidRequestError) as info:
        Computed.count("line_items", where=F("titel") == "x").check(INVOICES, "n")
    assert "unknown filter field 'titel' in relation 'line_items' (computed field 'n')" in str(info.value)


def test_prepare_list_params_checks_everything_and_builds_the_query() -> None:
    params = prepare_list_params(
        INVOICES,
        sort=[desc("computed_fields.support"), "title"],
        include="line_items",
        filter=(F("status") == "paid") & (F("computed_fields.support") > 0),
        computed_fields={
            "support": Computed.sum("line_items", "total_net", where=F("title").contains("Support"))
        },
    )
    assert params == {
        "computed_fields[support]": 'line_items.sum(total_net, title contains "Support")',
        "sort": "-computed_fields.support,title",
        "include": "line_items",
        "filter": '[{"field":"status","op":"eq","value":"paid"},'
        '{"field":"computed_fields.support","op":"gt","value":0}]',
    }


def test_prepare_list_params_refuses_before_anything_is_sent() -> None:
    with pytest.raises(InvalidRequestError, match=r"outgoingInvoices\.index: unknown filter field 'nope'"):
        prepare_list_params(INVOICES, filter=F("nope") == 1)
    with pytest.raises(InvalidRequestError, match="unknown include"):
        prepare_list_params(INVOICES, include=["line_items", "lines"])
    with pytest.raises(InvalidRequestError, match="offers no computed fields"):
        prepare_list_params(LINE_ITEMS, computed_fields={"n": "line_items.count()"})
    assert prepare_list_params(INVOICES) == {}


def test_an_operation_without_a_table_passes_its_arguments_through_but_still_checks_aliases() -> None:
    undocumented = Capabilities.undocumented("things.index")
    params = prepare_list_params(
        undocumented,
        sort=["-anything", "else"],
        include="whatever",
        filter=F("nope") == 1,
        computed_fields={"n": Computed.count("tasks"), "m": "tasks.median(x)"},
    )
    assert params == {
        "computed_fields[n]": "tasks.count()",
        "computed_fields[m]": "tasks.median(x)",
        "sort": "-anything,else",
        "include": "whatever",
        "filter": '[{"field":"nope","op":"eq","value":1}]',
    }
    # What needs no table is checked all the same: a bad alias, a value that is no declaration.
    with pytest.raises(InvalidRequestError, match="alias is a plain name"):
        prepare_list_params(undocumented, computed_fields={"not an alias": Computed.count("tasks")})
    with pytest.raises(TypeError, match="must be a Computed or a string"):
        prepare_list_params(undocumented, computed_fields={"n": 3})  # type: ignore[dict-item]


def test_desc_and_asc_build_single_sort_keys() -> None:
    assert desc("created_at") == "-created_at"
    assert asc("created_at") == "created_at"
    for bad in ("-created_at", "", "a,b"):
        with pytest.raises(InvalidRequestError):
            desc(bad)
