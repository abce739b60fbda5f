"""Partitioned scans: every record of the listing exactly once, whatever the data looks like.

Against the sandbox (a real server: Laravel cursors, JSON filters) for sizes, skews and page sizes,
and against an in-memory listing for what the sandbox's data cannot show (nulls in the partition
field, records moving between partitions mid-scan).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import random
from dataclasses import dataclass
from typing import Any

import pytest

from kanbert_async import KanbertClient
from kanbert_async._core.capabilities import Capabilities, FilterField
from kanbert_async._core.list_args import ListArgs
from kanbert_async._core.page import Page
from kanbert_async._core.pager import AsyncPager
from kanbert_async._core.scan import PartitionRange
from kanbert_async.filters import And, Condition, F
from kanbert_async.sandbox import Sandbox
from tests.core.pagination.source import FakeSource, Fetch


async def _ids_unpartitioned(kb: KanbertClient) -> list[str]:
    return [inv.id async for inv in kb.outgoing_invoices.list(page_size=200)]


@pytest.mark.parametrize(
    ("invoices", "skew", "parts", "page_size"),
    [
        (0, "spread", 4, 10),
        (1, "spread", 4, 10),
        (97, "spread", 3, 7),
        (400, "spread", 8, 25),
        (400, "recent", 6, 30),  # most records in the last partition: it gets split while running
        (250, "one_day", 5, 20),  # all on one day: a range that cannot be cut
    ],
)
async def test_a_partitioned_scan_yields_every_record_exactly_once(
    invoices: int, skew: str, parts: int, page_size: int
) -> None:
    sandbox = Sandbox(invoices=invoices, seed=invoices + parts, date_skew=skew)
    async with sandbox as sb, KanbertClient(sb.token, base_url=sb.base_url) as kb:
        expected = await _ids_unpartitioned(kb)
        scan = kb.outgoing_invoices.list(page_size=page_size).partitioned(by="date_of_invoice", parts=parts)
        got = [inv.id async for inv in scan]
    assert len(got) == len(set(got)) == len(expected)
    assert set(got) == set(expected)
    assert scan.stats.duplicates == 0
    assert scan.stats.items == len(expected)
    if skew == "recent":
        assert scan.stats.splits > 0, "the crowded last partition should have been split while running"


async def test_the_callers_filter_is_combined_with_each_partition() -> None:
    from kanbert_async import F

    async with Sandbox(invoices=300, seed=4) as sb, KanbertClient(sb.token, base_url=sb.base_url) as kb:
        only_booked = F("status") == "booked"
        expected = {inv.id async for inv in kb.outgoing_invoices.list(filter=only_booked, page_size=200)}
        got = [
            inv.id
            async for inv in kb.outgoing_invoices.list(filter=only_booked, page_size=20).partitioned(
                by="date_of_invoice", parts=4
            )
        ]
    assert expected and sorted(got) == sorted(expected)


async def test_line_items_of_an_invoice_can_be_scanned_by_a_currency_field() -> None:
    async with Sandbox(invoices=60, seed=9) as sb, KanbertClient(sb.token, base_url=sb.base_url) as kb:
        invoice = max(sb.store.invoices(include=["line_items"]), key=lambda i: len(i.line_items or []))
        expected = [li.id async for li in kb.outgoing_invoices.list_line_items(invoice.id, page_size=200)]
        scan = kb.outgoing_invoices.list_line_items(invoice.id, page_size=5).partitioned(
            by="total_net", parts=4
        )
        got = [li.id async for li in scan]
    assert len(expected) > 10
    assert sorted(got) == sorted(expected) and len(got) == len(set(got))


async def test_partitions_walk_concurrently_and_prefetch_overlaps_the_callers_work() -> None:
    async with (
        Sandbox(invoices=300, seed=5, latency=0.03) as sb,
        KanbertClient(sb.token, base_url=sb.base_url) as kb,
    ):
        sb.counters.reset()
        async for _ in kb.outgoing_invoices.list(page_size=20).partitioned(by="date_of_invoice", parts=6):
            pass
        concurrent_scan = sb.counters.max_in_flight

        sb.counters.reset()
        async for _ in kb.outgoing_invoices.list(page_size=20, prefetch=1).pages():
            await asyncio.sleep(0.03)  # the caller's work on each page
        spans = sorted(s for s in sb.counters.spans if s[2] == "outgoingInvoices.index")
    assert concurrent_scan >= 4
    # With prefetch, request n+1 starts before the caller has finished with page n: the gap
    # between one response and the next request is shorter than the caller's 30 ms of work.
    gaps = [b[0] - a[1] for a, b in itertools.pairwise(spans)]
    assert len(gaps) >= 10
    assert sorted(gaps)[len(gaps) // 2] < 0.015


async def test_breaking_out_of_a_scan_cancels_every_walker() -> None:
    async with (
        Sandbox(invoices=400, seed=6, latency=0.05) as sb,
        KanbertClient(sb.token, base_url=sb.base_url) as kb,
    ):
        async for _ in kb.outgoing_invoices.list(page_size=10).partitioned(by="date_of_invoice", parts=6):
            break
        await asyncio.sleep(0.01)
        # The sandbox's own request handlers may still be winding down; the SDK's tasks must not be.
        sdk_tasks = [
            t
            for t in asyncio.all_tasks()
            if not t.done()
            and "kanbert_async/_core" in getattr(getattr(t.get_coro(), "cr_code", None), "co_filename", "")
        ]
        assert sdk_tasks == []


async def test_a_refusal_every_walker_meets_surfaces_as_that_api_error() -> None:
    from kanbert_async import UnprocessableEntityError

    # The probes ask for one record each and pass; every walker's page size is then refused.
    async with (
        Sandbox(invoices=60, seed=4, max_page_size=50) as sb,
        KanbertClient(sb.token, base_url=sb.base_url) as kb,
    ):
        scan = kb.outgoing_invoices.list(page_size=500).partitioned(by="date_of_invoice", parts=4)
        with pytest.raises(UnprocessableEntityError) as caught:
            async for _ in scan:
                pass
    assert caught.value.status == 422
    assert caught.value.operation == "outgoingInvoices.index"
    assert "page.size" in caught.value.message


async def test_an_unsuitable_partition_field_is_refused_listing_the_suitable_ones() -> None:
    async with Sandbox(invoices=5, seed=1) as sb, KanbertClient(sb.token, base_url=sb.base_url) as kb:
        with pytest.raises(Exception, match=r"cannot partition on 'title'.*date_of_invoice"):
            kb.outgoing_invoices.list().partitioned(by="title")


# -- an in-memory listing with a nullable partition field -------------------------------------------
@dataclass
class Record:
    id: str
    due: dt.date | None


CAPS = Capabilities(
    operation="records.index",
    sorts=frozenset({"due"}),
    fields=(FilterField("due", "date", frozenset({"lt", "gte", "isnull", "isnotnull"})),),
)


def _matches(record: Record, node: Any) -> bool:
    if node is None:
        return True
    if isinstance(node, And):
        return all(_matches(record, n) for n in node.nodes)
    assert isinstance(node, Condition) and node.field == "due"
    value = record.due
    if node.op == "isnull":
        return value is None
    if node.op == "isnotnull":
        return value is not None
    bound = node.value
    assert isinstance(bound, dt.date)
    return value is not None and (value >= bound if node.op == "gte" else value < bound)


def _pager(fetch: Fetch[Record]) -> AsyncPager[Record]:
    return AsyncPager(FakeSource(fetch), ListArgs(), operation="records.index", capabilities=CAPS)


class Listing:
    """Cursor pages over records, honouring filter trees and sort=[due] (ties by id)."""

    def __init__(self, records: list[Record]) -> None:
        self.records = records

    async def fetch(self, args: ListArgs, cursor: str | None) -> Page[Record]:
        await asyncio.sleep(0)
        rows = [r for r in self.records if _matches(r, args.filter)]
        sort = list(args.sort or [])
        descending = bool(sort) and sort[0].startswith("-")
        rows.sort(key=lambda r: (r.due or dt.date.min, r.id), reverse=descending)
        start = int(cursor or 0)
        size = args.page_size or 7
        end = start + size
        return Page(rows[start:end], cursor, str(end) if end < len(rows) else None)


@pytest.mark.parametrize("null_share", [0.0, 0.5, 1.0])
async def test_records_with_a_null_partition_field_get_their_own_partition(null_share: float) -> None:
    rng = random.Random(7)
    records = [
        Record(
            f"r{n}",
            None if rng.random() < null_share else dt.date(2024, 1, 1) + dt.timedelta(rng.randrange(90)),
        )
        for n in range(200)
    ]
    listing = Listing(records)
    pager: AsyncPager[Record] = AsyncPager(
        FakeSource(listing.fetch), ListArgs(), operation="records.index", capabilities=CAPS
    )
    scan = pager.partitioned(by="due", parts=5)
    got = [r.id async for r in scan]
    assert sorted(got) == sorted(r.id for r in records)
    plan = await scan.plan()
    assert plan[-1] == PartitionRange(nulls=True)


async def test_a_record_moving_between_partitions_mid_scan_is_delivered_once() -> None:
    records = [Record(f"r{n}", dt.date(2024, 1, 1) + dt.timedelta(days=n % 60)) for n in range(120)]
    listing = Listing(records)
    original = listing.fetch
    moved = False

    async def fetch(args: ListArgs, cursor: str | None) -> Page[Record]:
        nonlocal moved
        page = await original(args, cursor)
        if page.items and not moved:
            # The first record seen changes its date to the far end: a later partition sees it again.
            moved = True
            record = next(r for r in records if r.id == page.items[0].id)
            record.due = dt.date(2024, 2, 28)
        return page

    pager: AsyncPager[Record] = AsyncPager(
        FakeSource(fetch), ListArgs(), operation="records.index", capabilities=CAPS
    )
    scan = pager.partitioned(by="due", parts=4, split=False)
    got = [r.id async for r in scan]
    assert len(got) == len(set(got)) == 120
    assert scan.stats.duplicates <= 1


async def test_explicit_ranges_resume_cursors_and_skips_walk_only_what_is_left() -> None:
    records = [Record(f"r{n}", dt.date(2024, 1, 1) + dt.timedelta(days=n % 30)) for n in range(90)]
    listing = Listing(records)
    ranges = [PartitionRange(None, dt.date(2024, 1, 16)), PartitionRange(dt.date(2024, 1, 16), None)]
    first: AsyncPager[Record] = AsyncPager(
        FakeSource(listing.fetch), ListArgs(), operation="records.index", capabilities=CAPS
    )
    pages = [p async for p in first.partitioned(by="due", ranges=ranges, split=False).pages()]
    assert {p.partition for p in pages} == {0, 1}
    # resume partition 1 from its second page's cursor, skip partition 0 as done
    second_of_1 = [p for p in pages if p.partition == 1][1]
    again: AsyncPager[Record] = AsyncPager(
        FakeSource(listing.fetch), ListArgs(), operation="records.index", capabilities=CAPS
    )
    resumed = [
        r.id
        async for r in again.partitioned(
            by="due", ranges=ranges, split=False, resume={1: second_of_1.cursor or ""}, skip=[0]
        )
    ]
    later_pages = [p for p in pages if p.partition == 1][1:]
    assert later_pages and resumed == [r.id for p in later_pages for r in p.items]


async def test_each_partition_narrows_the_callers_arguments_and_keeps_the_rest() -> None:
    records = [Record(f"r{n}", dt.date(2024, 1, 1) + dt.timedelta(days=n % 30)) for n in range(60)]
    source = FakeSource(Listing(records).fetch)
    mine = F("due").is_not_null()
    args = ListArgs(sort=["-due"], include=["lines"], filter=mine, page_size=9, extras={"mode": "x"})
    pager = AsyncPager(source, args, operation="records.index", capabilities=CAPS)
    ranges = [PartitionRange(None, dt.date(2024, 1, 16)), PartitionRange(dt.date(2024, 1, 16), None)]
    assert len([r async for r in pager.partitioned(by="due", ranges=ranges, split=False)]) == 60
    first, *partitions = source.prepared
    assert first == args  # the pager's own listing, prepared when it was made
    cut = dt.date(2024, 1, 16)
    assert sorted(partitions, key=repr) == sorted(
        [
            ListArgs(("due",), ["lines"], mine & (F("due") < cut), page_size=9, extras={"mode": "x"}),
            ListArgs(("due",), ["lines"], mine & (F("due") >= cut), page_size=9, extras={"mode": "x"}),
        ],
        key=repr,
    )


async def test_probes_ask_for_one_record_without_includes() -> None:
    records = [Record(f"r{n}", dt.date(2024, 1, 1) + dt.timedelta(days=n)) for n in range(20)]
    source = FakeSource(Listing(records).fetch)
    pager = AsyncPager(source, ListArgs(include=["lines"]), operation="records.index", capabilities=CAPS)
    await pager.partitioned(by="due", parts=2).plan()
    probes = source.prepared[1:]
    assert sorted(p.sort for p in probes if p.sort) == [("-due",), ("due",)]
    assert all(p.page_size == 1 and p.include is None for p in probes)
    assert all(p.filter == F("due").is_not_null() for p in probes)


async def test_a_scan_under_the_servers_rate_limit_meets_one_429_at_most_the_probe_that_measures_it() -> None:
    # Laravel's headers give only the limit and what is left, not the window; eight walkers start
    # slowly, spend what is left, and one probe then meets the 429 that says when the window ends.
    # From then on each request comes back a window after it left: no further 429.
    async with (
        Sandbox(invoices=600, seed=7, rate_limit="30/s", latency=0.02) as sb,
        KanbertClient(sb.token, base_url=sb.base_url) as kb,
    ):
        scan = kb.outgoing_invoices.list(page_size=10).partitioned(by="date_of_invoice", parts=8)
        ids = [invoice.id async for invoice in scan]
        assert scan.stats.pages > 60  # three windows and more
        assert sb.counters.rate_limited <= 1
        assert kb.stats.rate_limited == sb.counters.rate_limited
        assert len(ids) == len(set(ids))
        assert set(ids) == set(await _ids_unpartitioned(kb))
