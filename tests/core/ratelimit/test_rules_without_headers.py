"""The rate limiter's rules for servers that say little: a 429 with no wait, or no rate-limit
headers at all (on a fake clock, the pure state)."""

from __future__ import annotations

import itertools

import pytest

from kanbert_async._core.ratelimit import Observation, RateLimitState, Ticket
from kanbert_async._core.ratelimit.state import BLIND_BACKOFF, RESET_MARGIN
from kanbert_async._core.ratelimit.window import GROW_EVERY
from kanbert_async.sandbox.ratelimit import RateLimit, Throttle, make_throttle

from .steps import VirtualClock, admit_all, answer

# -- a 429 that says nothing -----------------------------------------------------------------------


def test_a_429_that_says_nothing_is_probed_after_a_backoff_that_doubles() -> None:
    state = RateLimitState()
    [first] = admit_all(state, 0.0)
    state.on_answer(first, 429, Observation(), 0.05)
    assert state.cooldown_until == pytest.approx(0.05 + BLIND_BACKOFF)
    [probe] = admit_all(state, state.cooldown_until)
    state.on_answer(probe, 429, Observation(), 1.1)
    assert state.cooldown_until == pytest.approx(1.1 + 2 * BLIND_BACKOFF)


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


# -- no rate-limit headers at all ------------------------------------------------------------------


def _fixed_window_of_ten(seconds: float = 1.0) -> tuple[Throttle, VirtualClock]:
    clock = VirtualClock()
    return make_throttle(RateLimit(10, seconds), "fixed", clock=clock), clock


def _run(
    throttle: Throttle, clock: VirtualClock, state: RateLimitState, until: float, start: float = 0.0
) -> list[float]:
    passed: list[float] = []
    now = start
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


def test_without_headers_a_floor_of_others_making_is_probed_in_the_window_after_its_429() -> None:
    # Another client of the token used most of the first window: three of ours passed, then a 429.
    # Three is no more than slow start reaches, so it says little of what a window admits. A window
    # after that 429 the window is ours from its start (a fixed window reset, a log emptied, a
    # bucket refilled): it is probed, two in flight, and its 429 tells the budget exactly, without
    # doubling the floor a window at a time (3, 6, 12: three windows more).
    throttle, clock = _fixed_window_of_ten()
    for _ in range(7):
        throttle.hit("token")
    state = RateLimitState()
    _run(throttle, clock, state, until=0.9)
    assert state.learned.count == 3 and not state.learned.exact
    _run(throttle, clock, state, until=2.5)
    assert state.learned.count == 10 and state.learned.exact


def test_without_headers_a_sliding_log_another_client_filled_is_learned_in_the_first_window_of_ours() -> None:
    # A sliding log of 10 per second that another client filled evenly over the last second gives
    # back one request every 0.1 s: the first of ours passes, the next meets a 429, a floor of one.
    # Probed a window after that 429, when the log holds nothing of the other client's, the budget
    # is learned whole, and the next windows go at 10 each.
    clock = VirtualClock()
    throttle = make_throttle(RateLimit(10, 1.0), "sliding", clock=clock)
    for tenth in range(10):
        clock.now = tenth / 10
        assert throttle.hit("token").allowed
    state = RateLimitState()
    passed = _run(throttle, clock, state, until=5.0, start=1.0)
    assert state.learned.count == 10 and state.learned.exact
    assert len([t for t in passed if 4.0 <= t < 5.0]) >= 9


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
    assert learned is not None and learned >= 8 and state.learned.exact  # less an eighth: it met a 429
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


def _refused_with_a_whole_second_wait_after_a_slow_start() -> RateLimitState:
    """A one-second window: a slow start from 0, its requests sent at 0.2 refused with
    "Retry-After: 1" at 0.25; the cooldown is sharpened to when the first comes back (1.01)."""
    state = RateLimitState()
    state.window.state(1.0)
    for now in (0.0, 0.05, 0.1, 0.15):  # slow start
        answer(state, admit_all(state, now), now + 0.05, Observation())
    for refused in admit_all(state, 0.2):
        state.on_answer(refused, 429, Observation(retry_after=1.0, coarse=True), 0.25)
    assert state.cooldown_until == pytest.approx(1.0 + RESET_MARGIN), "sharpened"
    return state


def test_without_headers_the_request_let_go_at_a_sharpened_end_goes_alone_until_its_answer() -> None:
    # The end was our reckoning, not the server's word: if it is early, every request the learned
    # pace sends behind the first meets a 429 too.
    state = _refused_with_a_whole_second_wait_after_a_slow_start()
    opener = state.admit(1.01)
    assert isinstance(opener, Ticket)
    paced = state._tat
    assert state.admit(paced) is None, "the next the pace would send waits for the first's answer"
    state.on_answer(opener, 200, Observation(), paced + 0.05)
    assert isinstance(state.admit(paced + 0.05), Ticket), "the window is over: paced again"


def test_without_headers_a_window_that_let_one_through_after_a_sharpened_end_is_not_the_budget() -> None:
    # A sliding log gives back one request at a time: a cooldown sharpened to when the window's
    # first request comes back ends in a window that was not the client's from its start.
    state = _refused_with_a_whole_second_wait_after_a_slow_start()
    floor = state.learned.count
    assert floor is not None and floor > 2 and not state.learned.exact
    opener = state.admit(1.01)
    assert isinstance(opener, Ticket)
    state.on_answer(opener, 200, Observation(), 1.06)
    second = state.admit(state._tat)
    assert isinstance(second, Ticket)
    state.on_answer(second, 429, Observation(retry_after=1.0, coarse=True), second.sent_at + 0.05)
    assert state.learned.count == floor, "one pass is not what a window admits"
    assert state.cooldown_until == pytest.approx(second.sent_at + 1.05), "the stated wait from now on"
