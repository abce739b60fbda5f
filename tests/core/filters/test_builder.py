"""Building filters with F(...): operators, groups, values, relations, and the JSON the API reads."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

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
    Condition,
    Count,
    F,
    Or,
    encode_filter,
    today,
)
from tests.core.filters.fixtures import (
    roundtrip,
)

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
