"""The filter builder, its JSON and DSL output, computed fields, and the checks against an
operation's capabilities."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from kanbert_async._core.capabilities import Capabilities, ComputedRelation, FilterField
from kanbert_async._core.errors import InvalidRequestError
from kanbert_async.filters import (
    EOM,
    EOW,
    ME_ID,
    NOW,
    SOM,
    SOW,
    TODAY,
    And,
    Computed,
    Condition,
    Count,
    F,
    Or,
    and_,
    asc,
    computed_fields_params,
    desc,
    encode_filter,
    prepare_list_params,
    to_dsl,
    today,
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


# -- building and JSON shapes -------------------------------------------------------------------


def test_comparison_operators_map_to_the_api_operators() -> None:
    f = F("sum_net")
    assert [(f == 1).op, (f != 1).op, (f < 1).op, (f <= 1).op, (f > 1).op, (f >= 1).op] == [
        "eq", "ne", "lt", "lte", "gt", "gte",
    ]  # fmt: skip


def test_a_value_on_the_left_gives_the_mirrored_operator() -> None:
    assert (3 < F("sum_net")) == Condition("sum_net", "gt", 3)  # noqa: SIM300
    assert (date(2024, 1, 1) >= F("date_of_invoice")) == Condition("date_of_invoice", "lte", date(2024, 1, 1))


@pytest.mark.parametrize(
    ("built", "op", "value"),
    [
        (F("x").eq("a"), "eq", "a"),
        (F("x").ne("a"), "ne", "a"),
        (F("x").lt(1), "lt", 1),
        (F("x").lte(1), "lte", 1),
        (F("x").gt(1), "gt", 1),
        (F("x").gte(1), "gte", 1),
        (F("x").in_(["a", "b"]), "in", ["a", "b"]),
        (F("x").nin(iter(("a",))), "nin", ["a"]),
        (F("x").contains("a"), "contains", "a"),
        (F("x").like("a%"), "like", "a%"),
        (F("x").startswith("a"), "startswith", "a"),
        (F("x").endswith("a"), "endswith", "a"),
        (F("x").is_null(), "isnull", None),
        (F("x").is_not_null(), "isnotnull", None),
    ],
)
def test_every_builder_method_emits_its_condition(built: Condition, op: str, value: Any) -> None:
    assert built.to_json() == [{"field": "x", "op": op, "value": value}]


def test_a_flat_and_of_conditions_is_a_plain_array() -> None:
    flt = F("title").contains("Acme") & (F("sum_net") >= 100) & F("status").in_(["paid"])
    assert flt.to_json() == [
        {"field": "title", "op": "contains", "value": "Acme"},
        {"field": "sum_net", "op": "gte", "value": 100},
        {"field": "status", "op": "in", "value": ["paid"]},
    ]


def test_a_nested_group_makes_an_and_or_tree() -> None:
    flt = F("title").contains("Acme") & (
        (F("date_of_invoice") >= date(2024, 1, 1)) | F("client.name").startswith("Corp")
    )
    assert flt.to_json() == {
        "and": [
            {"field": "title", "op": "contains", "value": "Acme"},
            {
                "or": [
                    {"field": "date_of_invoice", "op": "gte", "value": "2024-01-01"},
                    {"field": "client.name", "op": "startswith", "value": "Corp"},
                ]
            },
        ]
    }


def test_an_or_at_the_top_is_an_or_object() -> None:
    flt = (F("a") == 1) | ((F("b") == 2) & (F("c") == 3))
    assert flt.to_json() == {
        "or": [
            {"field": "a", "op": "eq", "value": 1},
            {"and": [{"field": "b", "op": "eq", "value": 2}, {"field": "c", "op": "eq", "value": 3}]},
        ]
    }


def test_same_kind_groups_flatten_and_mixed_groups_nest() -> None:
    a, b, c = F("a") == 1, F("b") == 2, F("c") == 3
    assert (a & b) & c == And(a, b, c)
    assert a & (b & c) == And(a, b, c)
    assert (a | b) | c == Or(a, b, c)
    assert a | (b | c) == Or(a, b, c)
    assert a & (b | c) == And(a, Or(b, c))
    assert (a | b) & c == And(Or(a, b), c)


def test_the_unparenthesised_form_is_refused_rather_than_misread() -> None:
    # Python binds | tighter than >=: date | condition must not silently become a filter.
    with pytest.raises(TypeError):
        F("title").contains("Acme") & (
            F("date_of_invoice") >= date(2024, 1, 1) | F("client.name").startswith("C")
        )


@pytest.mark.parametrize(
    "misuse",
    [
        lambda: bool(F("a") == 1),
        lambda: (F("a") == 1) and (F("b") == 2),
        lambda: (F("a") == 1) or (F("b") == 2),
        lambda: not (F("a") == 1),  # noqa: SIM201
        lambda: 1 < F("x") < 5,
        lambda: F("a") == 1 & F("b") == 2,
        lambda: bool(F("x")),
        lambda: bool(And(F("a") == 1)),
        lambda: bool(F("line_items").count()),
    ],
)
def test_filters_have_no_truth_value(misuse: Any) -> None:
    with pytest.raises(TypeError):
        misuse()


def test_comparing_two_fields_is_refused() -> None:
    with pytest.raises(TypeError, match="another field"):
        F("sum_net") > F("sum_gross")  # noqa: B015


class Status(enum.StrEnum):
    PAID = "paid"


class Level(enum.IntEnum):
    HIGH = 3


def test_values_are_serialised_as_the_api_expects() -> None:
    cest = timezone(timedelta(hours=2))
    flt = And(
        F("d") == date(2024, 2, 29),
        F("t") >= datetime(2024, 5, 1, 8, 30, tzinfo=cest),
        F("u") >= datetime(2024, 5, 1, 8, 30, tzinfo=UTC),
        F("n") < datetime(2024, 5, 1, 8, 30, 15),
        F("s") == Status.PAID,
        F("l") == Level.HIGH,
        F("m") == Decimal("1234.50"),
        F("f") == 0.1,
        F("b") == False,  # noqa: E712
        F("z") == None,  # noqa: E711
        F("x").in_([Status.PAID, 2, date(2024, 1, 1)]),
    )
    values = [c["value"] for c in roundtrip(flt)]
    assert values == [
        "2024-02-29",
        "2024-05-01T08:30:00+02:00",
        "2024-05-01T08:30:00+00:00",
        "2024-05-01T08:30:15",
        "paid",
        3,
        1234.5,
        0.1,
        False,
        None,
        ["paid", 2, "2024-01-01"],
    ]
    # Decimals travel as JSON numbers with every digit kept.
    assert '"value":1234.50' in (encode_filter(F("m") == Decimal("1234.50")) or "")


def test_special_values_are_sent_as_their_tokens() -> None:
    flt = And(*(F("d") == v for v in (ME_ID, NOW, TODAY, SOW, EOW, SOM, EOM, today(-30), today(5), today(0))))
    assert [c["value"] for c in roundtrip(flt)] == [
        "me.id", "now", "today", "sow", "eow", "som", "eom", "today-30d", "today+5d", "today",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (object(), TypeError),
        (b"bytes", TypeError),
        (["a"], TypeError),
        (float("nan"), InvalidRequestError),
        (float("inf"), InvalidRequestError),
        (Decimal("NaN"), InvalidRequestError),
    ],
)
def test_values_the_api_cannot_take_are_refused_when_built(value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        F("x") == value  # noqa: B015


def test_in_takes_a_non_empty_collection_not_a_string() -> None:
    with pytest.raises(TypeError):
        F("status").in_("paid")
    with pytest.raises(InvalidRequestError, match="at least one value"):
        F("status").nin([])


def test_relation_conditions_nest_a_filter_over_the_relation() -> None:
    flt = F("line_items").any(F("title").contains("x") & (F("amount") > 2))
    assert flt.to_json() == [
        {
            "field": "line_items",
            "op": "any",
            "value": [
                {"field": "title", "op": "contains", "value": "x"},
                {"field": "amount", "op": "gt", "value": 2},
            ],
        }
    ]
    assert F("line_items").all(F("type") == "service").to_json()[0]["value"] == [
        {"field": "type", "op": "eq", "value": "service"}
    ]
    assert F("line_items").none().to_json() == [{"field": "line_items", "op": "none", "value": []}]


def test_a_relation_count_compares_a_number_of_matching_items() -> None:
    assert (F("line_items").count() >= 3).to_json() == [
        {"field": "line_items", "op": "count", "value": {"op": "gte", "value": 3}}
    ]
    counted = F("line_items").count(F("total_net") > 1000) == 0
    assert counted.to_json() == [
        {
            "field": "line_items",
            "op": "count",
            "value": {"op": "eq", "value": 0, "filter": [{"field": "total_net", "op": "gt", "value": 1000}]},
        }
    ]
    assert counted.value == Count("eq", 0, F("total_net") > 1000)


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_a_relation_count_is_compared_with_a_whole_number(bad: object) -> None:
    with pytest.raises((TypeError, InvalidRequestError)):
        F("line_items").count() >= bad  # noqa: B015


# -- encoding -----------------------------------------------------------------------------------

HOSTILE = [
    '") or (1 = 1',
    "' OR '1'='1",
    'say "hi"',
    "back\\slash\\",
    '\\"',
    "new\nline\ttab\r",
    "\x00nul",
    "ünïcödé — 日本語 🚀",
    "]}{[,:",
    "x" * 10_000,
]


@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: repr(v)[:20])
def test_hostile_values_survive_encoding_as_data(value: str) -> None:
    flt = (F("title") == value) | F("client.name").in_([value, "b"])
    decoded = roundtrip(flt)
    assert decoded["or"][0] == {"field": "title", "op": "eq", "value": value}
    assert decoded["or"][1]["value"] == [value, "b"]


def test_the_encoding_is_compact_json() -> None:
    assert encode_filter(F("title") == "x") == '[{"field":"title","op":"eq","value":"x"}]'


def test_a_dsl_string_passes_through_unchanged() -> None:
    dsl = 'title contains "Acme" and (created_at >= "2024-01-01" or client.name contains \'Corp\')'
    assert encode_filter(dsl) is dsl
    padded = "  title eq 'x'  "
    assert encode_filter(padded) == padded
    params = prepare_list_params(INVOICES, filter=dsl)
    assert params == {"filter": dsl}


def test_no_filter_and_an_empty_and_send_nothing() -> None:
    assert encode_filter(None) is None
    assert encode_filter(And()) is None
    assert prepare_list_params(INVOICES, filter=And()) == {}


def test_and_combines_two_trees() -> None:
    a, b, c = F("a") == 1, F("b") == 2, F("c") == 3
    assert and_(a, b) == And(a, b)
    assert and_(a | b, c) == And(Or(a, b), c)
    assert and_(None, a) is a
    assert and_(a, None) is a
    assert and_(None, None) is None
    assert and_("title eq 'x'", None) == "title eq 'x'"


@pytest.mark.parametrize(
    "pair",
    [("title eq 'x'", F("a") == 1), (F("a") == 1, "title eq 'x'"), ("a eq 1", "b eq 2")],
)
def test_a_dsl_string_is_never_combined(pair: tuple[Any, Any]) -> None:
    with pytest.raises(InvalidRequestError, match=r"F\(\.\.\.\)"):
        and_(*pair)


def test_a_dsl_string_cannot_join_a_tree_with_operators_either() -> None:
    with pytest.raises(InvalidRequestError):
        (F("a") == 1) & "b eq 2"  # type: ignore[operator]
    with pytest.raises(InvalidRequestError):
        "b eq 2" | (F("a") == 1)  # type: ignore[operator]


# -- the DSL ------------------------------------------------------------------------------------


def read_dsl_string(text: str) -> tuple[str, str]:
    """A reference reader for one double-quoted DSL string: (its value, the rest of the text)."""
    assert text[0] == '"'
    out: list[str] = []
    i = 1
    while text[i] != '"':
        if text[i] == "\\":
            i += 1
        out.append(text[i])
        i += 1
    return "".join(out), text[i + 1 :]


@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: repr(v)[:20])
def test_hostile_values_are_quoted_so_the_dsl_reads_them_back_literally(value: str) -> None:
    dsl = to_dsl(F("title") == value)
    assert dsl.startswith("title eq ")
    read, rest = read_dsl_string(dsl[len("title eq ") :])
    assert read == value
    assert rest == ""


def test_dsl_renders_operators_groups_and_values() -> None:
    flt = (F("title").contains("Acme") & (F("amount") > 2.5)) | (
        F("type").in_(["a", "b"]) & F("project.id").is_not_null() & F("x").is_null() & (F("d") >= TODAY)
    )
    assert to_dsl(flt) == (
        '(title contains "Acme" and amount gt 2.5) or '
        '(type in ["a", "b"] and project.id is not null and x is null and d gte today)'
    )
    assert to_dsl(F("n") == Decimal("1E+3")) == "n eq 1000"
    assert to_dsl(F("b") == True) == "b eq true"  # noqa: E712


def test_relation_conditions_and_odd_field_names_have_no_dsl_form() -> None:
    with pytest.raises(InvalidRequestError, match="JSON"):
        to_dsl(F("line_items").any(F("title") == "x"))
    with pytest.raises(InvalidRequestError, match="cannot be written"):
        to_dsl(F('title" or 1=1 or "') == "x")


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
