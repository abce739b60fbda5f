"""What every user of either client relies on, against the sandbox: records, listings by hand and by
iteration, scans, downloads, creates without duplicates, errors, raw responses, undescribed endpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from kanbert_async import F, NotFoundError, Page, RequestOptions
from kanbert_async.sandbox import Sandbox
from kanbert_async.sync import SyncPage
from tests.clients.conftest import each, ready
from tests.core.transport.loopback import invoice_fields_for_create

RELATIONS = ("line_items", "discounts", "external_costs")


async def test_a_record_by_id_and_by_external_id(kb: Any, kanbert_sandbox: Sandbox) -> None:
    invoice = kanbert_sandbox.store.invoices()[0]
    # A single record comes with its relations, as Kanbert sends it.
    assert (await ready(kb.outgoing_invoices.get(invoice.id))) == kanbert_sandbox.store.invoice(
        invoice.id, include=RELATIONS
    )
    ours = next(
        i for i in kanbert_sandbox.store.invoices() if i.external_origin == "sandbox" and i.external_id
    )
    found = await ready(kb.outgoing_invoices.get(ours.external_id, find_by="external_id"))
    assert found.id == ours.id
    assert kb.last_response.status == 200 and kb.last_response.request_id


async def test_a_listing_with_include_filter_and_sort_gives_exactly_the_matching_records(
    kb: Any, kanbert_sandbox: Sandbox
) -> None:
    pager = kb.outgoing_invoices.list(
        include=["line_items"], filter=F("status") == "booked", sort=["-date_of_invoice"], page_size=25
    )
    got = [inv async for inv in each(pager)]
    expected = [i for i in kanbert_sandbox.store.invoices() if i.status == "booked"]
    assert sorted(i.id for i in got) == sorted(i.id for i in expected)
    assert [i.date_of_invoice for i in got] == sorted((i.date_of_invoice for i in got), reverse=True)
    assert any(i.line_items for i in got)


async def test_pages_by_hand_from_the_first_to_the_last(kb: Any, kanbert_sandbox: Sandbox) -> None:
    page = await ready(kb.outgoing_invoices.list(page_size=40).first_page())
    assert isinstance(page, Page | SyncPage)
    seen = list(page.items)
    while page.has_next_page():
        page = await ready(page.next_page())
        seen += page.items
    assert page.is_last and page.request_id
    assert sorted(i.id for i in seen) == sorted(i.id for i in kanbert_sandbox.store.invoices())


async def test_stopping_early_leaves_nothing_running(kb: Any) -> None:
    taken = 0
    async for _ in each(kb.outgoing_invoices.list(page_size=10, prefetch=2)):
        taken += 1
        if taken == 15:
            break
    assert taken == 15
    assert await ready(
        kb.outgoing_invoices.get((await ready(kb.outgoing_invoices.list().first_page())).items[0].id)
    )


async def test_a_partitioned_scan_gives_every_record_once(kb: Any, kanbert_sandbox: Sandbox) -> None:
    scan = kb.outgoing_invoices.list(page_size=20).partitioned(by="date_of_invoice", parts=4)
    ids = [inv.id async for inv in each(scan)]
    assert len(ids) == len(set(ids)) == len(kanbert_sandbox.store.invoices())


async def test_a_pdf_is_saved_whole_through_a_dropped_body(
    kb: Any, kanbert_sandbox: Sandbox, tmp_path: Path
) -> None:
    invoice = kanbert_sandbox.store.invoices()[1]
    kanbert_sandbox.fail_next(1, "drop_mid_body", operations=["outgoingInvoices.pdf"])
    size = await ready(kb.outgoing_invoices.download_pdf(invoice.id).save(tmp_path / "a.pdf"))
    data = (tmp_path / "a.pdf").read_bytes()
    assert (
        size == len(data)
        and data.startswith(b"%PDF")
        and data == await ready(kb.outgoing_invoices.download_pdf(invoice.id).read())
    )


async def test_a_create_whose_answer_was_lost_is_not_made_twice(kb: Any, kanbert_sandbox: Sandbox) -> None:
    external_id = f"EXT-{type(kb).__module__}-{id(kb)}"
    client_id = kanbert_sandbox.store.invoices()[0].client.id
    kanbert_sandbox.fail_next(1, "lost_upload", operations=["outgoingInvoices.createExternal"])
    fields = {**invoice_fields_for_create(), "client_id": client_id, "invoice_number": external_id}
    made = await ready(
        kb.outgoing_invoices.create_external(**fields, external_id=external_id, file_url="https://x/y.pdf")
    )
    twins = [i for i in kanbert_sandbox.store.invoices(archived="with") if i.external_id == external_id]
    assert [t.id for t in twins] == [made.id] and kb.stats.duplicates_avoided == 1


async def test_errors_name_the_operation_and_carry_status_code_and_attempts(
    kb: Any, kanbert_sandbox: Sandbox
) -> None:
    kanbert_sandbox.fail_next(1, "error", status=503)
    with pytest.raises(NotFoundError) as caught:
        await ready(kb.outgoing_invoices.get("no-such-invoice"))
    assert caught.value.status_code == 404 and caught.value.attempts == 2
    assert "outgoingInvoices.show" in str(caught.value)


async def test_raw_responses_and_undescribed_endpoints(kb: Any, kanbert_sandbox: Sandbox) -> None:
    invoice = kanbert_sandbox.store.invoices()[2]
    raw = await ready(kb.outgoing_invoices.with_raw_response.get(invoice.id))
    assert raw.status_code == 200 and raw.request_id and raw.json()["id"] == invoice.id
    assert raw.parsed == kanbert_sandbox.store.invoice(invoice.id, include=RELATIONS)

    class Line(msgspec.Struct):
        id: str
        title: str

    lines = [
        line
        async for line in each(
            kb.paginate(
                "GET", "/outgoing-invoices/{id}/line-items", item=Line, path={"id": invoice.id}, page_size=2
            )
        )
    ]
    assert [line.id for line in lines] == [
        li.id for li in kanbert_sandbox.store.invoice(invoice.id, include=("line_items",)).line_items
    ]
    same = await ready(kb.request("GET", "/outgoing-invoices/{id}", path={"id": invoice.id}, cast_to=Line))
    assert same.id == invoice.id


async def test_with_options_shares_the_client_and_overrides_per_use(
    kb: Any, kanbert_sandbox: Sandbox
) -> None:
    patient = kb.with_options(max_retries=0, headers={"X-Trace": "t-1"})
    kanbert_sandbox.fail_next(1, "error", status=503)
    with pytest.raises(Exception, match="503"):
        await ready(patient.outgoing_invoices.get(kanbert_sandbox.store.invoices()[0].id))
    assert kb.stats.requests == 1  # the copy counts on the original's stats
    invoice = await ready(
        kb.outgoing_invoices.get(
            kanbert_sandbox.store.invoices()[0].id, options=RequestOptions(max_retries=1)
        )
    )
    assert invoice.id
