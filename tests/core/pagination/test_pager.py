"""AsyncPager over an in-memory cursor chain: order, limits, resume, prefetch, cancellation, loops."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from kanbert_async import PaginationError
from kanbert_async._core.list_args import ListArgs
from kanbert_async._core.page import Page
from kanbert_async._core.pager import AsyncPager
from tests.core.pagination.source import FakeSource


@dataclass
class Item:
    id: str


class Chain:
    """A fake list endpoint: pages of `size` items, cursor = index of the next item."""

    def __init__(self, total: int, size: int, delay: float = 0.0) -> None:
        self.items = [Item(f"i{n}") for n in range(total)]
        self.size = size
        self.delay = delay
        self.started: list[tuple[float, str | None]] = []
        self.finished: list[tuple[float, str | None]] = []
        self.block_on: str | None = None

    async def fetch(self, args: ListArgs, cursor: str | None) -> Page[Item]:
        self.started.append((asyncio.get_running_loop().time(), cursor))
        if cursor is not None and cursor == self.block_on:
            await asyncio.Event().wait()
        await asyncio.sleep(self.delay)
        start = int(cursor or 0)
        end = start + self.size
        self.finished.append((asyncio.get_running_loop().time(), cursor))
        return Page(self.items[start:end], cursor, str(end) if end < len(self.items) else None)

    def source(self, hint: Callable[[Page[Item]], str | None] | None = None) -> FakeSource[Item]:
        return FakeSource(self.fetch, hint)

    def pager(self, source: FakeSource[Item] | None = None, **kw: Any) -> AsyncPager[Item]:
        return AsyncPager(source or self.source(), ListArgs(), operation="things.index", **kw)


async def test_iterating_yields_every_item_once_in_order() -> None:
    chain = Chain(total=95, size=10)
    assert [i.id for i in await chain.pager().to_list()] == [i.id for i in chain.items]


async def test_pages_carry_their_cursor_and_the_next_one() -> None:
    chain = Chain(total=25, size=10)
    pages = [page async for page in chain.pager().pages()]
    assert [(p.cursor, p.next_cursor, len(p.items)) for p in pages] == [
        (None, "10", 10),
        ("10", "20", 10),
        ("20", None, 5),
    ]
    assert pages[-1].is_last


async def test_max_items_and_max_pages_stop_early() -> None:
    chain = Chain(total=100, size=10)
    assert len(await chain.pager(max_items=25).to_list()) == 25
    assert len([p async for p in Chain(100, 10).pager(max_pages=3).pages()]) == 3


async def test_the_cursor_after_a_page_resumes_exactly_where_it_stopped() -> None:
    chain = Chain(total=50, size=10)
    pager = chain.pager()
    seen: list[str] = []
    async for page in pager.pages():
        seen += [i.id for i in page.items]
        if len(seen) == 20:
            break
    checkpoint = pager.cursor
    rest = await chain.pager(start_cursor=checkpoint).to_list()
    assert seen + [i.id for i in rest] == [i.id for i in chain.items]


async def test_first_page_fetches_only_one_page() -> None:
    chain = Chain(total=50, size=10)
    page = await chain.pager().first_page()
    assert len(page.items) == 10 and len(chain.started) == 1


async def test_prefetch_fetches_the_next_page_while_the_caller_works() -> None:
    chain = Chain(total=40, size=10, delay=0.05)
    async for page in chain.pager(prefetch=1).pages():
        if page.cursor is None:
            await asyncio.sleep(0.1)  # the caller works on page 1 ...
            # ... and page 2 was fetched meanwhile, without being asked for.
            assert any(cursor == "10" for _, cursor in chain.finished)
            break


async def test_without_prefetch_nothing_is_fetched_ahead() -> None:
    chain = Chain(total=40, size=10, delay=0.01)
    async for _ in chain.pager(prefetch=0).pages():
        await asyncio.sleep(0.05)
        assert len(chain.started) == 1
        break


async def test_prefetch_depth_bounds_the_pages_held() -> None:
    chain = Chain(total=200, size=10)
    async for _ in chain.pager(prefetch=2).pages():
        await asyncio.sleep(0.05)
        # the page in hand plus at most `depth` fetched or in flight
        assert len(chain.started) <= 1 + 2
        break


async def test_while_the_caller_waits_the_next_request_leaves_before_the_page_is_decoded() -> None:
    chain = Chain(total=30, size=10, delay=0.01)
    source = chain.source()
    assert len(await chain.pager(source).to_list()) == 30
    assert source.events.index(("request", "10")) < source.events.index(("decode", None))
    assert source.events.index(("request", "20")) < source.events.index(("decode", "10"))


async def test_a_wrong_cursor_hint_costs_a_discarded_request_never_a_wrong_or_repeated_page() -> None:
    chain = Chain(total=50, size=10, delay=0.01)
    source = chain.source(hint=lambda page: "bogus")  # int("bogus") fails: that request errs
    assert [i.id for i in await chain.pager(source).to_list()] == [i.id for i in chain.items]
    assert [c for c in source.events if c[0] == "decode"] == [
        ("decode", c) for c in (None, "10", "20", "30", "40")
    ]
    assert ("request", "bogus") in source.events
    await _let_cancellations_unwind()
    assert _other_tasks() == set()


async def test_a_hint_is_only_taken_while_a_permit_is_free_so_a_slow_caller_bounds_the_requests() -> None:
    chain = Chain(total=200, size=10)
    source = chain.source()
    async for _ in chain.pager(source, prefetch=1).pages():
        await asyncio.sleep(0.05)
        # the page in hand and the one fetched ahead; no request beyond on a hint
        assert [c for kind, c in source.events if kind == "request"] == [None, "10"]
        break


def _other_tasks() -> set[asyncio.Task[Any]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()}


async def _let_cancellations_unwind() -> None:
    # The prefetch task and the request it sent ahead each finish on a loop iteration of their own.
    for _ in range(3):
        await asyncio.sleep(0)


async def test_breaking_out_cancels_the_fetch_in_flight_and_leaves_no_task() -> None:
    chain = Chain(total=100, size=10)
    chain.block_on = "10"  # the prefetch of page 2 never returns on its own
    async for _ in chain.pager(prefetch=1):
        await asyncio.sleep(0.01)
        break
    await _let_cancellations_unwind()
    assert _other_tasks() == set()


async def test_cancelling_the_caller_cancels_the_prefetch_too() -> None:
    chain = Chain(total=100, size=10)
    chain.block_on = "10"

    async def consume() -> None:
        async for _ in chain.pager(prefetch=1):
            await asyncio.sleep(10)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await _let_cancellations_unwind()
    assert _other_tasks() == set()


async def test_a_cursor_returned_twice_stops_with_a_clear_error() -> None:
    async def looping(args: ListArgs, cursor: str | None) -> Page[Item]:
        n = int(cursor or 0)
        return Page([Item(f"i{n}")], cursor, str((n + 1) % 3))

    pager: AsyncPager[Item] = AsyncPager(FakeSource(looping), ListArgs(), operation="things.index")
    with pytest.raises(PaginationError, match=r"things.index.*a second time"):
        await pager.to_list()


async def test_a_page_repeating_the_previous_one_stops_with_a_clear_error() -> None:
    async def stuck(args: ListArgs, cursor: str | None) -> Page[Item]:
        return Page([Item("same")], cursor, f"c{len(cursor or '')}x")

    pager: AsyncPager[Item] = AsyncPager(FakeSource(stuck), ListArgs(), operation="things.index", prefetch=0)
    with pytest.raises(PaginationError, match="same page twice"):
        await pager.to_list()


async def test_errors_from_a_prefetched_page_reach_the_caller() -> None:
    async def failing(args: ListArgs, cursor: str | None) -> Page[Item]:
        if cursor:
            raise RuntimeError("page 2 failed")
        return Page([Item("a")], cursor, "next")

    pager: AsyncPager[Item] = AsyncPager(FakeSource(failing), ListArgs(), operation="things.index")
    with pytest.raises(RuntimeError, match="page 2 failed"):
        await pager.to_list()


async def test_a_pager_is_iterated_once() -> None:
    pager = Chain(10, 5).pager()
    await pager.to_list()
    with pytest.raises(Exception, match="iterated once"):
        await pager.to_list()
