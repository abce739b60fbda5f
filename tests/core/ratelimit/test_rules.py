"""The rate limiter's rules, one server behaviour each, on a fake clock (the pure state, then the gate)."""

from __future__ import annotations

import asyncio

import pytest

from kanbert_async._core.ratelimit import (
    Observation,
    RateLimiter,
    RateLimitInfo,
    RateLimitState,
    Ticket,
)
from kanbert_async._core.ratelimit.state import BLIND_BACKOFF, RESET_MARGIN, SLOW_START_LIMIT
from kanbert_async._core.ratelimit.window import WindowEstimate
from kanbert_async.sandbox.ratelimit import RateLimit, limit_headers, make_throttle

from .steps import VirtualClock, admit_all, answer

UNIX = 1_780_000_000.0


def laravel(remaining: int, limit: int = 10) -> Observation:
    return Observation(limit=limit, remaining=remaining)


def spend_the_first_window(state: RateLimitState) -> None:
    """A cold client 0.1 s in: its first request left at 0 and heard "9 left" at 0.05, and a burst
    of nine sent then heard "0 left" at 0.1."""
    [first] = admit_all(state, 0.0)
    state.on_answer(first, 200, laravel(9), 0.05)
    answer(state, admit_all(state, 0.05), 0.1, laravel(0))


# -- nothing known yet ---------------------------------------------------------------------------


def test_a_server_not_heard_from_gets_one_request_then_one_more_per_answer() -> None:
    state = RateLimitState()
    in_flight = admit_all(state, 0.0)
    sizes = [len(in_flight)]
    for now in (0.05, 0.1):
        answer(state, in_flight, now, Observation())
        in_flight = admit_all(state, now)
        sizes.append(len(in_flight))
    assert sizes[:2] == [1, 2], "a cold burst does not reach the wire"
    assert sizes[2] <= SLOW_START_LIMIT + 1, "growth slows past the slow-start limit"


def test_past_the_slow_start_limit_requests_in_flight_grow_by_about_one_per_round_trip() -> None:
    state = RateLimitState()
    in_flight = admit_all(state, 0.0)
    now = 0.0
    for _ in range(10):
        now += 0.05
        answer(state, in_flight, now, Observation())
        in_flight = admit_all(state, now)
    assert SLOW_START_LIMIT + 6 <= len(in_flight) <= SLOW_START_LIMIT + 10


def test_a_client_told_the_pace_sends_at_it_from_the_first_request() -> None:
    state = RateLimitState(rate=10.0)
    assert state.admit(0.0) == Ticket(1, 0.0)
    assert state.admit(0.0) == pytest.approx(0.1), "the second waits its turn, not for an answer"
    assert isinstance(state.admit(0.1), Ticket)


# -- the server states its budget ----------------------------------------------------------------


def test_laravel_remaining_lets_the_rest_of_the_budget_go_at_once() -> None:
    state = RateLimitState()
    [first] = admit_all(state, 0.0)
    state.on_answer(first, 200, laravel(9), 0.05)
    assert len(admit_all(state, 0.05)) == 9


def test_concurrent_answers_counted_out_of_order_leave_the_lowest_count_less_what_is_in_flight() -> None:
    state = RateLimitState()
    [first] = admit_all(state, 0.0)
    state.on_answer(first, 200, laravel(9), 0.05)
    burst = admit_all(state, 0.05)
    # The server counted them in another order than they were sent: a higher count arrives last.
    for ticket, remaining in zip(burst[:3], (4, 1, 7), strict=True):
        state.on_answer(ticket, 200, laravel(remaining), 0.1)
    assert admit_all(state, 0.1) == [], "1 left, 6 still in flight"


def test_more_left_for_a_request_sent_after_the_lowest_count_means_the_server_gave_some_back() -> None:
    state = RateLimitState()
    [first] = admit_all(state, 0.0)
    state.on_answer(first, 200, laravel(0), 0.05)
    [probe] = admit_all(state, 0.05)  # spent, nothing known: one probe
    state.on_answer(probe, 200, laravel(9), 1.2)
    assert len(admit_all(state, 1.2)) == 9


def test_the_same_count_for_a_request_sent_later_is_the_newer_word_and_what_came_back_is_spent() -> None:
    state = RateLimitState()
    state.window.state(1.0)
    spend_the_first_window(state)
    [slow] = admit_all(state, 1.01)  # the first request's unit is back; its answer takes 70 ms
    [test] = admit_all(state, 1.07)  # the burst's nine are back: one tests them
    state.on_answer(slow, 200, laravel(0), 1.08)
    state.on_answer(test, 200, laravel(8), 1.1)  # sent after `slow`: the newer word
    again = admit_all(state, 1.1)
    assert len(again) == 8
    answer(state, again, 1.15, laravel(0))  # "0 left" after the eight, too
    assert admit_all(state, 1.2) == [], "the units back at 1.06 were spent at 1.07: not credited twice"


def test_a_spent_budget_with_nothing_said_sends_one_probe_and_its_429_says_when() -> None:
    state = RateLimitState()
    spend_the_first_window(state)
    [probe] = admit_all(state, 0.1)
    assert state.admit(0.1) is None, "one probe at a time"
    state.on_answer(probe, 429, Observation(limit=10, remaining=0, retry_after=1.0), 0.15)
    assert state.admit(0.5) == state.cooldown_until
    # Laravel's window opened with the first request: it ends a second after it left.
    assert state.window.seconds == 1.0
    assert state.cooldown_until == pytest.approx(1.0 + RESET_MARGIN)


def test_each_request_comes_back_one_window_after_it_left() -> None:
    state = RateLimitState()
    state.window.state(1.0)
    spend_the_first_window(state)
    assert state.admit(0.5) == pytest.approx(1.0 + RESET_MARGIN), "the first request's unit comes back first"
    assert len(admit_all(state, 1.0 + RESET_MARGIN)) == 1
    assert len(admit_all(state, 1.05 + RESET_MARGIN)) == 1, "the burst is back: one tests it (below)"


def test_a_burst_of_ours_reckoned_back_at_once_is_tested_by_one_request_before_the_rest() -> None:
    # A sliding log gives each request back a window after it counted it: our burst of nine comes
    # back together, if we reckoned right — the server has not said so.
    state = RateLimitState()
    state.window.state(1.0)
    spend_the_first_window(state)
    [test] = admit_all(state, 1.1)
    assert state.admit(1.1) is None, "the rest wait for the test's answer"
    state.on_answer(test, 200, laravel(8), 1.15)
    assert len(admit_all(state, 1.15)) == 8


def test_a_burst_reckoned_back_too_early_meets_one_429_not_a_burst_of_them() -> None:
    state = RateLimitState()
    state.window.state(1.0)
    spend_the_first_window(state)
    [test] = admit_all(state, 1.07)
    state.on_answer(test, 429, Observation(limit=10, remaining=0, retry_after=1.0), 1.12)
    assert state.admit(1.12) == state.cooldown_until > 1.12


def test_a_fixed_window_that_gave_everything_back_at_its_end_is_not_credited_twice() -> None:
    state = RateLimitState()
    state.window.state(1.0)
    spend_the_first_window(state)
    [opener] = admit_all(state, 1.01)
    # The whole window came back at once: 9 left after it, not 9 plus the 9 due back at 1.06.
    state.on_answer(opener, 200, laravel(9), 1.06)
    assert len(admit_all(state, 1.2)) == 9


def test_ietf_reset_on_every_answer_is_waited_for_when_the_window_is_unknown() -> None:
    state = RateLimitState()
    [first] = admit_all(state, 0.0)
    state.on_answer(first, 200, Observation(limit=5, remaining=0, reset=2.0), 0.05)
    assert state.admit(0.1) == pytest.approx(2.05)
    assert state.info.reset is not None


# -- 429s ------------------------------------------------------------------------------------------


def test_one_429_holds_every_request_once_and_its_echoes_change_nothing() -> None:
    state = RateLimitState(rate=1000.0)
    tickets = [state.admit(now) for now in (0.0, 0.001, 0.002)]
    assert all(isinstance(t, Ticket) for t in tickets)
    state.on_answer(tickets[0], 429, Observation(retry_after=2.0, coarse=False), 0.05)  # type: ignore[arg-type]
    until = state.cooldown_until
    state.on_answer(tickets[1], 429, Observation(retry_after=5.0, coarse=False), 0.06)  # type: ignore[arg-type]
    assert state.cooldown_until == until == pytest.approx(2.05), "sent before the wait began: an echo"
    assert state.admit(1.0) == until


def test_a_whole_second_retry_after_is_sharpened_to_when_the_windows_first_request_comes_back() -> None:
    state = RateLimitState()
    state.window.state(1.0)
    [first] = admit_all(state, 0.0)
    state.on_answer(first, 200, laravel(5), 0.05)
    late = state.admit(0.1)  # meanwhile another client of the token spent the rest
    assert isinstance(late, Ticket)
    # "Retry-After: 1" at 0.15 rounds up a window that ends a second after the first request left.
    state.on_answer(late, 429, Observation(limit=10, remaining=0, retry_after=1.0), 0.15)
    assert state.cooldown_until == pytest.approx(1.0 + RESET_MARGIN)


def refused_in_a_minute_our_first_request_heard(remaining: int) -> RateLimitState:
    """Laravel, 60 a minute: our first request left at 0 and heard ``remaining`` left, a burst then
    heard "0 left" at 0.1, and a probe sent then met "Retry-After: 59" at 0.15."""
    state = RateLimitState()
    [first] = admit_all(state, 0.0)
    state.on_answer(first, 200, laravel(remaining, limit=60), 0.05)
    answer(state, admit_all(state, 0.05), 0.1, laravel(0, limit=60))
    [probe] = admit_all(state, 0.1)
    state.on_answer(probe, 429, Observation(limit=60, remaining=0, retry_after=59.0), 0.15)
    assert state.window.seconds is not None, "the 429 measured a window"
    return state


def test_a_minute_another_client_began_is_waited_out_as_stated_not_sharpened_from_our_first() -> None:
    # Another client of the token began the minute: our first request heard 50 left, not 59. The
    # minute measured from it (to the 429's Retry-After) is short by when the other began, so when
    # our first comes back a "minute" later says nothing of the minute's end.
    state = refused_in_a_minute_our_first_request_heard(50)
    assert state.cooldown_until == pytest.approx(0.15 + 59.0), "the stated wait, not a sharpened one"


def test_a_minute_our_first_request_began_is_sharpened_to_when_it_comes_back() -> None:
    state = refused_in_a_minute_our_first_request_heard(59)
    assert state.cooldown_until < 0.15 + 59.0, "sharpened within the statement's rounding"


def test_a_429_to_the_request_sent_at_a_sharpened_end_stops_sharpening() -> None:
    state = RateLimitState()
    spend_the_first_window(state)
    [probe] = admit_all(state, 0.1)
    state.on_answer(probe, 429, Observation(limit=10, remaining=0, retry_after=1.0), 0.15)
    assert state.cooldown_until == pytest.approx(1.0 + RESET_MARGIN), (
        "sharpened: the window's first left at 0"
    )
    [opener] = admit_all(state, state.cooldown_until)
    state.on_answer(opener, 429, Observation(limit=10, remaining=0, retry_after=1.0), 1.06)
    assert state.cooldown_until == pytest.approx(2.06), "taken as stated from now on"
    assert not state._sharpen


def test_a_laravel_window_seen_to_start_again_is_measured_without_a_429() -> None:
    # Laravel's Remaining counts down, then is one below the limit again: a new window began.
    state = RateLimitState()
    [first] = admit_all(state, 0.0)
    state.on_answer(first, 200, laravel(9), 0.05)
    later, again = state.admit(0.6), state.admit(1.02)
    assert isinstance(later, Ticket) and isinstance(again, Ticket)
    state.on_answer(later, 200, laravel(8), 0.65)
    state.on_answer(again, 200, laravel(9), 1.07)
    assert state.window.seconds == 1.0, "not ended at 0.6, ended by 1.07: a whole second"


def test_a_window_measured_a_little_over_a_whole_second_is_that_second() -> None:
    # Bounds come from when requests left; one took a few milliseconds longer to arrive.
    window = WindowEstimate()
    window.bound(1.004, 1.5)
    assert window.seconds == 1.0
    window.longer_than(1.0)
    assert window.seconds == 2.0, "a 429 proving it longer moves to the next whole second"


def test_laravels_minute_is_measured_as_a_minute_though_its_statements_round_down() -> None:
    # Laravel's default API throttle, 60 a minute: its reset header is the window's end rounded down
    # to the unix second, its Retry-After whole seconds rounded down too, so the window's bounds
    # straddle 59 and 60 s. Answers come 20 ms after requests leave; the wall clock is not aligned
    # to the second.
    clock = VirtualClock()
    throttle = make_throttle(RateLimit(60, 60.0), "fixed", clock=clock)
    state = RateLimitState()
    now = 0.0
    while state.window.seconds is None:
        admitted = state.admit(now)
        if not isinstance(admitted, Ticket):
            now = admitted if admitted is not None else now + 0.02
            continue
        clock.now = now
        verdict = throttle.hit("token")
        headers = limit_headers(verdict, "laravel", "seconds", wall=UNIX + 0.37 + now)
        seen = Observation.from_headers(headers, unix_now=UNIX + 0.39 + now)
        state.on_answer(admitted, 200 if verdict.allowed else 429, seen, now + 0.02, UNIX + 0.39 + now)
    assert state.window.seconds == 60.0


def test_a_429_past_the_window_we_measured_that_says_wait_nine_seconds_measures_a_long_window() -> None:
    # slowapi's fixed window of 10 s: the first window told only that it lasts 0.2 s to 11 s (taken
    # as 1 s); a request let go a second after the next window's first meets a 429 saying "9 s
    # more". Taken as only a second longer, the window would cost a 429 per second of it.
    state = RateLimitState()
    state.window.bound(0.2, 11.0)
    [opener] = admit_all(state, 20.0)
    state.on_answer(opener, 200, laravel(29, limit=30), 20.05)
    answer(state, admit_all(state, 20.05), 20.1, laravel(0, limit=30))
    [early] = admit_all(state, 21.07)
    state.on_answer(early, 429, Observation(limit=30, remaining=0, retry_after=9.0), 21.12)
    assert state.window.seconds is not None and state.window.seconds >= 9.0
    assert state.cooldown_until == pytest.approx(30.12)


def test_laravel_saying_now_after_its_window_could_have_ended_is_probed_at_once() -> None:
    # Laravel floors its wait: "Retry-After: 0" answered after a second since our first request
    # went means the window may have ended already.
    state = RateLimitState()
    [first] = admit_all(state, 0.0)
    state.on_answer(first, 200, laravel(1), 0.05)
    [last] = admit_all(state, 0.9)
    state.on_answer(last, 200, laravel(0), 0.95)
    [probe] = admit_all(state, 0.95)
    state.on_answer(probe, 429, Observation(limit=10, remaining=0, retry_after=0.0), 1.1)
    assert isinstance(state.admit(1.1), Ticket), "not a blind second later"


def test_a_retry_after_of_zero_that_is_still_refused_is_treated_as_saying_nothing() -> None:
    state = RateLimitState()
    [first] = admit_all(state, 0.0)
    state.on_answer(first, 429, Observation(retry_after=0.0), 0.05)
    assert state.cooldown_until == pytest.approx(0.05 + BLIND_BACKOFF), "no hammering at 'now'"


def test_a_whole_second_zero_refused_again_is_probed_within_the_second_not_at_a_doubled_backoff() -> None:
    # "Retry-After: 0" in whole seconds says the budget returns within the second, each time.
    state = RateLimitState()
    [first] = admit_all(state, 0.0)
    state.on_answer(first, 429, Observation(retry_after=0.0), 0.05)
    [probe] = admit_all(state, state.cooldown_until)
    state.on_answer(probe, 429, Observation(retry_after=0.0), 1.1)
    assert state.cooldown_until == pytest.approx(2.1)


# -- requests without an answer ------------------------------------------------------------------


def test_a_request_that_got_no_answer_is_held_against_the_budget_for_a_window() -> None:
    state = RateLimitState()
    state.window.state(1.0)
    [first] = admit_all(state, 0.0)
    state.on_answer(first, 200, laravel(1), 0.05)
    [lost] = admit_all(state, 0.05)
    state.on_no_answer(lost, 0.1)
    assert state.admit(0.1) == pytest.approx(1.0 + RESET_MARGIN), (
        "it may have counted: nothing left till then"
    )


def test_a_ticket_never_used_is_given_back_whole() -> None:
    state = RateLimitState()
    state.window.state(1.0)
    [first] = admit_all(state, 0.0)
    state.on_answer(first, 200, laravel(1), 0.05)
    [unused] = admit_all(state, 0.05)
    state.on_no_answer(unused, 0.06, sent=False)
    assert isinstance(state.admit(0.06), Ticket)


def test_info_reports_what_the_server_said_and_the_reset_as_unix_time() -> None:
    state = RateLimitState()
    assert state.info == RateLimitInfo()
    [first] = admit_all(state, 0.0)
    state.on_answer(first, 200, Observation(limit=60, remaining=59, reset=30.0), 0.05, unix_now=UNIX)
    assert state.info == RateLimitInfo(limit=60, remaining=59, reset=pytest.approx(UNIX + 30.0))


# -- the gate --------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_waiters_are_let_go_in_the_order_they_came() -> None:
    limiter = RateLimiter(rate=1000.0)
    order: list[int] = []

    async def call(n: int) -> None:
        await limiter.acquire()
        order.append(n)

    await asyncio.gather(*(call(n) for n in range(20)))
    assert order == list(range(20))


async def test_a_waiter_cancelled_as_it_is_admitted_gives_its_ticket_back() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock, wall_clock=lambda: UNIX)
    first = await limiter.acquire()
    waiting = asyncio.ensure_future(limiter.acquire())
    await asyncio.sleep(0)
    limiter.observe(first, 200, {})  # admits the waiter...
    waiting.cancel()  # ...which is cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert limiter.state.in_flight == 0


async def test_a_429_cools_every_waiter_down_and_the_gate_wakes_them_when_it_ends() -> None:
    limiter = RateLimiter(rate=1000.0)
    first = await limiter.acquire()
    limiter.observe(first, 429, {"retry-after-ms": "200"})
    assert 0.15 < limiter.cooldown_remaining() <= 0.2
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.gather(*(limiter.acquire() for _ in range(5)))
    assert loop.time() - started >= 0.18
