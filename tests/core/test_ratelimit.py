"""Specification of client-side rate limiting: pacing, learning from headers, the shared cooldown."""

from __future__ import annotations

import itertools
import time

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kanbert_async._core.ratelimit import (
    DEFAULT_COOLDOWN,
    RateLimiter,
    RateLimitInfo,
    RateLimitState,
    Ticket,
    parse_rate,
)

UNIX = 1_700_000_000.0


def reserve_many(state: RateLimitState, n: int, now: float = 0.0) -> list[float]:
    return [state.reserve(now) for _ in range(n)]


def gaps(values: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(values)]


class FakeTime:
    """A clock that only moves when a sleeper sleeps, and remembers every sleep."""

    def __init__(self, start: float = 100.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        await anyio.lowlevel.checkpoint()


# --- parse_rate ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "per_second"),
    [
        ("10/s", 10.0),
        ("10/sec", 10.0),
        ("5 / second", 5.0),
        ("600/min", 10.0),
        ("120/m", 2.0),
        ("30/minutes", 0.5),
        ("3600/h", 1.0),
        ("7200/hour", 2.0),
        ("1.5/s", 1.5),
        ("600/MIN", 10.0),
    ],
)
def test_parse_rate_reads_human_rates(text: str, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second)
    assert RateLimiter.parse_rate(text) == pytest.approx(per_second)


@pytest.mark.parametrize("text", ["", "10", "10/day", "fast", "/s", "-5/s", "0/s", "10 per second"])
def test_parse_rate_rejects_anything_else(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rate(text)


# --- pacing --------------------------------------------------------------------------------------


def test_unlimited_state_lets_everything_go_at_once() -> None:
    assert reserve_many(RateLimitState(), 50) == [0.0] * 50


def test_concurrent_reservations_get_evenly_spaced_slots() -> None:
    delays = reserve_many(RateLimitState(rate=10.0), 5)
    assert delays == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])


def test_burst_goes_back_to_back_then_pacing_applies() -> None:
    delays = reserve_many(RateLimitState(rate=10.0, burst=3), 6)
    assert delays == pytest.approx([0.0, 0.0, 0.0, 0.1, 0.2, 0.3])


def test_idle_time_does_not_build_credit_beyond_the_burst() -> None:
    state = RateLimitState(rate=10.0, burst=2)
    reserve_many(state, 2, now=0.0)
    assert reserve_many(state, 4, now=1000.0) == pytest.approx([0.0, 0.0, 0.1, 0.2])


def test_reservations_spaced_in_time_need_no_wait() -> None:
    state = RateLimitState(rate=10.0)
    assert [state.reserve(t / 10) for t in range(5)] == pytest.approx([0.0] * 5)


@given(
    rate=st.floats(min_value=0.1, max_value=1000.0),
    steps=st.lists(st.floats(min_value=0.0, max_value=2.0), min_size=1, max_size=40),
)
def test_slots_are_never_in_the_past_and_never_closer_than_the_interval(
    rate: float, steps: list[float]
) -> None:
    state = RateLimitState(rate=rate)
    now, slots = 0.0, []
    for step in steps:
        now += step
        delay = state.reserve(now)
        assert delay >= 0.0
        slots.append(now + delay)
    assert all(gap >= 1.0 / rate - 1e-9 for gap in gaps(slots))


def test_constructor_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RateLimitState(rate=0.0)
    with pytest.raises(ValueError):
        RateLimitState(rate=5.0, burst=0)


# --- learning from headers -----------------------------------------------------------------------


def test_a_limit_without_a_window_does_not_pace_until_the_window_is_learned() -> None:
    # Laravel sends Limit and Remaining but not the window; assuming one would be a guess.
    state = RateLimitState()
    state.on_response({"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "599"}, now=0.0)
    assert state.rate(0.0) is None
    state.on_response({"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "120"}, now=40.0)
    # Remaining refills: a new window began; two refills apart is the window's length.
    state.on_response({"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "599"}, now=60.0)
    assert state.rate(60.0) == pytest.approx(0.95 * 600 / 60)
    assert gaps(reserve_many(state, 3, now=60.0)) == pytest.approx([1 / 9.5, 1 / 9.5])


def test_the_shortest_refill_interval_is_the_window() -> None:
    state = RateLimitState()
    for now, remaining in [(0.0, 49), (0.5, 10), (2.7, 49), (3.0, 20), (3.75, 49), (4.0, 30), (4.8, 49)]:
        state.on_response({"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": str(remaining)}, now=now)
    assert state.rate(5.0) == pytest.approx(0.95 * 50 / 1.0)


def test_the_first_429_after_a_refill_teaches_the_window_without_a_penalty() -> None:
    state = RateLimitState()
    state.on_response({"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "49"}, now=0.0)
    state.on_response({"X-RateLimit-Limit": "50", "X-RateLimit-Remaining": "0"}, now=0.5)
    state.on_429(0.5, now=0.5)
    assert state.cooldown_until == pytest.approx(1.0)
    assert state.rate(1.0) == pytest.approx(0.95 * 50 / 1.0)


def test_a_configured_rate_above_the_servers_is_lowered_to_it() -> None:
    state = RateLimitState(rate=100.0)
    # A window's first response, with its reset: the window is 60 s.
    state.on_response(
        {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "59", "X-RateLimit-Reset": "60"}, now=0.0
    )
    assert state.rate(0.0) == pytest.approx(0.95)


def test_a_configured_rate_below_the_servers_is_kept() -> None:
    state = RateLimitState(rate=0.5)
    state.on_response({"X-RateLimit-Limit": "600"}, now=0.0)
    assert state.rate(0.0) == 0.5


@pytest.mark.parametrize("policy", ["100;w=10", '"default";q=100;w=10', "100;w=10, 1000;w=3600"])
def test_ratelimit_policy_gives_the_window(policy: str) -> None:
    state = RateLimitState()
    state.on_response({"RateLimit-Policy": policy, "RateLimit-Remaining": "90"}, now=0.0)
    assert state.rate(0.0) == pytest.approx(0.95 * 100 / 10)


def test_ietf_headers_fill_the_info() -> None:
    state = RateLimitState()
    headers = {"RateLimit-Limit": "100", "RateLimit-Remaining": "42", "RateLimit-Reset": "30"}
    state.on_response(headers, now=5.0, unix_now=UNIX)
    assert state.info == RateLimitInfo(limit=100, remaining=42, reset=UNIX + 30)


def test_x_ratelimit_headers_fill_the_info_with_unix_reset() -> None:
    state = RateLimitState()
    headers = {
        "X-RateLimit-Limit": "60",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(UNIX) + 25),
    }
    state.on_response(headers, now=7.0, unix_now=UNIX)
    assert state.info == RateLimitInfo(limit=60, remaining=0, reset=UNIX + 25)


def test_info_is_empty_until_the_server_says_something() -> None:
    state = RateLimitState()
    state.on_response({"Content-Type": "application/json"}, now=0.0)
    assert state.info == RateLimitInfo()
    assert state.rate(0.0) is None


def test_unix_reset_is_converted_onto_the_states_own_timebase() -> None:
    # State on a monotonic clock reading 1000 while the wall clock reads UNIX.
    state = RateLimitState(rate=10.0)
    headers = {
        "X-RateLimit-Limit": "60",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(UNIX) + 30),
    }
    state.on_response(headers, now=1000.0, unix_now=UNIX)
    assert state.cooldown_until == pytest.approx(1030.0)
    assert state.reserve(1000.0) == pytest.approx(30.0)


def test_low_remaining_is_spread_over_the_time_until_reset() -> None:
    state = RateLimitState()
    state.on_response(
        {"RateLimit-Limit": "100", "RateLimit-Remaining": "5", "RateLimit-Reset": "50"}, now=0.0
    )
    assert state.rate(0.0) == pytest.approx(0.1)
    assert gaps(reserve_many(state, 3)) == pytest.approx([10.0, 10.0])


def test_low_remaining_with_neither_reset_nor_window_is_not_guessed_at() -> None:
    state = RateLimitState()
    state.on_response({"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "3"}, now=0.0)
    assert state.rate(0.0) is None


def test_low_remaining_without_a_reset_keeps_the_learned_pace() -> None:
    # Pacing just under the limit leaves remaining low at the end of every window: no stall.
    state = RateLimitState()
    state.on_response({"RateLimit-Policy": "100;w=60", "RateLimit-Remaining": "3"}, now=0.0)
    assert state.rate(0.0) == pytest.approx(0.95 * 100 / 60)


def test_spreading_ends_when_the_window_resets() -> None:
    state = RateLimitState()
    state.on_response(
        {"RateLimit-Limit": "100", "RateLimit-Remaining": "5", "RateLimit-Reset": "50"}, now=0.0
    )
    state.on_response(
        {"RateLimit-Limit": "100", "RateLimit-Remaining": "99", "RateLimit-Reset": "60"}, now=51.0
    )
    assert state.rate(51.0) == pytest.approx(0.95 * 100 / 60)


def test_spreading_ends_as_soon_as_remaining_recovers_even_before_the_assumed_reset() -> None:
    # Without a reset header a whole window is assumed; a refilled quota proves the window reset.
    state = RateLimitState()
    state.on_response({"RateLimit-Policy": "100;w=60", "RateLimit-Remaining": "3"}, now=0.0)
    state.on_response({"RateLimit-Policy": "100;w=60", "RateLimit-Remaining": "99"}, now=10.0)
    assert state.rate(10.0) == pytest.approx(0.95 * 100 / 60)


def test_plenty_remaining_does_not_slow_down() -> None:
    state = RateLimitState()
    state.on_response(
        {"RateLimit-Policy": "100;w=60", "RateLimit-Remaining": "50", "RateLimit-Reset": "50"}, now=0.0
    )
    assert state.rate(0.0) == pytest.approx(0.95 * 100 / 60)


def test_after_a_429_every_reservation_waits_for_the_cooldown_then_goes_paced() -> None:
    state = RateLimitState(rate=10.0)
    state.on_429(retry_after=1.0, now=0.0)
    delays = reserve_many(state, 20)
    assert min(delays) == pytest.approx(1.0)
    assert gaps(delays) == pytest.approx([1 / 8.0] * 19)


def test_a_429_lowers_the_pace_by_a_fifth() -> None:
    state = RateLimitState(rate=10.0)
    state.on_429(1.0, now=0.0)
    assert state.rate(1.0) == pytest.approx(8.0)  # as the cooldown ends


def test_429_echoes_during_the_same_cooldown_do_not_lower_the_pace_again() -> None:
    state = RateLimitState(rate=10.0)
    for _ in range(20):
        state.on_429(1.0, now=0.1)
    assert state.rate(1.1) == pytest.approx(8.0)


def test_a_429_after_the_cooldown_lowers_the_pace_again() -> None:
    state = RateLimitState(rate=10.0)
    state.on_429(1.0, now=0.0)
    state.on_429(1.0, now=2.0)
    # 8.0 from the first episode, barely recovered in one quiet second, then a fifth less again.
    assert state.rate(3.0) == pytest.approx(6.4, rel=0.01)


def test_reading_the_429s_own_headers_first_does_not_cancel_the_slowdown() -> None:
    state = RateLimitState()
    state.on_response(
        {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "59", "X-RateLimit-Reset": "60"}, now=0.0
    )
    headers = {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "10"}
    state.on_response(headers, now=50.0)
    state.on_429(10.0, now=50.0)
    assert state.rate(60.0) == pytest.approx(0.95 * 0.8)
    assert state.cooldown_until == 60.0


def test_a_429_without_retry_after_uses_the_known_reset() -> None:
    state = RateLimitState(rate=1.0)
    state.on_response(
        {"RateLimit-Limit": "60", "RateLimit-Remaining": "10", "RateLimit-Reset": "12"}, now=0.0
    )
    state.on_429(None, now=2.0)
    assert state.cooldown_until == pytest.approx(12.0)


def test_a_429_saying_nothing_cools_down_for_a_few_seconds() -> None:
    state = RateLimitState(rate=1.0)
    state.on_429(None, now=3.0)
    assert state.cooldown_until == 3.0 + DEFAULT_COOLDOWN
    assert 1.0 <= DEFAULT_COOLDOWN <= 10.0


def test_after_a_429_with_no_known_rate_requests_still_go_out_paced() -> None:
    state = RateLimitState()
    state.on_429(1.0, now=0.0)
    delays = reserve_many(state, 5)
    assert delays[0] == pytest.approx(1.0)
    assert all(gap > 0.0 for gap in gaps(delays))


def test_the_burst_is_spent_after_a_429() -> None:
    state = RateLimitState(rate=10.0, burst=5)
    state.on_429(1.0, now=0.0)
    delays = reserve_many(state, 3)
    assert gaps(delays) == pytest.approx([1 / 8.0, 1 / 8.0])


def test_a_longer_cooldown_is_never_shortened_by_a_later_shorter_one() -> None:
    state = RateLimitState(rate=10.0)
    state.on_429(10.0, now=0.0)
    state.on_429(1.0, now=0.5)
    assert state.cooldown_until == 10.0


# --- RateLimiter: the async gate -----------------------------------------------------------------


async def test_twenty_acquirers_after_a_429_share_one_cooldown_and_go_out_paced() -> None:
    fake = FakeTime()
    limiter = RateLimiter(10.0, clock=fake.clock, sleep=fake.sleep)
    limiter.cooldown(1.0)
    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(limiter.acquire)
    assert len(fake.sleeps) == 20
    assert min(fake.sleeps) >= 1.0
    assert sorted(fake.sleeps) == pytest.approx([1.0 + i / 8.0 for i in range(20)])


async def test_twenty_real_acquirers_after_a_429_wait_the_cooldown_and_are_staggered() -> None:
    limiter = RateLimiter(100.0)
    started = time.monotonic()
    limiter.cooldown(1.0)
    released: list[float] = []

    async def request() -> None:
        await limiter.acquire()
        released.append(time.monotonic() - started)

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(request)
    assert min(released) >= 1.0 - 0.01
    assert max(released) - min(released) >= 19 / 80 * 0.9


async def test_a_cooldown_that_starts_while_waiting_moves_the_waiter_behind_it() -> None:
    fake = FakeTime(start=0.0)
    limiter = RateLimiter(1.0, clock=fake.clock, sleep=fake.sleep)
    await limiter.acquire()  # takes the slot at 0.0

    async def sleep_during_which_a_429_arrives(delay: float) -> None:
        fake.sleeps.append(delay)
        if len(fake.sleeps) == 1:
            limiter.cooldown(5.0)  # another request got a 429 while we waited for our slot
        fake.now += delay

    limiter._sleep = sleep_during_which_a_429_arrives
    await limiter.acquire()
    assert fake.sleeps[0] == pytest.approx(1.0)
    assert fake.now >= 5.0


async def test_acquire_does_not_sleep_when_a_slot_is_free() -> None:
    fake = FakeTime()
    limiter = RateLimiter(clock=fake.clock, sleep=fake.sleep)
    for _ in range(10):
        await limiter.acquire()
    assert fake.sleeps == []


def test_limiter_accepts_a_human_rate() -> None:
    limiter = RateLimiter("600/min")
    assert limiter.state.rate(0.0) == pytest.approx(10.0)


def test_observe_converts_wall_clock_reset_with_the_injected_clocks() -> None:
    fake = FakeTime(start=50.0)
    limiter = RateLimiter(clock=fake.clock, wall_clock=lambda: UNIX)
    limiter.observe(
        {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(UNIX) + 9)}
    )
    assert limiter.info == RateLimitInfo(limit=60, remaining=0, reset=UNIX + 9)
    assert limiter.cooldown_until == pytest.approx(59.0)


def test_the_pace_a_429_cost_is_earned_back_over_quiet_time() -> None:
    state = RateLimitState(rate=10.0)
    state.on_429(1.0, now=0.0)
    assert state.rate(1.0) == pytest.approx(8.0)
    assert 8.0 < state.rate(20.0) < 10.0  # type: ignore[operator]
    assert state.rate(1000.0) == pytest.approx(10.0)  # never above what was configured


def test_a_guessed_pace_after_a_429_without_headers_recovers_to_unpaced() -> None:
    state = RateLimitState()
    state.on_429(None, now=0.0)
    slowed = state.rate(5.0)
    assert slowed is not None and slowed <= 1.0
    assert state.rate(2000.0) is None


def test_a_429_long_after_the_last_one_starts_from_the_recovered_pace() -> None:
    state = RateLimitState(rate=10.0)
    state.on_429(1.0, now=0.0)
    state.on_429(1.0, now=3600.0)
    assert state.rate(3601.0) == pytest.approx(8.0)


# --- the window's budget: Remaining, counted against the requests already on their way ----------


def answer(
    state: RateLimitState, ticket: int, remaining: int, now: float, quota: int = 50, sent_at: float = 0.0
) -> None:
    """The server's answer to request ``ticket``: Laravel's headers, nothing about the window."""
    headers = {"X-RateLimit-Limit": str(quota), "X-RateLimit-Remaining": str(remaining)}
    state.on_response(headers, now=now, ticket=Ticket(ticket, sent_at))


def test_requests_beyond_what_the_window_still_admits_wait_for_the_next_window() -> None:
    # Unpaced (the window is not known yet); the first answer opens the window at 0.1 s.
    state = RateLimitState()
    assert reserve_many(state, 10) == [0.0] * 10
    answer(state, ticket=1, remaining=49, now=0.1)
    answer(state, ticket=10, remaining=40, now=0.3)
    # Tickets 11..50 still fit (40 left after ticket 10); the 51st would meet a 429.
    assert reserve_many(state, 40, now=0.4) == [0.0] * 40
    held = state.reserve(0.4)
    # Windows are whole seconds: the earliest end that lies ahead is a second after the opening.
    assert held == pytest.approx(0.1 + 1.0 - 0.4)
    assert state.rate(1.1) == pytest.approx(0.95 * 50 / 1.0)


def test_the_window_guessed_from_a_spent_budget_is_corrected_by_a_429() -> None:
    state = RateLimitState()
    reserve_many(state, 3)
    answer(state, ticket=1, remaining=2, now=0.1, quota=3)
    assert state.reserve(0.2) == pytest.approx(0.9)  # guessed: the window is a second
    # It was a minute: the server says so when the guess is tried.
    answer(state, ticket=4, remaining=0, now=1.2, quota=3)
    state.on_429(59.0, now=1.2)
    # Retry-After 59 (rounded up) and the window's opening at 0.1: a 60 s window, ending at 60.1.
    assert state.cooldown_until == pytest.approx(60.1)
    assert state.rate(61.0) == pytest.approx(0.95 * 3 / 60)


def test_a_slot_that_falls_in_the_next_window_is_not_held_back() -> None:
    # Paced at 47.5/s over a 1 s window: the last tickets of a window's budget go after it ends.
    state = RateLimitState()
    state.on_response({"RateLimit-Policy": "50;w=1", "RateLimit-Remaining": "50"}, now=0.0)
    delays = reserve_many(state, 60)
    answer(state, ticket=1, remaining=49, now=0.1)
    later = [state.reserve(0.1) for _ in range(5)]
    assert gaps(delays + [d + 0.1 for d in later]) == pytest.approx([1 / 47.5] * 64)


def test_late_answers_from_an_earlier_window_neither_cap_nor_refill_the_current_one() -> None:
    state = RateLimitState()
    reserve_many(state, 60)
    answer(state, ticket=1, remaining=49, now=0.1)
    answer(state, ticket=52, remaining=49, now=1.2)  # a new window, opened by ticket 52
    answer(state, ticket=50, remaining=0, now=1.21)  # the last of the old one, answered late
    answer(state, ticket=53, remaining=48, now=1.22)
    assert state.reserve(1.3) == 0.0  # ticket 61: the new window admits up to ticket 52 + 49
    assert state.rate(1.3) == pytest.approx(0.95 * 50 / 1.0)  # refills 1.1 s apart: a 1 s window


def test_a_quiet_window_refilling_by_a_little_still_opens_a_new_one() -> None:
    # Only 8 requests in the first window: Remaining rises by 7, not by a fifth of the quota.
    state = RateLimitState()
    for ticket, (now, remaining) in enumerate([(0.3, 49), (0.7, 45), (1.2, 42), (1.3, 49)], start=1):
        state.reserve(now)
        answer(state, ticket=ticket, remaining=remaining, now=now, sent_at=now)
    assert state.rate(1.3) == pytest.approx(0.95 * 50 / 1.0)


def test_a_reordered_answer_of_the_same_window_is_not_a_refill() -> None:
    state = RateLimitState()
    for ticket, (now, remaining) in enumerate([(0.1, 49), (0.12, 47), (0.13, 48)], start=1):
        state.reserve(now)
        answer(state, ticket=ticket, remaining=remaining, now=now, sent_at=now)
    assert state.rate(0.2) is None  # still unknown: nothing was learned from the reordering


def test_a_429s_whole_second_retry_after_is_sharpened_by_the_windows_known_end() -> None:
    # The window opened at 2.0 (its first answer) and lasts 1 s; a 429 at 2.9 says "Retry-After: 1"
    # because the server rounds 0.1 s up. Waiting the whole second would idle 0.9 s of the next window.
    state = RateLimitState()
    state.on_response({"RateLimit-Policy": "50;w=1", "RateLimit-Remaining": "49"}, now=2.0)
    state.on_429(1.0, now=2.9)
    assert state.cooldown_until == pytest.approx(3.0)


def test_a_retry_after_that_disagrees_with_the_known_window_is_taken_as_it_is() -> None:
    # Someone else's traffic (or a longer penalty) can hold us back longer than our window says.
    state = RateLimitState()
    state.on_response({"RateLimit-Policy": "50;w=1", "RateLimit-Remaining": "49"}, now=2.0)
    state.on_429(5.0, now=2.9)
    assert state.cooldown_until == pytest.approx(7.9)


async def test_acquire_hands_out_tickets_that_observe_takes_back() -> None:
    fake = FakeTime(start=0.0)
    limiter = RateLimiter(clock=fake.clock, sleep=fake.sleep)
    tickets = [await limiter.acquire() for _ in range(3)]
    assert [ticket.number for ticket in tickets] == [1, 2, 3]
    fake.now = 0.1
    limiter.observe({"X-RateLimit-Limit": "3", "X-RateLimit-Remaining": "2"}, tickets[0])
    fake.now = 0.2
    await limiter.acquire()
    # Ticket 1 left two; tickets 2 and 3 are already out: the fourth waits for the next window.
    assert fake.sleeps == [pytest.approx(1.1 - 0.2)]


def test_a_sequential_client_learns_the_window_not_the_window_plus_its_pause() -> None:
    # One request every 107 ms: each window restarts with the first request after it ended, so the
    # refills come 1.07 s apart. The window is 1 s; rounding up would halve the pace for nothing.
    state = RateLimitState()
    now = 0.1
    for ticket, remaining in enumerate([*range(49, 39, -1), *range(49, 39, -1), 49], start=1):
        state.reserve(now - 0.1)
        answer(state, ticket=ticket, remaining=remaining, now=now, sent_at=now - 0.1)
        now += 0.107
    assert state.rate(now) == pytest.approx(0.95 * 50 / 1.0)
