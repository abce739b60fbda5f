"""The DSL and JSON readers: both read into the one filter tree the builder makes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kanbert_async._core.filters.dsl import parse_dsl, split_top_level
from kanbert_async._core.filters.json_format import parse_json
from kanbert_async._core.filters.tree import FilterError
from kanbert_async.filters import ME_ID, And, Condition, Count, F, Filter, Or, encode_filter, to_dsl, today


def test_the_documented_example() -> None:
    node = parse_dsl(
        'title contains "Acme" and (date_of_invoice >= "2024-01-01" or client.name contains \'Corp\')'
    )
    assert node == And(
        Condition("title", "contains", "Acme"),
        Or(Condition("date_of_invoice", "gte", "2024-01-01"), Condition("client.name", "contains", "Corp")),
    )


def test_the_reader_makes_the_tree_the_builder_makes() -> None:
    assert parse_dsl('title contains "Acme" and sum_net >= 100') == (
        F("title").contains("Acme") & (F("sum_net") >= 100)
    )
    assert parse_dsl("line_items any (title contains 'x')") == F("line_items").any(F("title").contains("x"))
    assert parse_dsl("line_items count >= 3") == (F("line_items").count() >= 3)


def test_precedence_case_and_literals() -> None:
    assert parse_dsl("a = 1 OR b != -2.50 aNd c Is NoT NuLl") == Or(
        Condition("a", "eq", 1), And(Condition("b", "ne", Decimal("-2.50")), Condition("c", "isnotnull"))
    )
    assert parse_dsl("x le 3 and y GE 4 and z neq 'q'") == And(
        Condition("x", "lte", 3), Condition("y", "gte", 4), Condition("z", "ne", "q")
    )
    assert parse_dsl("x eq null") == Condition("x", "isnull")
    assert parse_dsl("x <> null") == Condition("x", "isnotnull")
    assert parse_dsl("x isnull") == Condition("x", "isnull")
    assert parse_dsl("x notnull") == Condition("x", "isnotnull")
    assert parse_dsl("flag = TRUE") == Condition("flag", "eq", True)
    assert parse_dsl("editor.id eq me.id and d > today-30d and e < today+5d and f >= som") == And(
        Condition("editor.id", "eq", "me.id"),
        Condition("d", "gt", "today-30d"),
        Condition("e", "lt", "today+5d"),
        Condition("f", "gte", "som"),
    )
    assert parse_dsl("status in ['A', \"B\"]") == Condition("status", "in", ("A", "B"))
    assert parse_dsl("status not in ()") == Condition("status", "nin", ())
    assert parse_dsl("status notin booked") == Condition("status", "nin", ("booked",))
    assert parse_dsl(r'title eq "a\"b\\c\n\'"') == Condition("title", "eq", "a\"b\\c\n'")


def test_relations() -> None:
    assert parse_dsl("line_items any") == Condition("line_items", "any")
    assert parse_dsl("line_items NONE (type eq 'unit')") == Condition(
        "line_items", "none", Condition("type", "eq", "unit")
    )
    assert parse_dsl("line_items count (amount > 2 or x is null) >= 3") == Condition(
        "line_items",
        "count",
        Count("gte", 3, Or(Condition("amount", "gt", 2), Condition("x", "isnull"))),
    )
    assert parse_dsl("line_items count lt 1") == Condition("line_items", "count", Count("lt", 1))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "ends too early"),
        ("title", "expected an operator after 'title' but the expression ends"),
        ("title eq", "ends too early"),
        ('title eq "x" and', "ends too early"),
        ('title eq "x")', "at position 12"),
        ("(title eq 'x'", "expected ')'"),
        ("title is maybe", "expected 'null' after 'is'"),
        ("title not like 'x'", "expected 'in' after 'not'"),
        ("title resembles 'x'", "unknown operator"),
        ("title eq 'x", "unterminated string at position 9"),
        ("title eq ;", "unexpected ';'"),
        ("line_items count >= 1.5", "whole number"),
        ("= 3", "expected a field name"),
    ],
)
def test_errors_say_where(text: str, message: str) -> None:
    with pytest.raises(FilterError) as info:
        parse_dsl(text)
    assert message in str(info.value)


def test_split_top_level() -> None:
    assert split_top_level("total_net, title in [\"a, b\", 'c,d'] and (x = 1, 2)") == [
        "total_net",
        " title in [\"a, b\", 'c,d'] and (x = 1, 2)",
    ]
    assert split_top_level('a, "x\\", y", b') == ["a", ' "x\\", y"', " b"]


SDK_FILTERS = [
    F("title").contains('say "hi" \\ bye'),
    (F("status") == "booked") & ((F("sum_net") > 1000.5) | F("client.name").startswith("Corp")),
    F("date_of_invoice").gte(date(2024, 1, 1)) & F("date_of_invoice").lt(today(-30)),
    F("editor.id") == ME_ID,
    F("status").in_(["open", "booked"]) & F("payment_status").nin(["paid"]),
    F("invoice_number").is_null() | F("is_credit").eq(True),
    F("sum_tax").lte(Decimal("19.00")),
]


@pytest.mark.parametrize("flt", SDK_FILTERS, ids=[to_dsl(f) for f in SDK_FILTERS])
def test_sdk_dsl_and_json_parse_to_the_same_tree(flt: Filter) -> None:
    encoded = encode_filter(flt)
    assert encoded is not None
    assert parse_dsl(to_dsl(flt)) == parse_json(encoded)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_any_text_survives_the_dsl(text: str) -> None:
    assert parse_dsl(to_dsl(F("title") == text)) == Condition("title", "eq", text)
    assert parse_json(encode_filter(F("title") == text) or "") == Condition("title", "eq", text)


def test_json_shapes() -> None:
    assert parse_json(
        '{"or": [{"field": "a", "op": "NEQ", "value": 1}, {"field": "b", "op": "le", "value": 2}]}'
    ) == Or(Condition("a", "ne", 1), Condition("b", "lte", 2))
    assert parse_json('[{"field": "line_items", "op": "any", "value": []}]') == Condition("line_items", "any")
    assert parse_json('{"field": "x", "op": "isnull"}') == Condition("x", "isnull")
    assert parse_json('{"field": "s", "op": "in", "value": ["a", 1.5]}') == Condition(
        "s", "in", ("a", Decimal("1.5"))
    )
    for bad in ("[]", '{"and": []}', '{"field": 1, "op": "eq"}', '{"field": "x"}', "3",
                '[{"field": "l", "op": "count", "value": 3}]',
                '[{"field": "l", "op": "count", "value": {"op": "like", "value": 3}}]',
                '{"field": "x", "op": "eq", "value": {"nested": 1}}',
                '{"field": "x", "op": "in", "value": [[1]]}'):  # fmt: skip
        with pytest.raises(FilterError):
            parse_json(bad)
