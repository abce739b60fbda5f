"""create_external with an external_id never creates a duplicate when the response is lost."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web

from kanbert_async import APIConnectionError, InternalServerError, KanbertClient, KanbertError
from tests.core.transport.loopback import (
    LoopbackServer,
    drop_connection,
    invoice_fields_for_create,
    invoice_json,
)

PDF = b"%PDF-1.7 tiny"


class InvoiceStore:
    """Outgoing invoices keyed by (origin, external_id), as Kanbert keeps them unique per integration.

    ``after_create`` scripts what happens to each POST once it is stored (or before, for
    ``"drop_before"``): ``"drop"`` loses the response, ``500`` answers an error, ``None`` answers 201.
    """

    def __init__(
        self, server: LoopbackServer, script: list[Any], *, lookup_status: int | None = None
    ) -> None:
        self.records: dict[tuple[str, str], dict[str, Any]] = {}
        self.script = list(script)
        self.lookup_status = lookup_status
        self.lookups: list[dict[str, str]] = []
        server.route("POST", "/api/v1/outgoing-invoices/external", self.create)
        server.route("GET", "/api/v1/outgoing-invoices/{id}", self.show)

    async def create(self, request: web.Request) -> web.StreamResponse:
        step = self.script.pop(0) if self.script else None
        form = await request.post()
        if step == "drop_before":
            drop_connection(request)
            await asyncio.sleep(0.05)
            raise web.HTTPServiceUnavailable()
        origin = str(form.get("external_origin") or "my-integration")
        external_id = str(form.get("external_id") or f"auto-{len(self.records)}")
        if (origin, external_id) in self.records:
            return web.json_response({"message": "The external id has already been taken."}, status=422)
        record = invoice_json(f"inv_{len(self.records) + 1}", external_id=external_id, external_origin=origin)
        self.records[(origin, external_id)] = record
        if step == "drop":
            drop_connection(request)
            await asyncio.sleep(0.05)
            raise web.HTTPServiceUnavailable()
        if step == 500:
            return web.json_response({"message": "Server Error"}, status=500)
        return web.json_response(record, status=201)

    async def show(self, request: web.Request) -> web.Response:
        self.lookups.append({"id": request.match_info["id"], **request.query})
        if self.lookup_status is not None:
            return web.json_response({"message": "Forbidden"}, status=self.lookup_status)
        assert request.query.get("find_by") == "external_id"
        key = (request.query.get("origin", "my-integration"), request.match_info["id"])
        record = self.records.get(key)
        if record is None:
            return web.json_response({"message": "No query results for model [OutgoingInvoice]."}, status=404)
        return web.json_response(record)


async def test_a_create_whose_response_is_lost_returns_the_record_it_made_instead_of_a_duplicate(
    server: LoopbackServer, make_client: Callable[..., KanbertClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="kanbert_async")
    store = InvoiceStore(server, ["drop"])
    await server.start()
    kb = make_client(server.base_url)

    invoice = await kb.outgoing_invoices.create_external(
        **invoice_fields_for_create(), external_id="X", external_origin="shop", file=PDF
    )

    assert invoice.id == "inv_1"
    assert invoice.external_id == "X"
    assert list(store.records) == [("shop", "X")]
    assert store.lookups == [{"id": "X", "find_by": "external_id", "origin": "shop"}]
    assert server.count("POST") == 1
    assert kb.stats.duplicates_avoided == 1
    assert any("instead of creating a duplicate" in r.getMessage() for r in caplog.records)


async def test_the_lookup_without_an_origin_uses_the_integrations_default(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    store = InvoiceStore(server, ["drop"])
    await server.start()
    kb = make_client(server.base_url)

    invoice = await kb.outgoing_invoices.create_external(
        **invoice_fields_for_create(), external_id="X", file=PDF
    )

    assert invoice.id == "inv_1"
    assert store.lookups == [{"id": "X", "find_by": "external_id"}]
    assert len(store.records) == 1


async def test_an_external_id_with_a_slash_is_looked_up_as_that_id(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    store = InvoiceStore(server, ["drop"])
    await server.start()
    kb = make_client(server.base_url)

    invoice = await kb.outgoing_invoices.create_external(
        **invoice_fields_for_create(), external_id="2024/05 #7", file=PDF
    )

    assert invoice.external_id == "2024/05 #7"
    assert [lookup["id"] for lookup in store.lookups] == ["2024/05 #7"]


async def test_a_create_answered_by_a_500_after_it_was_stored_returns_the_stored_record(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    store = InvoiceStore(server, [500])
    await server.start()
    kb = make_client(server.base_url)

    invoice = await kb.outgoing_invoices.create_external(
        **invoice_fields_for_create(), external_id="X", file=PDF
    )

    assert invoice.id == "inv_1"
    assert len(store.records) == 1
    assert server.count("POST") == 1


async def test_when_the_lookup_finds_nothing_the_create_is_safely_sent_again(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    store = InvoiceStore(server, ["drop_before"])
    await server.start()
    kb = make_client(server.base_url)

    invoice = await kb.outgoing_invoices.create_external(
        **invoice_fields_for_create(), external_id="X", file=PDF
    )

    assert invoice.id == "inv_1"
    assert list(store.records) == [("my-integration", "X")]
    assert server.count("POST") == 2
    assert len(store.lookups) == 1
    assert kb.stats.duplicates_avoided == 0


async def test_without_an_external_id_a_lost_response_is_an_error_and_nothing_is_resent(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    store = InvoiceStore(server, ["drop"])
    await server.start()
    kb = make_client(server.base_url)

    with pytest.raises(APIConnectionError, match="pass external_id"):
        await kb.outgoing_invoices.create_external(**invoice_fields_for_create(), file=PDF)

    assert server.count("POST") == 1
    assert store.lookups == []
    assert len(store.records) == 1


async def test_without_an_external_id_a_500_is_an_error_and_nothing_is_resent(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    store = InvoiceStore(server, [500])
    await server.start()
    kb = make_client(server.base_url)

    with pytest.raises(InternalServerError):
        await kb.outgoing_invoices.create_external(**invoice_fields_for_create(), file=PDF)

    assert server.count("POST") == 1
    assert store.lookups == []


@pytest.mark.parametrize("lookup_status", [403, 500])
async def test_a_lookup_that_fails_surfaces_an_error_that_says_to_check_before_creating_again(
    lookup_status: int, server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    store = InvoiceStore(server, ["drop"], lookup_status=lookup_status)
    await server.start()
    kb = make_client(server.base_url)

    with pytest.raises(KanbertError) as caught:
        await kb.outgoing_invoices.create_external(**invoice_fields_for_create(), external_id="X", file=PDF)

    text = str(caught.value)
    assert "could not check whether an interrupted create took effect" in text
    assert "external_id" in text
    assert server.count("POST") == 1
    assert len(store.records) == 1


async def test_a_lookup_that_cannot_reach_the_server_also_says_to_check_before_creating_again(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    async def create(request: web.Request) -> web.StreamResponse:
        await request.read()
        drop_connection(request)
        await asyncio.sleep(0.05)
        raise web.HTTPServiceUnavailable()

    async def show(request: web.Request) -> web.StreamResponse:
        drop_connection(request)
        await asyncio.sleep(0.05)
        raise web.HTTPServiceUnavailable()

    server.route("POST", "/api/v1/outgoing-invoices/external", create)
    server.route("GET", "/api/v1/outgoing-invoices/{id}", show)
    await server.start()
    kb = make_client(server.base_url)

    with pytest.raises(APIConnectionError) as caught:
        await kb.outgoing_invoices.create_external(**invoice_fields_for_create(), external_id="X", file=PDF)

    assert "could not check whether an interrupted create took effect" in str(caught.value)
    assert server.count("POST") == 1
