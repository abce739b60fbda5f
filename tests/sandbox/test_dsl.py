"""The DSL parser, and agreement with the SDK's filter builder at the node level."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kanbert_async._core.filter_syntax import parse_dsl, split_top_level
from kanbert_async.filters import ME_ID, F, encode_filter, to_dsl, today
from kanbert_async.sandbox.nodes import Cond, FilterError, Group, Relation, RelCount, parse_json


def test_the_documented_example() -> None:
    node = parse_dsl(
        'title contains "Acme" and (date_of_invoice >= "2024-01-01" or client.name contains \'Corp\')'
    )
    assert node == Group(
        "and",
        (
            Cond("title", "contains", "Acme"),
            Group(
                "or", (Cond("date_of_invoice", "gte", "2024-01-01"), Cond("client.name", "contains", "Corp"))
            ),
        ),
    )


def test_precedence_case_and_literals() -> None:
    assert parse_dsl("a = 1 OR b != -2.50 aNd c Is NoT NuLl") == Group(
        "or", (Cond("a", "eq", 1), Group("and", (Cond("b", "ne", Decimal("-2.50")), Cond("c", "isnotnull"))))
    )
    assert parse_dsl("x le 3 and y GE 4 and z neq 'q'") == Group(
        "and", (Cond("x", "lte", 3), Cond("y", "gte", 4), Cond("z", "ne", "q"))
    )
    assert parse_dsl("x eq null") == Cond("x", "isnull")
    assert parse_dsl("x <> null") == Cond("x", "isnotnull")
    assert parse_dsl("x isnull") == Cond("x", "isnull")
    assert parse_dsl("x notnull") == Cond("x", "isnotnull")
    assert parse_dsl("flag = TRUE") == Cond("flag", "eq", True)
    assert parse_dsl("editor.id eq me.id and d > today-30d and e < today+5d and f >= som") == Group(
        "and",
        (
            Cond("editor.id", "eq", "me.id"),
            Cond("d", "gt", "today-30d"),
            Cond("e", "lt", "today+5d"),
            Cond("f", "gte", "som"),
        ),
    )
    assert parse_dsl("status in ['A', \"B\"]") == Cond("status", "in", ["A", "B"])
    assert parse_dsl("status not in ()") == Cond("status", "nin", [])
    assert parse_dsl("status notin booked") == Cond("status", "nin", ["booked"])
    assert parse_dsl(r'title eq "a\"b\\c\n\'"') == Cond("title", "eq", "a\"b\\c\n'")


def test_relations() -> None:
    assert parse_dsl("line_items any") == Relation("line_items", "any", None)
    assert parse_dsl("line_items NONE (type eq 'unit')") == Relation(
        "line_items", "none", Cond("type", "eq", "unit")
    )
    assert parse_dsl("line_items count (amount > 2 or x is null) >= 3") == RelCount(
        "line_items", "gte", 3, Group("or", (Cond("amount", "gt", 2), Cond("x", "isnull")))
    )
    assert parse_dsl("line_items count lt 1") == RelCount("line_items", "lt", 1, None)


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
def test_sdk_dsl_and_json_parse_to_the_same_tree(flt: object) -> None:
    encoded = encode_filter(flt)  # type: ignore[arg-type]
    assert encoded is not None
    assert parse_dsl(to_dsl(flt)) == parse_json(encoded)  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_any_text_survives_the_dsl(text: str) -> None:
    assert parse_dsl(to_dsl(F("title") == text)) == Cond("title", "eq", text)
    assert parse_json(encode_filter(F("title") == text) or "") == Cond("title", "eq", text)


def test_json_shapes() -> None:
    assert parse_json(
        '{"or": [{"field": "a", "op": "NEQ", "value": 1}, {"field": "b", "op": "le", "value": 2}]}'
    ) == (Group("or", (Cond("a", "ne", 1), Cond("b", "lte", 2))))
    assert parse_json('[{"field": "line_items", "op": "any", "value": []}]') == Relation(
        "line_items", "any", None
    )
    assert parse_json('{"field": "x", "op": "isnull"}') == Cond("x", "isnull")
    for bad in ("[]", '{"and": []}', '{"field": 1, "op": "eq"}', '{"field": "x"}', "3",
                '[{"field": "l", "op": "count", "value": 3}]',
                '[{"field": "l", "op": "count", "value": {"op": "like", "value": 3}}]'):  # fmt: skip
        with pytest.raises(FilterError):
            parse_json(bad)
