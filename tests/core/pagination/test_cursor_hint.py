"""The next cursor read from a list body's bytes: right in Laravel's key order whatever the items
hold, under whatever key the model renames it to, and no guess where the body names none."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from kanbert_async._core.cursor_hint import next_cursor_hint
from kanbert_async._core.operation import Operation, Paging
from kanbert_async._generated.operations import OUTGOING_INVOICES_INDEX

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
#: Items that try to look like the cursor: keys and texts named next_cursor, quoted or not.
items = st.lists(
    st.dictionaries(st.sampled_from(["id", "next_cursor", "note", '"next_cursor"']) | st.text(), json_values),
    max_size=4,
)


def laravel_body(data: list[Any], next_cursor: str | None) -> dict[str, Any]:
    """A resource collection as Laravel renders it: data, links, then meta."""
    meta = {
        "path": "/api/v1/outgoing-invoices",
        "per_page": 100,
        "next_cursor": next_cursor,
        "prev_cursor": None,
    }
    return {"data": data, "links": [], "meta": meta}


@given(items, st.text() | st.none(), st.sampled_from([None, 2]))
def test_a_laravel_collection_names_its_cursor_after_the_items_so_the_hint_is_right(
    data: list[Any], cursor: str | None, indent: int | None
) -> None:
    body = json.dumps(laravel_body(data, cursor), indent=indent).encode()
    assert next_cursor_hint(OUTGOING_INVOICES_INDEX, body) == cursor


def test_the_last_page_names_no_cursor_and_gets_no_hint() -> None:
    body = msgspec.json.encode(laravel_body([{"next_cursor": "an item's field"}], None))
    assert next_cursor_hint(OUTGOING_INVOICES_INDEX, body) is None


class Renamed(msgspec.Struct, rename="camel"):
    data: list[int]
    next_cursor: str | None = None


def things_index(response: Any, paging: Paging | None = None) -> Operation[Any]:
    return Operation(
        id="things.index", method="GET", path="/things", response=response, paging=paging or Paging()
    )


def test_a_bare_paginator_under_a_renamed_key_is_read_under_that_key() -> None:
    operation = things_index(Renamed, Paging(next=("next_cursor",)))
    assert next_cursor_hint(operation, b'{"data":[1],"nextCursor":"abc","next_cursor":"not this"}') == "abc"


def test_page_numbers_and_bodies_that_are_no_struct_get_no_hint() -> None:
    numbered, untyped = things_index(Renamed, Paging(current=("current_page",))), things_index(list[int])
    assert next_cursor_hint(numbered, b'{"nextCursor":"abc"}') is None
    assert next_cursor_hint(untyped, b'{"meta":{"next_cursor":"abc"}}') is None
    assert next_cursor_hint(OUTGOING_INVOICES_INDEX, b'{"meta":{"next_cursor":42}}') is None
    assert next_cursor_hint(OUTGOING_INVOICES_INDEX, b"not json at all") is None
