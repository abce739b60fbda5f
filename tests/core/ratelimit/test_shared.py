"""One budget shared by many processes: the shared state's rules on a fake clock, then the shared gate
over a store in memory on a virtual clock (the Redis store itself: ``tests/redis/``)."""

from __future__ import annotations

import asyncio
import functools
import logging
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kanbert_async._core.ratelimit import Observation, RateLimitState, Ticket
from kanbert_async._core.ratelimit.shared_gate import RETRY, SharedRateLimiter
from kanbert_async._core.ratelimit.shared_state import (
    HOLDER_TIMEOUT,
    SharedBudget,
    decode_budget,
    encode_budget,
)
from kanbert_async._core.transport import Stats

from .memory_store import MemoryBackend
from .simulation import Server, measure, processes
from .virtual_time import run_virtual

# -- the state travels whole ---------------------------------------------------------------------

_steps = st.lists(
    st.tuples(
        st.floats(0.0, 0.3),  # time passing
        st.sampled_from(["admit", "pass", "refuse", "lose"]),
        st.integers(0, 12),  # which ticket in flight, or what the server says is left
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(_steps)
def test_a_state_read_back_from_the_store_decides_exactly_as_one_that_never_left(steps: list) -> None:
    kept, stored = RateLimitState(), encode_budget(SharedBudget())
    now, out_kept, out_stored = 0.0, [], []
    for delay, what, n in steps:
        now += delay
        budget = decode_budget(stored)
        travelled = budget.rules
        if what == "admit":
            a, b = kept.admit(now), travelled.admit(now)
            assert a == b
            if isinstance(a, Ticket):
                out_kept.append(a)
                out_stored.append(b)
        elif out_kept:
            i = n % len(out_kept)
            a, b = out_kept.pop(i), out_stored.pop(i)
            if what == "lose":
                kept.on_no_answer(a, now)
                travelled.on_no_answer(b, now)
            else:
                status = 200 if what == "pass" else 429
                seen = Observation(limit=12, remaining=n, retry_after=None if status == 200 else 1.0)
                kept.on_answer(a, status, seen, now)
                travelled.on_answer(b, status, seen, now)
        stored = encode_budget(budget)
    assert decode_budget(stored).rules == kept


def test_a_damaged_or_foreign_value_in_the_store_starts_a_fresh_budget() -> None:
    assert decode_budget(b"\x00not msgpack") == SharedBudget()
    assert decode_budget(None) == SharedBudget()


# -- holders -------------------------------------------------------------------------------------


def test_a_process_that_died_with_a_request_in_flight_holds_the_budget_only_until_it_is_missed() -> None:
    budget = SharedBudget()
    budget.hear("crashed", 0.0)
    assert isinstance(budget.admit("crashed", 0.0), Ticket)  # ... and it dies with it in flight
    budget.hear("alive", 1.0)
    assert budget.admit("alive", 1.0) is None, "nothing known yet: one request at a time"
    assert budget.hear("alive", HOLDER_TIMEOUT + 0.5), "silent for longer than the timeout: gone"
    assert budget.out == {} and "crashed" not in budget.heard
    assert isinstance(budget.admit("alive", HOLDER_TIMEOUT + 0.5), Ticket)


def test_a_late_answer_to_a_request_taken_for_lost_changes_nothing() -> None:
    budget = SharedBudget()
    budget.hear("slow", 0.0)
    ticket = budget.admit("slow", 0.0)
    assert isinstance(ticket, Ticket)
    budget.hear("other", HOLDER_TIMEOUT + 1)
    before = encode_budget(budget)
    budget.answer(ticket, 429, Observation(retry_after=30.0), HOLDER_TIMEOUT + 1.5)
    assert encode_budget(budget) == before


# -- the gate over a store -----------------------------------------------------------------------


def test_one_processs_429_pauses_every_process_for_exactly_the_wait_once() -> None:
    spent = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0"}

    async def main() -> tuple[float, float, float]:
        store = MemoryBackend(skew=3600.0)  # the store's clock is an hour off ours: it is the one used
        first, second = SharedRateLimiter(store, "b"), SharedRateLimiter(store, "b")
        opener = await second.acquire()
        second.observe(opener, 200, {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "50"})
        early = await second.acquire()  # sent before the cooldown begins
        ticket = await first.acquire()
        first.observe(ticket, 429, {**spent, "retry-after-ms": "2000"})
        refused_at = time.monotonic()
        await asyncio.sleep(0.01)
        # The answer to a request sent before the wait began: an echo of the same overload.
        second.observe(early, 429, {**spent, "retry-after-ms": "9000"})
        probe = await second.acquire()
        waited = time.monotonic() - refused_at
        second.observe(probe, 200, {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "99"})
        await first.acquire()
        both = time.monotonic() - refused_at
        for gate in (first, second):
            await gate.aclose()
        return waited, both, second.cooldown_remaining()

    waited, both, left = run_virtual(main)
    assert waited == pytest.approx(2.0, abs=0.005), "the other process waits exactly the server's wait"
    assert both == pytest.approx(2.0, abs=0.02), "and the echo did not make it longer"
    assert left == 0.0


def test_a_429_handed_over_from_another_buckets_gate_pauses_every_process_of_that_bucket() -> None:
    # A server that names its buckets: the answer to a request another gate let go counted here.
    async def main() -> tuple[float, float, int]:
        store = MemoryBackend()
        first, second = SharedRateLimiter(store, "search"), SharedRateLimiter(store, "search")
        first.adopt(
            429,
            {"X-RateLimit-Limit": "30", "X-RateLimit-Remaining": "0", "retry-after-ms": "1500"},
            sent_ago=0.05,
        )
        await asyncio.sleep(0.01)  # stored with the next round trip
        started = time.monotonic()
        ticket = await second.acquire()
        waited = time.monotonic() - started
        second.observe(ticket, 200, {"X-RateLimit-Limit": "30", "X-RateLimit-Remaining": "29"})
        in_flight = first.state.in_flight
        for gate in (first, second):
            await gate.aclose()
        return waited, second.info.limit or 0, in_flight

    waited, limit, in_flight = run_virtual(main)
    assert waited == pytest.approx(1.49, abs=0.02), "the other process waits out the handed-over 429"
    assert (limit, in_flight) == (30, 0)


def test_answers_read_late_by_a_busy_loop_do_not_set_the_gates_clock_early() -> None:
    # The store's time comes with each answer; read late, the round trip's midpoint is late and
    # the store's time estimated from it early. The quickest recent round trip is the one to trust.
    async def main() -> float:
        store = MemoryBackend(skew=3600.0)
        gate = SharedRateLimiter(store, "b")
        ticket = await gate.acquire()
        gate.observe(ticket, 200, {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "99"})
        store.slow_answers = 0.04
        for _ in range(5):
            ticket = await gate.acquire()
            gate.observe(ticket, 200, {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "98"})
        error = gate._now() - (time.time() + store.skew)
        await gate.aclose()
        return error

    assert abs(run_virtual(main)) < 0.002, "not 20 ms early (half the delay)"


WITH_HEADERS = [
    Server(rate=rate, algorithm=algorithm, headers=headers)
    for rate in ("10/s", "20/s")
    for algorithm in ("fixed", "bucket", "sliding")
    for headers in ("laravel", "ietf")
]
WITHOUT_HEADERS = [Server(rate="20/s", algorithm="fixed", headers="none")]


@pytest.mark.parametrize("server", WITH_HEADERS + WITHOUT_HEADERS, ids=str)
def test_four_processes_sharing_a_token_run_at_the_servers_rate_with_few_429s(server: Server) -> None:
    run = measure(server, functools.partial(processes, calls=200, processes=4, concurrency=4))
    assert run.calls == 200, "every call exactly once"
    assert run.calls / run.elapsed >= 0.9 * server.per_second
    assert run.refused <= (3 if server.headers != "none" else 10)


def test_four_processes_pacing_themselves_alone_meet_many_429s() -> None:
    server = Server(rate="20/s", algorithm="fixed", headers="laravel")
    alone = measure(server, functools.partial(processes, calls=200, shared=False))
    shared = measure(server, functools.partial(processes, calls=200, shared=True))
    assert alone.refused >= 10 * max(1, shared.refused)


def test_a_store_that_fails_leaves_each_process_pacing_itself_until_it_answers_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = Server(rate="20/s", algorithm="fixed", headers="laravel")

    async def workload(wire: object) -> None:
        store = MemoryBackend()
        stats = [Stats() for _ in range(4)]
        gates = [SharedRateLimiter(store, "b", metrics=s) for s in stats]
        sharing: list[list[bool]] = []

        async def outage() -> None:
            await asyncio.sleep(2.0)
            store.down = True
            await asyncio.sleep(3.0)
            sharing.append([gate.sharing for gate in gates])
            store.down, store.values = False, {}  # back, and empty (a restart without persistence)
            await asyncio.sleep(RETRY + 0.5)
            sharing.append([gate.sharing for gate in gates])

        from .simulation import _spread

        await asyncio.gather(outage(), *(_spread(wire, gate, 100, 4) for gate in gates))  # type: ignore[arg-type]
        assert sharing == [[False] * 4, [True] * 4]
        assert [s.rate_limit_store_fallbacks for s in stats] == [1, 1, 1, 1]
        assert store.values, "a store that came back empty gets the budget learned meanwhile"
        learned = decode_budget(store.values["b"].data).rules
        assert learned.info.limit == 20 and learned.window.seconds is not None
        for gate in gates:
            await gate.aclose()

    with caplog.at_level(logging.WARNING, logger="kanbert_async"):
        run = measure(server, workload)  # type: ignore[arg-type]
    assert run.calls == 400, "no work lost, none done twice"
    warnings = [r.getMessage() for r in caplog.records if "rate-limit budget" in r.getMessage()]
    assert len(warnings) == 4, "one warning per process"
    assert "memory://test is unavailable (ConnectionError: connection refused)" in warnings[0]


def test_a_process_pacing_itself_alone_goes_back_to_sharing_though_its_background_task_ended() -> None:
    # The task that asks the store again can end while the store is down (a store client may turn
    # its timeout into a cancellation): the requests that go on alone restart it.
    async def main() -> bool:
        store = MemoryBackend()
        gate = SharedRateLimiter(store, "b")

        async def one_request() -> None:
            ticket = await gate.acquire()
            await asyncio.sleep(0.05)
            gate.observe(ticket, 200, {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "99"})

        await one_request()
        store.down = True
        while gate.sharing:
            await one_request()
        assert gate._pump is not None
        gate._pump.cancel()
        store.down = False
        for _ in range(round(3 * RETRY / 0.05)):
            await one_request()
        sharing = gate.sharing
        await gate.aclose()
        return sharing

    assert run_virtual(main), "shares again once the store answers"
