"""Request encoding: query strings, path parameters and form fields exactly as Kanbert reads them.

The pure functions are checked directly; what reaches the wire is checked against a real loopback
aiohttp server that reads ``request.raw_path`` — the bytes of the request line, before any router
decoding or normalisation.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from kanbert_async import Computed, F, InvalidRequestError, KanbertClient
from kanbert_async._core.encoding import build_path, encode_form_fields, flatten_query
from kanbert_async._core.list_args import ListArgs
from kanbert_async._core.operation import Operation
from kanbert_async._generated.models import OutgoingInvoiceData, OutgoingInvoiceDataCursorPaginatedCollection
from tests.core.transport.loopback import LoopbackServer, invoice_json, page_json

# -- query ---------------------------------------------------------------------------------------


def test_flatten_query_keeps_bracketed_page_parameters_and_drops_left_out_values() -> None:
    pairs = flatten_query({"page[size]": 50, "page[cursor]": "eyJpZCI6MX0=", "find_by": None})
    assert pairs == [("page[size]", "50"), ("page[cursor]", "eyJpZCI6MX0=")]


def test_flatten_query_comma_joins_sequences_for_sort_and_include() -> None:
    pairs = flatten_query({"sort": ["-date_of_invoice", "title"], "include": ("line_items", "discounts")})
    assert pairs == [("sort", "-date_of_invoice,title"), ("include", "line_items,discounts")]


def test_flatten_query_writes_mappings_as_bracketed_keys_like_computed_fields() -> None:
    pairs = flatten_query(
        {"computed_fields": {"items": "line_items.count()", "net": "line_items.sum(total_net)"}}
    )
    assert pairs == [
        ("computed_fields[items]", "line_items.count()"),
        ("computed_fields[net]", "line_items.sum(total_net)"),
    ]


def test_flatten_query_writes_booleans_lowercase_enums_by_value_and_dates_in_iso_8601() -> None:
    class Status(enum.Enum):
        PAID = "paid"

    pairs = flatten_query(
        {"flag": True, "off": False, "status": Status.PAID, "day": dt.date(2024, 5, 1), "n": 3}
    )
    assert pairs == [
        ("flag", "true"),
        ("off", "false"),
        ("status", "paid"),
        ("day", "2024-05-01"),
        ("n", "3"),
    ]


async def test_list_query_reaches_the_server_with_page_size_sort_include_computed_fields_and_cursor(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    # A cursor is opaque: '+', '/' and '=' must arrive as themselves, never as a space or a path.
    cursor = "eyJpZCI6MX0+/a=="

    async def index(request: web.Request) -> web.Response:
        if "page[cursor]" in request.query:
            return web.json_response(page_json([invoice_json("inv_2")]))
        return web.json_response(page_json([invoice_json("inv_1")], next_cursor=cursor))

    server.route("GET", "/api/v1/outgoing-invoices", index)
    await server.start()
    kb = make_client(server.base_url)

    pager = kb.outgoing_invoices.list(
        sort=["-date_of_invoice", "title"],
        include=["line_items", "discounts"],
        page_size=10,
        computed_fields={"items": Computed.count("line_items")},
    )
    ids = [invoice.id async for invoice in pager]

    assert ids == ["inv_1", "inv_2"]
    first, second = (dict(parse_qsl(urlsplit(hit.raw_path).query)) for hit in server.hits)
    assert first == {
        "page[size]": "10",
        "sort": "-date_of_invoice,title",
        "include": "line_items,discounts",
        "computed_fields[items]": "line_items.count()",
    }
    assert second == {**first, "page[cursor]": cursor}


async def test_a_list_operation_without_a_filter_table_sends_its_arguments_and_still_checks_aliases(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    async def index(request: web.Request) -> web.Response:
        return web.json_response(page_json([invoice_json("inv_1")]))

    server.route("GET", "/api/v1/things", index)
    await server.start()
    kb = make_client(server.base_url)
    # An operation whose description documents no sorts, includes or filter fields.
    things: Operation[OutgoingInvoiceData] = Operation(
        id="things.index", method="GET", path="/things", response=OutgoingInvoiceDataCursorPaginatedCollection
    )
    args = ListArgs(
        sort=["-anything"],
        filter=F("whatever") == 1,
        computed_fields={"n": Computed.count("tasks")},
        page_size=3,
        extras={"mode": "all"},
    )

    assert [item.id async for item in kb.paginate(things, args=args)] == ["inv_1"]
    assert server.hits[0].query == {
        "computed_fields[n]": "tasks.count()",
        "sort": "-anything",
        "filter": '[{"field":"whatever","op":"eq","value":1}]',
        "page[size]": "3",
        "mode": "all",
    }
    # Nothing is known about the operation's relations, but an alias is a name whatever it holds.
    with pytest.raises(InvalidRequestError, match="alias is a plain name"):
        kb.paginate(things, args=ListArgs(computed_fields={"no spaces": Computed.count("tasks")}))
    assert len(server.hits) == 1


# -- path parameters -----------------------------------------------------------------------------

TRICKY_IDS = [
    "a/b",
    "..",
    ".",
    "../../clients",
    "a/../b",
    "with space",
    "what?find_by=id",
    "hash#frag",
    "100%",
    "%2F",
    "ümlaut",
    "semi;colon",
    "plus+sign",
]


@pytest.mark.parametrize("invoice_id", TRICKY_IDS)
def test_build_path_keeps_an_id_in_one_segment(invoice_id: str) -> None:
    path = build_path("/outgoing-invoices/{id}/pdf", {"id": invoice_id}, "outgoingInvoices.pdf")
    prefix, segment, suffix = path.split("/")[1:]
    assert (prefix, suffix) == ("outgoing-invoices", "pdf")
    assert unquote(segment) == invoice_id
    assert segment not in {".", ".."}


@given(st.text(min_size=1))
def test_build_path_round_trips_any_text_id_through_yarl(invoice_id: str) -> None:
    path = build_path("/outgoing-invoices/{id}", {"id": invoice_id}, "outgoingInvoices.show")
    url = URL("https://api.kanbert.com/api/v1" + path, encoded=True)
    assert url.raw_path == "/api/v1" + path
    segments = url.raw_path.split("/")
    assert len(segments) == 5
    assert segments[-1] not in {".", ".."}
    assert unquote(segments[-1]) == invoice_id


def test_build_path_refuses_an_empty_or_missing_id() -> None:
    with pytest.raises(InvalidRequestError, match="must not be empty"):
        build_path("/outgoing-invoices/{id}", {"id": ""}, "outgoingInvoices.show")
    with pytest.raises(InvalidRequestError, match="required"):
        build_path("/outgoing-invoices/{id}", {"id": None}, "outgoingInvoices.show")


@pytest.mark.parametrize("invoice_id", TRICKY_IDS)
async def test_an_id_reaches_the_server_as_that_id_never_as_another_path(
    invoice_id: str, server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    async def anything(request: web.Request) -> web.Response:
        return web.json_response(invoice_json("inv_1"))

    server.route("*", "/{tail:.*}", anything)
    await server.start()
    kb = make_client(server.base_url)

    await kb.outgoing_invoices.get(invoice_id, find_by="external_id")

    [hit] = server.hits
    raw_path, _, raw_query = hit.raw_path.partition("?")
    assert raw_path.startswith("/api/v1/outgoing-invoices/")
    segment = raw_path.removeprefix("/api/v1/outgoing-invoices/")
    assert "/" not in segment
    assert unquote(segment) == invoice_id
    assert dict(parse_qsl(raw_query)) == {"find_by": "external_id"}


# -- form fields -----------------------------------------------------------------------------------


def test_form_fields_nest_php_style_with_indexes() -> None:
    vats = [{"vat": 19, "value": 38.0}, {"vat": 7, "value": 7.7}]
    assert list(encode_form_fields("vats", vats)) == [
        ("vats[0][vat]", "19"),
        ("vats[0][value]", "38.0"),
        ("vats[1][vat]", "7"),
        ("vats[1][value]", "7.7"),
    ]


@pytest.mark.parametrize(("value", "expected"), [(True, "1"), (False, "0")])
def test_form_booleans_are_sent_as_1_and_0_which_laravel_accepts(value: bool, expected: str) -> None:
    assert list(encode_form_fields("taxation_enabled", value)) == [("taxation_enabled", expected)]
    assert list(encode_form_fields("flags", [{"on": value}])) == [("flags[0][on]", expected)]


def test_form_fields_leave_out_none_and_write_dates_in_iso_8601() -> None:
    when = dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC)
    fields: list[tuple[str, Any]] = [
        *encode_form_fields("reference", None),
        *encode_form_fields("vats", [{"vat": 19, "note": None}]),
        *encode_form_fields("date_of_invoice", when),
    ]
    assert fields == [("vats[0][vat]", "19"), ("date_of_invoice", "2024-05-01T12:30:00+00:00")]


def test_a_field_documented_with_phps_array_suffix_repeats_its_name_for_scalars() -> None:
    assert list(encode_form_fields("aliases[]", ["a", "b"])) == [("aliases[]", "a"), ("aliases[]", "b")]
    assert list(encode_form_fields("bookings[]", [{"amount": 5}])) == [("bookings[0][amount]", "5")]
    assert list(encode_form_fields("bookings", ["a", "b"])) == [("bookings[0]", "a"), ("bookings[1]", "b")]
