"""A server with several budgets per token, each answer naming the one it drew on (GitHub's
``X-RateLimit-Resource``): each operation waits on its own bucket's gate, on a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from kanbert_async._core.ratelimit import BucketRouter, Pass, RateLimiter

SEARCH, LIST = "GET /search/issues", "GET /outgoing-invoices"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def router(clock: FakeClock) -> BucketRouter:
    return BucketRouter(
        lambda bucket: RateLimiter(clock=clock, wall_clock=lambda: 1_780_000_000.0), clock=clock
    )


def github(resource: str, limit: int, remaining: int, **more: str) -> dict[str, str]:
    """Headers as GitHub's REST API documents them: the bucket is named on every answer."""
    return {
        "X-RateLimit-Resource": resource,
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        **more,
    }


async def settle() -> None:
    """Let every task that can run now run (a wake-up takes a few turns of the loop)."""
    for _ in range(10):
        await asyncio.sleep(0)


async def answered(router: BucketRouter, route: str, status: int, headers: dict[str, str]) -> Pass:
    admitted = await router.acquire(route)
    router.observe(admitted, status, headers)
    return admitted


async def test_a_server_that_names_no_bucket_has_every_operation_share_the_tokens_one_gate(
    router: BucketRouter,
) -> None:
    first = await answered(router, SEARCH, 200, {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "59"})
    second = await answered(router, LIST, 200, {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "58"})
    assert first.gate is second.gate is router.default
    assert router.buckets == {}
    assert router.info.remaining == 58


async def test_a_named_bucket_gets_a_gate_of_its_own_and_the_answer_that_named_it(
    router: BucketRouter,
) -> None:
    first = await answered(router, SEARCH, 200, github("search", 30, 29))
    search = router.buckets["search"]
    assert first.gate is router.default  # let go before anything was named
    # The answer counted in the search budget: the default gate takes it back as never sent.
    assert router.default.state.in_flight == 0 and router.default.info.remaining is None
    assert (search.state.in_flight, search.info.limit, search.info.remaining) == (0, 30, 29)
    again = await answered(router, SEARCH, 200, github("search", 30, 28))
    assert again.gate is search


async def test_a_429_in_the_search_bucket_holds_searches_only(router: BucketRouter, clock: FakeClock) -> None:
    await answered(router, LIST, 200, github("core", 5000, 4999))
    await answered(router, SEARCH, 200, github("search", 30, 1))
    await answered(router, SEARCH, 429, github("search", 30, 0, **{"Retry-After": "60"}))
    assert router.cooldown_remaining(SEARCH) == pytest.approx(60.0)
    assert router.cooldown_remaining(LIST) == 0.0
    listing = await asyncio.wait_for(router.acquire(LIST), timeout=1.0)  # not held by the search's 429
    assert listing.gate is router.buckets["core"]
    searching = asyncio.ensure_future(router.acquire(SEARCH))
    await asyncio.sleep(0.01)
    assert not searching.done()
    searching.cancel()


async def test_a_429_that_first_names_its_bucket_cools_that_bucket_for_the_retry(
    router: BucketRouter,
) -> None:
    await answered(router, LIST, 200, github("core", 5000, 4999))
    refused = await answered(router, SEARCH, 429, github("search", 30, 0, **{"Retry-After": "20"}))
    assert refused.gate is router.default
    assert router.cooldown_remaining(SEARCH) == pytest.approx(20.0)
    assert router.default.cooldown_remaining() == 0.0


async def test_an_operation_not_yet_heard_from_sends_one_request_first_on_a_server_that_names_buckets(
    router: BucketRouter,
) -> None:
    await answered(router, LIST, 200, github("core", 5000, 4999))
    burst = [asyncio.ensure_future(router.acquire(SEARCH)) for _ in range(5)]
    await asyncio.sleep(0)
    going = [task for task in burst if task.done()]
    assert len(going) == 1 and going[0].result().scout
    router.observe(going[0].result(), 200, github("search", 30, 29))
    await settle()
    # Its bucket is known now: the rest go through the search gate (which lets them go as it knows how).
    rest = [task for task in burst if task is not going[0]]
    let_go = [task.result() for task in rest if task.done()]
    assert let_go and all(p.gate is router.buckets["search"] and not p.scout for p in let_go)
    for task in rest:
        task.cancel()


async def test_a_first_request_that_got_no_answer_leaves_the_next_of_its_operation_to_find_out(
    router: BucketRouter,
) -> None:
    await answered(router, LIST, 200, github("core", 5000, 4999))
    first = await router.acquire(SEARCH)
    waiting = asyncio.ensure_future(router.acquire(SEARCH))
    await asyncio.sleep(0)
    assert not waiting.done()
    router.release(first)  # a dropped connection: nothing learned of its bucket
    next_one = await asyncio.wait_for(waiting, timeout=1.0)
    assert next_one.scout


async def test_an_answer_that_names_no_bucket_keeps_its_operation_on_the_gate_it_has(
    router: BucketRouter,
) -> None:
    await answered(router, LIST, 200, github("core", 5000, 4999))
    await answered(router, LIST, 500, {})  # an error page from a layer before the throttle
    assert (await answered(router, LIST, 200, github("core", 5000, 4998))).gate is router.buckets["core"]
    await answered(router, "GET /health", 200, {})  # names none: the token's budget, and no scout after
    assert not (await router.acquire("GET /health")).scout


async def test_requests_waiting_on_the_tokens_gate_when_their_bucket_is_named_go_by_that_buckets_gate(
    router: BucketRouter,
) -> None:
    first = await router.acquire(SEARCH)  # nothing known: the token's gate lets one go
    waiting = [asyncio.ensure_future(router.acquire(SEARCH)) for _ in range(3)]
    await settle()
    assert not any(task.done() for task in waiting)
    router.observe(first, 200, github("search", 30, 29))
    await settle()
    let_go = [task.result() for task in waiting if task.done()]
    # Let go by the token's gate, which knows nothing of the search budget, they would be a burst
    # into it: they wait on the search gate instead, which spends what the search budget said.
    assert let_go and all(p.gate is router.buckets["search"] for p in let_go)
    assert router.default.state.in_flight == 0
    for task in waiting:
        task.cancel()
