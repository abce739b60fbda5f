"""Reaching what is not generated: ``kb.request``, ``kb.paginate``, ``extra_*`` on every method,
``with_options`` and client-wide defaults — all through the same auth, retries, limiter and errors.
Raw responses and model dumps too."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
from aiohttp import web

from kanbert_async import InvalidRequestError, KanbertClient, NotFoundError, RawResponse
from kanbert_async._generated.models import OutgoingInvoiceData
from tests.core.transport.loopback import LoopbackServer, invoice_fields_for_create, invoice_json, page_json


class Project(msgspec.Struct):
    id: str
    name: str


def _projects(server: LoopbackServer, failures: int = 0) -> None:
    left = [failures]

    async def show(request: web.Request) -> web.Response:
        if left[0]:
            left[0] -= 1
            return web.json_response({"message": "busy"}, status=503)
        if request.match_info["id"] == "missing":
            return web.json_response({"message": "No query results."}, status=404)
        return web.json_response({"id": request.match_info["id"], "name": "Website", "new_field": 1})

    async def index(request: web.Request) -> web.Response:
        cursor = request.query.get("page[cursor]")
        items = [{"id": "p1", "name": "a"}] if cursor is None else [{"id": "p2", "name": "b"}]
        return web.json_response({"data": items, "meta": {"next_cursor": None if cursor else "c2"}})

    async def create(request: web.Request) -> web.Response:
        return web.json_response(await request.json(), status=201)

    async def delete(request: web.Request) -> web.Response:
        return web.Response(status=204)

    server.route("GET", "/api/v1/projects/{id}", show)
    server.route("GET", "/api/v1/projects", index)
    server.route("POST", "/api/v1/projects", create)
    server.route("DELETE", "/api/v1/projects/{id}", delete)


async def test_request_reaches_an_undescribed_endpoint_with_retries_typed_results_and_named_errors(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    _projects(server, failures=1)
    await server.start()
    kb = make_client(server.base_url)
    project = await kb.request("GET", "/projects/{id}", path={"id": "a b"}, query={"x": 1}, cast_to=Project)
    assert project == Project(id="a b", name="Website")
    assert server.hits[-1].raw_path == "/api/v1/projects/a%20b?x=1" and kb.stats.retries == 1
    assert (await kb.request("GET", "/projects/{id}", path={"id": "p"}))["new_field"] == 1  # plain JSON
    created = await kb.request("POST", "/projects", body={"id": "n", "name": "New"}, cast_to=Project)
    assert created.name == "New" and server.hits[-1].headers["Content-Type"] == "application/json"
    assert await kb.request("DELETE", "/projects/{id}", path={"id": "n"}, cast_to=Project | None) is None
    assert server.hits[-1].headers["Authorization"].startswith("Bearer ")
    with pytest.raises(NotFoundError, match=r"GET /projects/\{id\}: HTTP 404"):
        await kb.request("GET", "/projects/{id}", path={"id": "missing"})
    with pytest.raises(InvalidRequestError, match="relative to the base URL"):
        await kb.request("GET", "https://elsewhere.example/projects")


async def test_paginate_walks_an_undescribed_listing_into_the_callers_item_type(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    _projects(server)
    await server.start()
    kb = make_client(server.base_url)
    items = [
        p async for p in kb.paginate("GET", "/projects", item=Project, query={"sort": "-name"}, page_size=1)
    ]
    assert items == [Project("p1", "a"), Project("p2", "b")]
    assert [hit.query for hit in server.hits] == [
        {"sort": "-name", "page[size]": "1"},
        {"sort": "-name", "page[size]": "1", "page[cursor]": "c2"},
    ]


async def test_extra_query_headers_and_body_reach_the_wire_on_generated_methods(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    async def index(request: web.Request) -> web.Response:
        next_cursor = None if "page[cursor]" in request.query else "c2"
        return web.json_response(page_json([invoice_json(f"i{len(server.hits)}")], next_cursor))

    async def create(request: web.Request) -> web.Response:
        form = await request.post()
        return web.json_response(invoice_json("new", title=form["title"], po_number=form.get("beta_field")))

    server.route("GET", "/api/v1/outgoing-invoices", index)
    server.route("POST", "/api/v1/outgoing-invoices/external", create)
    await server.start()
    kb = make_client(server.base_url)
    listed = kb.outgoing_invoices.list(extra_query={"beta": "1"}, extra_headers={"X-Beta": "yes"})
    assert len([i async for i in listed]) == 2
    assert all(hit.query.get("beta") == "1" and hit.headers["X-Beta"] == "yes" for hit in server.hits)
    fields = invoice_fields_for_create()
    made = await kb.outgoing_invoices.create_external(
        **fields, file_url="https://x/y.pdf", extra_body={"beta_field": "B"}
    )
    assert made.po_number == "B"
    with pytest.raises(InvalidRequestError, match="sends no body"):
        await kb.outgoing_invoices.get("inv_1", extra_body={"x": 1})


async def test_with_options_shares_the_pool_limiter_and_stats_and_closing_it_closes_nothing(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    _projects(server, failures=1)
    await server.start()
    kb = make_client(server.base_url, default_headers={"X-App": "books"}, default_query={"tenant": "t1"})
    async with kb.with_options(max_retries=0, headers={"X-Extra": "1"}, timeout=5) as strict:
        assert (
            strict._transport.limiter is kb._transport.limiter
            and strict._transport.pool is kb._transport.pool
        )
        with pytest.raises(Exception, match="503"):
            await strict.request("GET", "/projects/{id}", path={"id": "p"})
        hit = server.hits[-1]
        assert (hit.headers["X-App"], hit.headers["X-Extra"], hit.query) == ("books", "1", {"tenant": "t1"})
        assert strict.stats is kb.stats and kb.stats.requests == 1
    assert await kb.request(
        "GET", "/projects/{id}", path={"id": "p"}, query={"tenant": "t2"}, cast_to=Project
    )
    assert server.hits[-1].query == {"tenant": "t2"}  # the call's own value wins over the default
    assert "X-Extra" not in server.hits[-1].headers
    assert kb.last_response is not None and kb.last_response.retries == 0


async def test_raw_responses_give_status_headers_request_id_and_the_parsed_result(
    server: LoopbackServer, make_client: Callable[..., KanbertClient], tmp_path: Path
) -> None:
    async def show(request: web.Request) -> web.Response:
        body = invoice_json("inv_1")
        body["field_from_the_future"] = {"x": 1}
        return web.json_response(body, headers={"X-Request-Id": "r-show"})

    async def index(request: web.Request) -> web.Response:
        return web.json_response(page_json([invoice_json("a")], "c2"), headers={"X-Request-Id": "r-list"})

    async def pdf(request: web.Request) -> web.Response:
        return web.Response(
            body=b"%PDF-1.4", content_type="application/pdf", headers={"X-Request-Id": "r-pdf"}
        )

    server.route("GET", "/api/v1/outgoing-invoices/{id}", show)
    server.route("GET", "/api/v1/outgoing-invoices", index)
    server.route("GET", "/api/v1/outgoing-invoices/{id}/pdf", pdf)
    await server.start()
    kb = make_client(server.base_url)
    raw: RawResponse[OutgoingInvoiceData] = await kb.outgoing_invoices.with_raw_response.get("inv_1")
    assert (raw.status_code, raw.request_id, raw.retries, raw.attempts) == (200, "r-show", 0, 1)
    assert raw.parse().id == "inv_1" and raw.json()["field_from_the_future"] == {"x": 1}
    assert raw.headers["Content-Type"].startswith("application/json") and raw.elapsed > 0
    first = await kb.outgoing_invoices.with_raw_response.list()
    assert first.request_id == "r-list" and [i.id for i in first.parsed.items] == ["a"]
    assert first.parsed.has_next_page()
    pdf_raw = await kb.outgoing_invoices.with_raw_response.download_pdf("inv_1")
    assert (pdf_raw.parsed, pdf_raw.request_id) == (b"%PDF-1.4", "r-pdf")
    assert kb.outgoing_invoices.with_raw_response.get.__doc__ == kb.outgoing_invoices.get.__doc__


async def test_models_dump_to_dicts_and_json_in_the_apis_shape(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    async def show(request: web.Request) -> web.Response:
        return web.json_response(invoice_json("inv_1"))

    server.route("GET", "/api/v1/outgoing-invoices/{id}", show)
    await server.start()
    kb = make_client(server.base_url)
    invoice = await kb.outgoing_invoices.get("inv_1")
    as_python = invoice.to_dict()
    assert as_python["client"]["name"] == "ACME" and as_python["date_of_invoice"].year == 2024
    assert as_python["status"] == "booked" and type(as_python["status"]) is str
    as_json = invoice.to_dict(mode="json")
    assert as_json["date_of_invoice"].startswith("2024-05-01")
    assert json.loads(invoice.to_json()) == as_json
    assert invoice.to_json(indent=2).startswith('{\n  "id": "inv_1"')
    assert msgspec.json.decode(invoice.to_json(), type=OutgoingInvoiceData) == invoice
