"""The generated data: deterministic, realistic, covering every enum value, fast to start."""

from __future__ import annotations

import time
from collections import Counter

import msgspec
import pytest

from kanbert_async._generated.models import (
    AccountingLineItemType,
    OfferUnitIntervalType,
    OutgoingInvoiceMasterType,
    OutgoingInvoicePaymentStatus,
    OutgoingInvoiceStatus,
    UserType,
)
from kanbert_async.sandbox import Sandbox, SandboxConfig, Store
from kanbert_async.sandbox.vocabulary import HOSTILE_TITLES

from .conftest import SMALL


def _dump(store: Store) -> bytes:
    invoices = store.invoices(archived="with", include=("line_items", "discounts", "external_costs"))
    masters = store.masters(archived="with", include=("line_items", "discounts", "external_costs"))
    return msgspec.json.encode([invoices, masters])


def test_equal_seeds_give_equal_data_and_other_seeds_do_not() -> None:
    config = SandboxConfig(invoices=120, seed=3)
    first, second = _dump(Store(config)), _dump(Store(config))
    assert first == second
    assert _dump(Store(SandboxConfig(invoices=120, seed=4))) != first


def test_relations_are_stable_when_regenerated() -> None:
    store = Store(SandboxConfig(invoices=50, seed=1))
    record = store.invoice_records("with")[0]
    once = msgspec.json.encode(store.line_items(record)[0].model)
    store._relations = type(store._relations)(1)  # forget every cached relation
    assert msgspec.json.encode(store.line_items(record)[0].model) == once


def test_every_enum_value_occurs() -> None:
    store = Store(SandboxConfig(invoices=SMALL, seed=7))
    invoices = store.invoices(archived="with")
    masters = store.masters(archived="with")
    assert {i.status for i in invoices} == set(OutgoingInvoiceStatus)
    assert {i.payment_status for i in invoices} == set(OutgoingInvoicePaymentStatus)
    assert {m.type for m in masters} == set(OutgoingInvoiceMasterType)
    items = [li for r in store.invoice_records("with") for li in store.line_items(r)]
    assert {li.model.type for li in items} == set(AccountingLineItemType)
    assert {li.model.payment_partial_type for li in items} == set(OfferUnitIntervalType)
    assert {u.type for u in store.users} == set(UserType)


def test_realistic_shape() -> None:
    store = Store(SandboxConfig(invoices=SMALL, seed=7))
    invoices = store.invoices(archived="with")
    numbers = [i.invoice_number for i in invoices if i.invoice_number is not None]
    assert len(numbers) == len(set(numbers)), "invoice numbers are unique"
    assert any(i.invoice_number is None for i in invoices), "drafts have no number yet"
    assert any(i.is_credit and i.sum_net < 0 for i in invoices), "credit notes"
    assert any(i.master_invoice_id for i in invoices) and any(i.partial_indent for i in invoices)
    assert any(i.deleted_at for i in invoices), "some are archived"
    assert any(i.company is None for i in invoices) and any(i.project is None for i in invoices)
    assert any(i.performance_range_start is None for i in invoices)
    years = {i.date_of_invoice.year for i in invoices}
    assert len(years) >= 3, "dates spread over years"
    # External ids repeat across origins, so lookups must respect the origin.
    refs = [(i.external_origin, i.external_id) for i in invoices if i.external_id]
    assert len({origin for origin, _ in refs}) >= 2
    assert len({eid for _, eid in refs}) < len(refs)
    counts = [r.plan.lines for r in store.invoice_records("with")]
    assert min(counts) == 0 and max(counts) == 200
    assert Counter(c <= 10 for c in counts)[True] > len(counts) / 2, "most invoices have few items"
    assert {t for t in HOSTILE_TITLES} <= {i.title for i in invoices}


def test_sums_add_up_from_line_items() -> None:
    store = Store(SandboxConfig(invoices=SMALL, seed=7))
    checked = 0
    for record in store.invoice_records("with"):
        if record.plan.discounts or not record.plan.lines:
            continue
        items = store.line_items(record)
        assert record.model.sum_net == pytest.approx(sum(li.model.total_net for li in items), abs=0.02)
        costs = store.external_costs(record)
        assert record.model.sum_external_costs == pytest.approx(sum(c.total for c in costs), abs=0.02)
        checked += 1
    assert checked > 100


def test_date_skews_and_null_fraction() -> None:
    one_day = Store(SandboxConfig(invoices=100, seed=1, date_skew="one_day"))
    assert {i.date_of_invoice.date() for i in one_day.invoices(archived="with")} == {
        one_day.config.anchor_date
    }
    nulls = Store(SandboxConfig(invoices=400, seed=1, null_fraction=0.5))
    share = sum(i.performance_range_start is None for i in nulls.invoices(archived="with")) / 400
    assert 0.35 < share < 0.65
    none = Store(SandboxConfig(invoices=100, seed=1, null_fraction=0.0))
    assert all(i.performance_range_start is not None for i in none.invoices(archived="with"))
    recent = Store(SandboxConfig(invoices=400, seed=1, date_skew="recent"))
    anchor = recent.config.anchor_date
    young = sum((anchor - i.date_of_invoice.date()).days < 365 for i in recent.invoices(archived="with"))
    assert young > 300


def test_pdfs_are_valid_and_name_the_invoice() -> None:
    store = Store(SandboxConfig(invoices=20, seed=1, pdf_min_bytes=50_000))
    record = next(r for r in store.invoice_records() if r.model.invoice_number)
    data = store.pdf(record)
    assert data.startswith(b"%PDF-1.4") and data.rstrip().endswith(b"%%EOF")
    assert record.model.invoice_number is not None
    assert record.model.invoice_number.encode() in data
    assert len(data) >= 50_000
    # The cross-reference table points at the objects.
    xref_at = int(data.rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    assert data[xref_at:].startswith(b"xref")
    first = int(data[xref_at:].split(b"\n")[3].split()[0])
    assert data[first:].startswith(b"1 0 obj")


async def test_ten_thousand_invoices_start_within_five_seconds() -> None:
    started = time.perf_counter()
    async with Sandbox(invoices=10_000, seed=1) as sb:
        elapsed = time.perf_counter() - started
        assert len(sb.store.invoice_records("with")) == 10_000
    assert elapsed < 5.0, f"startup took {elapsed:.2f}s"
