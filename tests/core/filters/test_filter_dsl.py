"""parse_filter: the DSL read into the same JSON the builder sends."""

from __future__ import annotations

import pytest

from kanbert_async import F, InvalidRequestError
from kanbert_async.filter_dsl import parse_filter
from kanbert_async.filters import encode_filter


@pytest.mark.parametrize(
    ("dsl", "built"),
    [
        ('title contains "Acme"', F("title").contains("Acme")),
        (
            'title contains "Acme" and (date_of_invoice >= "2024-01-01" or client.name startswith \'Corp\')',
            F("title").contains("Acme")
            & ((F("date_of_invoice") >= "2024-01-01") | F("client.name").startswith("Corp")),
        ),
        ("status in ['open', \"booked\"]", F("status").in_(["open", "booked"])),
        ("status not in ['paid']", F("status").nin(["paid"])),
        ("project.id is null", F("project.id").is_null()),
        ("project.id is not null", F("project.id").is_not_null()),
        ("line_items any (title contains 'x')", F("line_items").any(F("title").contains("x"))),
        ("line_items count >= 3", F("line_items").count() >= 3),
    ],
)
def test_the_dsl_parses_to_the_tree_the_builder_makes(dsl: str, built: object) -> None:
    assert encode_filter(parse_filter(dsl)) == encode_filter(built)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", ["", "title", 'title contains "x" and (', "title resembles 'x'", "= 3"])
def test_text_that_does_not_parse_is_an_invalid_request(bad: str) -> None:
    with pytest.raises(InvalidRequestError):
        parse_filter(bad)
