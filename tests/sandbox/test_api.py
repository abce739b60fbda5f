"""Single records, includes, lookups, ids in paths, auth errors and PDFs."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import aiohttp
import msgspec
import pytest

from kanbert_async._generated.models import (
    OutgoingInvoiceData,
    OutgoingInvoiceDataCursorPaginatedCollection,
    OutgoingInvoiceMasterData,
)
from kanbert_async.sandbox import Sandbox

from .conftest import Api

RELATIONS = ("line_items", "discounts", "external_costs")


async def test_responses_are_the_models_and_relations_come_only_when_included(api: Api) -> None:
    store = api.sandbox.store
    response = await api.get("/outgoing-invoices", {"page[size]": "50"})
    page = msgspec.json.decode(await response.read(), type=OutgoingInvoiceDataCursorPaginatedCollection)
    raw = await response.json()
    for item, model in zip(raw["data"], page.data, strict=True):
        assert not set(RELATIONS) & set(item), "relations are absent unless included"
        assert "computed_fields" not in item
        assert model == store.invoice(model.id)
    included = await api.json("/outgoing-invoices", {"page[size]": "50", "include": "line_items,discounts"})
    for item in included["data"]:
        assert "line_items" in item and "discounts" in item and "external_costs" not in item
        expected = store.invoice(item["id"], include=("line_items", "discounts"))
        assert msgspec.json.decode(msgspec.json.encode(item), type=OutgoingInvoiceData) == expected
    assert any(item["line_items"] for item in included["data"])


async def test_a_single_record_carries_the_relations_its_schema_requires(api: Api) -> None:
    # The schema requires them and the single-record routes have no `include` to ask for them
    # (only listings load relations on request).
    store = api.sandbox.store
    invoice = store.invoices()[3]
    body = await api.json(f"/outgoing-invoices/{invoice.id}")
    expected = store.invoice(invoice.id, include=RELATIONS)
    assert msgspec.json.decode(msgspec.json.encode(body), type=OutgoingInvoiceData) == expected
    assert set(RELATIONS) <= set(body)
    master = store.masters()[0]
    body = await api.json(f"/outgoing-invoices/master/{master.id}")
    decoded = msgspec.json.decode(msgspec.json.encode(body), type=OutgoingInvoiceMasterData)
    assert decoded.id == master.id and set(RELATIONS) <= set(body)
    archived = store.invoices(archived="only")[0]
    assert (await api.json(f"/outgoing-invoices/{archived.id}"))["deleted_at"] is not None


async def test_find_by_external_id_respects_the_origin(api: Api) -> None:
    store = api.sandbox.store
    invoices = store.invoices(archived="with")
    ours = next(i for i in invoices if i.external_origin == "sandbox" and i.external_id)
    assert ours.external_id is not None
    twin = next(
        (i for i in invoices if i.external_id == ours.external_id and i.external_origin != "sandbox"), None
    )
    # Default origin: the token's integration slug ("sandbox").
    body = await api.json(f"/outgoing-invoices/{ours.external_id}", {"find_by": "external_id"})
    assert body["id"] == ours.id
    if twin is not None:
        other = await api.json(
            f"/outgoing-invoices/{ours.external_id}",
            {"find_by": "external_id", "origin": str(twin.external_origin)},
        )
        assert other["id"] == twin.id
    datev = next(i for i in invoices if i.external_origin == "datev" and i.external_id)
    token = api.sandbox.issue_token(origin="datev")
    response = await api.session.get(
        api.url(f"/outgoing-invoices/{datev.external_id}?find_by=external_id"),
        headers={"Authorization": f"Bearer {token}"},
    )
    assert (await response.json())["id"] == datev.id
    lines = await api.json(f"/outgoing-invoices/{ours.external_id}/line-items", {"find_by": "external_id"})
    assert lines["data"] == []  # imported invoices carry no line items
    pdf = await api.get(f"/outgoing-invoices/{ours.external_id}/pdf", {"find_by": "external_id"})
    assert pdf.status == 200
    missing = await api.json("/outgoing-invoices/EXT-99999", {"find_by": "external_id"}, status=404)
    assert missing == {"message": "No query results for model [App\\Models\\OutgoingInvoice] EXT-99999"}
    bad = await api.json(f"/outgoing-invoices/{ours.id}", {"find_by": "shortcode"}, status=422)
    assert bad["errors"] == {"find_by": ["The selected find by is invalid."]}


@pytest.mark.parametrize("weird", ["a/b", "..", ".", "x?y", "a b", "%2F", "ü", "external", "1/pdf", "#frag"])
@pytest.mark.parametrize("suffix", ["", "/pdf", "/line-items"])
async def test_ids_with_any_characters_reach_the_handler(api: Api, weird: str, suffix: str) -> None:
    encoded = quote(weird, safe="")
    if encoded in (".", ".."):
        encoded = encoded.replace(".", "%2E")
    body = await api.json(f"/outgoing-invoices/{encoded}{suffix}", status=404)
    assert body == {"message": f"No query results for model [App\\Models\\OutgoingInvoice] {weird}"}


async def test_masters_route_wins_over_an_id(api: Api) -> None:
    body = await api.json("/outgoing-invoices/master")
    assert "data" in body
    body = await api.json("/outgoing-invoices/master/nope", status=404)
    assert body["message"] == "No query results for model [App\\Models\\OutgoingInvoiceMaster] nope"


async def test_unknown_routes_and_methods(api: Api) -> None:
    body = await api.json("/outgoing-invoices/a/b/c", status=404)
    assert "could not be found" in body["message"]
    response = await api.session.delete(
        api.url("/outgoing-invoices"), headers={"Authorization": f"Bearer {api.token}"}
    )
    assert response.status == 405 and "GET" in response.headers["Allow"]
    assert response.content_type == "application/json"


async def test_401_and_403(api: Api) -> None:
    url = api.url("/outgoing-invoices")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {api.token}"}):
        response = await api.session.get(url, headers=headers)
        assert response.status == 401 and response.content_type == "application/json"
        assert await response.json() == {"message": "Unauthenticated."}
    upload_only = api.sandbox.issue_token(scopes=["outgoing-invoice:upload"])
    response = await api.session.get(url, headers={"Authorization": f"Bearer {upload_only}"})
    assert response.status == 403
    body = await response.json()
    assert (
        body["message"].startswith("Invalid scope(s) provided.")
        and "outgoing-invoice:read" in body["message"]
    )
    read_only = api.sandbox.issue_token(scopes=["outgoing-invoice:read"])
    response = await api.session.post(
        api.url("/outgoing-invoices/external"), data={}, headers={"Authorization": f"Bearer {read_only}"}
    )
    assert response.status == 403 and "outgoing-invoice:upload" in (await response.json())["message"]
    api.sandbox.revoke_token(read_only)
    response = await api.session.get(url, headers={"Authorization": f"Bearer {read_only}"})
    assert response.status == 401


async def test_expiring_tokens(api: Api) -> None:
    token = api.sandbox.issue_token(ttl=0.2)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await api.session.get(api.url("/outgoing-invoices"), headers=headers)).status == 200
    await asyncio.sleep(0.25)
    assert (await api.session.get(api.url("/outgoing-invoices"), headers=headers)).status == 401


async def test_pdf_download(api: Api) -> None:
    store = api.sandbox.store
    invoice = next(i for i in store.invoices() if i.invoice_number)
    response = await api.get(f"/outgoing-invoices/{invoice.id}/pdf")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{invoice.invoice_number}.pdf"'
    data = await response.read()
    assert data.startswith(b"%PDF-") and str(invoice.invoice_number).encode() in data
    assert int(response.headers["Content-Length"]) == len(data)
    draft = next(i for i in store.invoices() if i.invoice_number is None)
    response = await api.get(f"/outgoing-invoices/{draft.id}/pdf")
    assert response.headers["Content-Disposition"] == f'attachment; filename="invoice-{draft.id}.pdf"'


async def test_counters_show_overlapping_requests(session: aiohttp.ClientSession) -> None:
    async with Sandbox(invoices=30, seed=1, latency=0.1) as sb:
        api = Api(sb, session, sb.token)
        await asyncio.gather(*(api.get("/outgoing-invoices") for _ in range(5)))
        counters = sb.counters
        assert counters.requests["outgoingInvoices.index"] == 5
        assert counters.statuses[200] == 5
        assert counters.max_in_flight == 5 and counters.overlapping("outgoingInvoices.index") == 5
        starts = [t for t, op in counters.timeline]
        assert max(starts) - min(starts) < 0.1, "all five started before the first finished"
        counters.reset()
        assert counters.total() == 0
        snapshot = await (await session.get(f"{sb.root_url}/__sandbox__/counters")).json()
        assert snapshot["requests"] == {}


async def test_create_app_runs_under_aiohttp_test_utils() -> None:
    from aiohttp.test_utils import TestClient, TestServer

    from kanbert_async.sandbox import SandboxConfig, create_app
    from kanbert_async.sandbox.app import STATE

    app = create_app(SandboxConfig(invoices=12, seed=1), max_page_size=5)
    state = app[STATE]
    async with TestClient(TestServer(app)) as client:
        response = await client.get(
            "/api/v1/outgoing-invoices", headers={"Authorization": f"Bearer {state.token}"}
        )
        body = await response.json()
        assert response.status == 200 and len(body["data"]) == 5
    assert state.counters.requests["outgoingInvoices.index"] == 1


@pytest.mark.parametrize(
    "path",
    [
        "/outgoing-invoices/a%0Ab",
        "/outgoing-invoices/a%0D%0Ab/pdf",
        "/outgoing-invoices/master/%00",
        "/outgoing-invoices/a%0Ab/line-items",
        "/no-such-route%0A",
        "/outgoing-invoices/%E2%80%A8",
    ],
)
async def test_every_path_answers_laravel_style_json_even_with_control_characters(
    api: Api, path: str
) -> None:
    response = await api.get(path)
    assert response.status == 404
    assert response.content_type == "application/json"
    assert set(await response.json()) == {"message"}
