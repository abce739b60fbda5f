"""Writing filters for the wire: compact JSON that keeps hostile values data, and the string DSL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from kanbert_async._core.errors import InvalidRequestError
from kanbert_async.filters import (
    TODAY,
    And,
    F,
    Or,
    and_,
    encode_filter,
    prepare_list_params,
    to_dsl,
)
from tests.core.filters.fixtures import (
    INVOICES,
    roundtrip,
)

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
