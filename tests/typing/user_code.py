"""A user's file exercising the public names issue 15 added; ``mypy --strict`` must accept it and
every ``assert_type`` must hold (checked by ``tests/test_typing.py``; never run)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, assert_type

import aiohttp
import msgspec

from kanbert_async import (
    APIStatusError,
    Attempt,
    KanbertClient,
    Page,
    RateLimitInfo,
    RawResponse,
    ResponseInfo,
)
from kanbert_async.models import OutgoingInvoiceData
from kanbert_async.sandbox import Sandbox, SandboxConfig
from kanbert_async.sync import KanbertClient as SyncKanbertClient
from kanbert_async.sync import SyncBinaryResponse, SyncPage, SyncPager


class Project(msgspec.Struct):
    id: str
    name: str


def on_request(attempt: Attempt) -> None:
    attempt.state["started"] = attempt.number
    assert_type(attempt.path_params, Mapping[str, str])


async def on_response(attempt: Attempt) -> None:
    assert_type(attempt.status, int | None)
    assert_type(attempt.request_id, str | None)
    assert_type(attempt.elapsed, float | None)


async def async_client() -> None:
    kb = KanbertClient(
        "token",
        default_headers={"X-App": "books"},
        default_query={"tenant": "t1"},
        event_hooks={"request": [on_request], "response": [on_response], "error": [on_request]},
        trace_configs=[aiohttp.TraceConfig()],
    )
    invoice = await kb.outgoing_invoices.get("inv_1", extra_query={"a": 1}, extra_headers={"X": "y"})
    assert_type(invoice, OutgoingInvoiceData)
    assert_type(invoice.to_dict(), dict[str, Any])
    assert_type(invoice.to_dict(mode="json"), dict[str, Any])
    assert_type(invoice.to_json(indent=2), str)
    assert_type(kb.last_response, ResponseInfo | None)

    raw = await kb.outgoing_invoices.with_raw_response.get("inv_1", find_by="id")
    assert_type(raw, RawResponse[OutgoingInvoiceData])
    assert_type(raw.parsed, OutgoingInvoiceData)
    assert_type(raw.parse(), OutgoingInvoiceData)
    assert_type(raw.status_code, int)
    assert_type(raw.request_id, str | None)
    assert_type(raw.elapsed, float)
    assert_type(raw.retries, int)
    first_raw = await kb.outgoing_invoices.with_raw_response.list(page_size=10)
    assert_type(first_raw, RawResponse[Page[OutgoingInvoiceData]])
    pdf_raw = await kb.outgoing_invoices.with_raw_response.download_pdf("inv_1")
    assert_type(pdf_raw.parsed, bytes)

    page = await kb.outgoing_invoices.list(page_size=100)
    assert_type(page, Page[OutgoingInvoiceData])
    assert_type(page.items, list[OutgoingInvoiceData])
    assert_type(page.has_next_page(), bool)
    assert_type(await page.next_page(), Page[OutgoingInvoiceData])
    assert_type(page.request_id, str | None)

    project = await kb.request("GET", "/projects/{id}", path={"id": "p"}, query={"x": 1}, cast_to=Project)
    assert_type(project, Project)
    projects = await kb.request("GET", "/projects", cast_to=list[Project])
    assert_type(projects, list[Project])
    async for item in kb.paginate("GET", "/projects", item=Project, page_size=50):
        assert_type(item, Project)

    patient = kb.with_options(timeout=300, max_retries=10, headers={"X-Job": "nightly"})
    assert_type(patient, KanbertClient)
    try:
        await patient.outgoing_invoices.get("inv_1")
    except APIStatusError as exc:
        assert_type(exc.status_code, int)
        assert_type(exc.attempts, int)
        assert_type(exc.rate_limit, RateLimitInfo)
    await kb.aclose()


def blocking_client() -> None:
    with SyncKanbertClient("token", default_headers={"X-App": "books"}) as kb:
        invoice = kb.outgoing_invoices.get("inv_1", find_by="external_id", extra_query={"a": "b"})
        assert_type(invoice, OutgoingInvoiceData)
        pager = kb.outgoing_invoices.list(include=["line_items"], page_size=100)
        assert_type(pager, SyncPager[OutgoingInvoiceData])
        for item in pager:
            assert_type(item, OutgoingInvoiceData)
        first = kb.outgoing_invoices.list().first_page()
        assert_type(first, SyncPage[OutgoingInvoiceData])
        assert_type(first.next_page(), SyncPage[OutgoingInvoiceData])
        for scanned in kb.outgoing_invoices.list().partitioned(by="date_of_invoice", parts=4):
            assert_type(scanned, OutgoingInvoiceData)
        download = kb.outgoing_invoices.download_pdf("inv_1")
        assert_type(download, SyncBinaryResponse)
        assert_type(download.read(), bytes)
        assert_type(download.save("x.pdf"), int)
        raw = kb.outgoing_invoices.with_raw_response.get("inv_1")
        assert_type(raw, RawResponse[OutgoingInvoiceData])
        assert_type(kb.outgoing_invoices.with_raw_response.list(), RawResponse[SyncPage[OutgoingInvoiceData]])
        assert_type(kb.request("GET", "/projects/{id}", path={"id": "p"}, cast_to=Project), Project)
        assert_type(kb.paginate("GET", "/projects", item=Project), SyncPager[Project])
        assert_type(kb.with_options(max_retries=1), SyncKanbertClient)
        assert_type(kb.last_response, ResponseInfo | None)


def sandbox_per_test(sb: Sandbox) -> None:
    before = sb.reconfigure(error_rate=0.2, latency=0.01)
    assert_type(before, SandboxConfig)
    sb.reset_counters()
    logging.getLogger("kanbert_async").setLevel(logging.INFO)
