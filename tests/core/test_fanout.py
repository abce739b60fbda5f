"""kb.map: bounded concurrency, completion order, per-item errors, backpressure, cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from kanbert_async import KanbertClient


@pytest.fixture
async def kb() -> AsyncIterator[KanbertClient]:
    async with KanbertClient("token", base_url="http://127.0.0.1:1/api/v1") as client:
        yield client


async def test_never_more_than_concurrency_run_at_once(kb: KanbertClient) -> None:
    running = peak = 0

    async def work(n: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1
        return n * 2

    results = await kb.map(work, range(40), concurrency=5)
    assert peak == 5
    assert sorted(r.value for r in results if r.value is not None) == [n * 2 for n in range(40)]


async def test_results_arrive_in_completion_order(kb: KanbertClient) -> None:
    async def work(delay: float) -> float:
        await asyncio.sleep(delay)
        return delay

    order = [r.value async for r in kb.map(work, [0.06, 0.01, 0.03], concurrency=3)]
    assert order == [0.01, 0.03, 0.06]


async def test_errors_are_collected_per_item_without_stopping_the_rest(kb: KanbertClient) -> None:
    async def work(n: int) -> int:
        if n % 3 == 0:
            raise ValueError(f"bad {n}")
        return n

    results = await kb.map(work, range(9), concurrency=4)
    assert sorted(r.item for r in results if not r.ok) == [0, 3, 6]
    assert sorted(r.value for r in results if r.ok) == [1, 2, 4, 5, 7, 8]  # type: ignore[type-var]


async def test_stop_on_error_raises_the_first_error_and_cancels_the_rest(kb: KanbertClient) -> None:
    started: list[int] = []

    async def work(n: int) -> int:
        started.append(n)
        if n == 2:
            raise ValueError("stop")
        await asyncio.sleep(1)
        return n

    with pytest.raises(ValueError, match="stop"):
        await kb.map(work, range(100), concurrency=4, stop_on_error=True)
    await asyncio.sleep(0)
    assert len(started) < 10
    assert {t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()} == set()


async def test_the_source_is_read_only_as_fast_as_results_are_taken(kb: KanbertClient) -> None:
    pulled = 0

    async def source() -> AsyncIterator[int]:
        nonlocal pulled
        for n in range(1000):
            pulled += 1
            yield n

    async def work(n: int) -> int:
        return n

    async for _ in kb.map(work, source(), concurrency=3):
        break
    assert pulled <= 4


def _other_tasks() -> set[asyncio.Task[object]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()}


async def test_breaking_out_cancels_the_calls_still_running_and_leaves_no_task(kb: KanbertClient) -> None:
    async def work(n: int) -> int:
        if n:
            await asyncio.Event().wait()  # never returns on its own
        return n

    async for result in kb.map(work, range(10), concurrency=4):
        assert result.value == 0
        break
    await asyncio.sleep(0)
    assert _other_tasks() == set()


async def test_cancelling_the_consumer_cancels_the_calls_too(kb: KanbertClient) -> None:
    started = asyncio.Event()

    async def work(n: int) -> int:
        started.set()
        await asyncio.Event().wait()
        return n

    async def consume() -> None:
        async for _ in kb.map(work, range(10), concurrency=4):
            pass

    task = asyncio.create_task(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _other_tasks() == set()
