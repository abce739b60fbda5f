"""The rate limiter's rules, one server behaviour each, on a fake clock (the pure state, then the gate)."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from kanbert_async._core.ratelimit import (
    Observation,
    RateLimiter,
    RateLimitInfo,
    RateLimitState,
    Ticket,
)
from kanbert_async._core.ratelimit.state import BLIND_BACKOFF, RESET_MARGIN, SLOW_START_LIMIT
from kanbert_async._core.ratelimit.window import GROW_EVERY, WindowEstimate
from kanbert_async.sandbox.ratelimit import RateLimit, Throttle, make_throttle

UNIX = 1_780_000_000.0


def laravel(remaining: int, limit: int = 10) -> Observation:
    return Observation(limit=limit, remaining=remaining)


def admit_all(state: RateLimitState, now: float) -> list[Ticket]:
    """Every request the state lets go at ``now``."""
    tickets = []
    while isinstance(ticket := state.admit(now), Ticket):
        tickets.append(ticket)
    return tickets


def answer(state: RateLimitState, tickets: list[Ticket], now: float, seen: Observation) -> None:
    """Every one of ``tickets`` passed at ``now``, the server saying ``seen``."""
    for ticket in tickets:
        state.on_answer(ticket, 200, seen, now)


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


def test_a_429_that_says_nothing_is_probed_after_a_backoff_that_doubles() -> None:
    state = RateLimitState()
    [first] = admit_all(state, 0.0)
    state.on_answer(first, 429, Observation(), 0.05)
    assert state.cooldown_until == pytest.approx(0.05 + BLIND_BACKOFF)
    [probe] = admit_all(state, state.cooldown_until)
    state.on_answer(probe, 429, Observation(), 1.1)
    assert state.cooldown_until == pytest.approx(1.1 + 2 * BLIND_BACKOFF)


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


def test_after_a_429_that_says_nothing_one_probe_goes_alone_until_one_passes() -> None:
    # A gateway's bare 429: the requests the slow start had let grow in flight must not all go at
    # the end of the backoff; one finds out whether the window is over, the rest wait for its answer.
    state = RateLimitState()
    for now in (0.0, 0.05, 0.1, 0.15):  # slow start: several in flight by now
        answer(state, admit_all(state, now), now + 0.05, Observation())
    in_flight = admit_all(state, 0.2)
    assert len(in_flight) >= 3
    for refused in in_flight:
        state.on_answer(refused, 429, Observation(), 0.25)
    [probe] = admit_all(state, state.cooldown_until)
    state.on_answer(probe, 429, Observation(), probe.sent_at + 0.05)
    [second] = admit_all(state, state.cooldown_until)
    assert second.sent_at == pytest.approx(probe.sent_at + 0.05 + 2 * BLIND_BACKOFF)
    state.on_answer(second, 200, Observation(), second.sent_at + 0.05)
    third = _next_ticket(state, second.sent_at + 0.05)
    _next_ticket(state, third.sent_at)  # the window is over: no longer one at a time


def _next_ticket(state: RateLimitState, now: float) -> Ticket:
    """The next request ``state`` lets go from ``now`` on, without any answer coming."""
    while not isinstance(admitted := state.admit(now), Ticket):
        assert admitted is not None, "it waits for an answer"
        now = admitted
    return admitted


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


# -- no rate-limit headers at all ------------------------------------------------------------------


class VirtualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _fixed_window_of_ten(seconds: float = 1.0) -> tuple[Throttle, VirtualClock]:
    clock = VirtualClock()
    return make_throttle(RateLimit(10, seconds), "fixed", clock=clock), clock


def _run(throttle: Throttle, clock: VirtualClock, state: RateLimitState, until: float) -> list[float]:
    passed: list[float] = []
    now = 0.0
    while now < until:
        clock.now = now
        admitted = state.admit(now)
        if isinstance(admitted, Ticket):
            verdict = throttle.hit("token")
            seen = Observation() if verdict.allowed else Observation(retry_after=1.0)
            state.on_answer(admitted, 200 if verdict.allowed else 429, seen, now)
            if verdict.allowed:
                passed.append(now)
        else:
            now = admitted if admitted is not None else now + 0.01
    return passed


def test_without_headers_what_a_window_let_through_is_learned_and_sent_evenly_paced() -> None:
    throttle, clock = _fixed_window_of_ten()
    state = RateLimitState()
    passed = _run(throttle, clock, state, until=6.0)
    assert state.window.seconds == 1.0 and state.learned.count == 10 and state.learned.exact
    late = [t for t in passed if t > 3.0]
    gaps = [b - a for a, b in itertools.pairwise(late)]
    assert min(gaps) == pytest.approx((1.0 + RESET_MARGIN) / 10), "no window of any kind sees more than 10"
    assert len(late) >= 28


def test_without_headers_a_budget_from_a_window_we_did_not_see_whole_is_a_floor_that_doubles() -> None:
    throttle, clock = _fixed_window_of_ten()
    for _ in range(7):
        throttle.hit("token")  # another client of the token used most of the first window
    state = RateLimitState()
    _run(throttle, clock, state, until=0.9)
    assert state.learned.count == 3 and not state.learned.exact
    _run(throttle, clock, state, until=6.0)
    assert state.learned.count == 10 and state.learned.exact, "doubled past it, then met its 429"


def test_without_headers_an_exact_budget_tries_one_more_only_after_several_whole_windows() -> None:
    throttle, clock = _fixed_window_of_ten()
    state = RateLimitState()
    _run(throttle, clock, state, until=3.0)
    assert state.learned.count == 10 and state.learned.exact
    learned_at, refused = state.learned._grown_at, state._echoes_until
    _run(throttle, clock, state, until=learned_at + GROW_EVERY - 0.5)
    assert state.learned.count == 10 and state._echoes_until == refused, "no 429 while it keeps to 10"
    _run(throttle, clock, state, until=learned_at + GROW_EVERY + 3)
    assert state._echoes_until > refused, "it tried 11 and met a 429"
    assert state.learned.count == 10, "and is back at 10"


def test_without_headers_a_429_to_the_first_request_after_a_cooldown_leaves_the_budget_as_learned() -> None:
    # Another client of the token took the window that opened as the cooldown ended: nothing of
    # ours passed in it, so it says nothing of how many a window admits.
    throttle, clock = _fixed_window_of_ten()
    state = RateLimitState()
    _run(throttle, clock, state, until=3.0)
    last = state.admit(state._tat)
    assert isinstance(last, Ticket)
    state.on_answer(last, 429, Observation(retry_after=1.0), last.sent_at)
    learned = state.learned.count
    assert learned is not None and learned >= 9 and state.learned.exact
    opener = state.admit(state.cooldown_until)
    assert isinstance(opener, Ticket)
    state.on_answer(opener, 429, Observation(retry_after=1.0), opener.sent_at)
    assert state.learned.count == learned and state.learned.exact


def test_a_two_second_window_that_says_nothing_is_measured_from_the_probe_it_still_refused() -> None:
    # Ten per two seconds, one request at a time answered 50 ms after it left, 429s that state no
    # wait: the probe after the backoff is refused too, so the window that began with the first
    # request outlasts it (a second's backoff is not the window).
    throttle, clock = _fixed_window_of_ten(seconds=2.0)
    state = RateLimitState()
    now, refused = 0.0, 0
    while state.window.seconds is None:
        admitted = state.admit(now)
        if not isinstance(admitted, Ticket):
            assert admitted is not None
            now = admitted
            continue
        clock.now = now
        allowed = throttle.hit("token").allowed
        now += 0.05
        state.on_answer(admitted, 200 if allowed else 429, Observation(), now)
        refused += not allowed
    assert refused == 2, "the 429 that ended the window, and the probe a backoff later"
    assert state.window.seconds == 2.0


def test_without_headers_a_window_that_let_one_through_after_a_sharpened_end_is_not_the_budget() -> None:
    # A sliding log gives back one request at a time: a cooldown sharpened to when the window's
    # first request comes back ends in a window that was not the client's from its start.
    state = RateLimitState()
    state.window.state(1.0)
    for now in (0.0, 0.05, 0.1, 0.15):  # slow start
        answer(state, admit_all(state, now), now + 0.05, Observation())
    for refused in admit_all(state, 0.2):
        state.on_answer(refused, 429, Observation(retry_after=1.0, coarse=True), 0.25)
    floor = state.learned.count
    assert floor is not None and floor > 2 and not state.learned.exact
    assert state.cooldown_until == pytest.approx(1.0 + RESET_MARGIN), "sharpened"
    opener = state.admit(1.01)
    assert isinstance(opener, Ticket)
    state.on_answer(opener, 200, Observation(), 1.06)
    second = state.admit(state._tat)
    assert isinstance(second, Ticket)
    state.on_answer(second, 429, Observation(retry_after=1.0, coarse=True), second.sent_at + 0.05)
    assert state.learned.count == floor, "one pass is not what a window admits"
    assert state.cooldown_until == pytest.approx(second.sent_at + 1.05), "the stated wait from now on"


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
