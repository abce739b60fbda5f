"""The rate limiter against servers that give their budget back a little at a time (a sliding window
counter, a token bucket), on a fake clock: the rules of :mod:`kanbert_async._core.ratelimit.returns`."""

from __future__ import annotations

import itertools

import pytest

from kanbert_async._core.ratelimit import Observation, RateLimitState, Ticket

from .steps import admit_all, answer


def counted(remaining: int, *, window: float | None = 1.0) -> Observation:
    """An answer of a server that lets 10 requests through per ``window`` (stated, or not)."""
    return Observation(limit=10, remaining=remaining, window=window)


def spend_the_first_window(state: RateLimitState, *, window: float | None = 1.0) -> None:
    """A cold client: its first request left at 0 and heard "9 left" at 0.05; a burst of nine sent
    then heard "0 left" at 0.1."""
    [first] = admit_all(state, 0.0)
    state.on_answer(first, 200, counted(9, window=window), 0.05)
    answer(state, admit_all(state, 0.05), 0.1, counted(0, window=window))


def the_lone_request_finds(state: RateLimitState, remaining: int, *, at: float = 1.01) -> Ticket:
    """A second on, our reckoning gives the window's first request back: it goes alone, and the
    server says ``remaining`` are left after it."""
    [lone] = admit_all(state, at)
    state.on_answer(lone, 200, counted(remaining), at + 0.05)
    return lone


def the_next_request_at_the_pace(state: RateLimitState, *, found: int) -> float:
    """The lone request of 1.01 finds ``found`` left; they go at 1.06 and hear "0 left" at 1.11:
    when the next request may go, at the pace measured."""
    spend_the_first_window(state)
    the_lone_request_finds(state, found)
    answer(state, admit_all(state, 1.06), 1.11, counted(0))
    at = state.admit(1.11)
    assert isinstance(at, float)
    return at


def test_a_sliding_window_counter_seen_giving_back_gradually_is_spent_at_the_pace_it_gives_back() -> None:
    # slowapi's sliding window counter, 10 per second: the burst at 0.05 comes back over the next
    # second, not at 1.06 as a sliding log would give it. A second on, five had come back (the
    # request sent alone and four more): 4 per second, measured as a lower bound.
    state = RateLimitState()
    spend_the_first_window(state)
    the_lone_request_finds(state, 4)
    assert len(admit_all(state, 1.06)) == 4, "what the server says is left goes at once"
    next_at = state.admit(1.06)
    # The rest of the burst, reckoned back now, waits: for a request's worth at 4 per second after
    # the lone request counted (and the margin one-way delays may differ by).
    assert next_at == pytest.approx(1.01 + 0.01 + 0.24)
    paced = [next_at]
    for _ in range(3):
        assert len(admit_all(state, paced[-1])) == 1
        when = state.admit(paced[-1])
        assert isinstance(when, float)
        paced.append(when)
    assert [round(b - a, 2) for a, b in itertools.pairwise(paced)] == [0.24, 0.24, 0.24]


def test_a_whole_window_back_at_once_is_a_fixed_windows_end_not_a_gradual_return() -> None:
    # A fixed window ended before our reckoning said: all of it is back, and goes. Spent again, the
    # window gives nothing back until it ends: the next request waits for that, not for a pace.
    state = RateLimitState()
    spend_the_first_window(state)
    the_lone_request_finds(state, 9)
    spent = admit_all(state, 1.06)
    assert len(spent) == 9
    answer(state, spent, 1.11, counted(0))
    next_at = state.admit(1.3)
    assert isinstance(next_at, float)
    assert next_at >= 2.0


def test_a_budget_seen_coming_back_gradually_is_not_paced_before_the_pace_is_measured() -> None:
    # No window known, so nothing reckoned back: one request finds out at once, and five are back.
    # A fact, but not a pace: over 0.05 s it would say 80 per second. What the server says is left
    # goes; the rest wait for answers, as before.
    state = RateLimitState()
    spend_the_first_window(state, window=None)
    [lone] = admit_all(state, 0.1)
    state.on_answer(lone, 200, counted(4, window=None), 0.15)
    assert len(admit_all(state, 0.15)) == 4
    assert state.admit(0.15) is None


def test_a_429_to_a_request_sent_at_the_pace_ends_the_pacing() -> None:
    # The server stopped giving back at the pace (another client took what came back): after the
    # stated wait, requests go when our reckoning says, not at a pace the server just disproved.
    state = RateLimitState()
    at = the_next_request_at_the_pace(state, found=4)
    [paced] = admit_all(state, at)
    state.on_answer(paced, 429, Observation(limit=10, remaining=0, retry_after=0.5, window=1.0), at + 0.05)
    assert state.cooldown_until == pytest.approx(at + 0.55)
    after_the_wait = state.admit(state.cooldown_until)
    assert isinstance(after_the_wait, float), "the pace would have let one go at once"
    assert after_the_wait == pytest.approx(2.03, abs=0.02), "the lone request of 1.01 comes back"


def test_a_429_after_the_server_gave_some_back_does_not_measure_the_window_from_its_first_request() -> None:
    # No window stated. The first window's requests left at 0 and 0.05; at 2.0 the server had given
    # back five; a 429 at 3.0 belongs to a later window, not to one that began at 0 and lasted 3 s.
    state = RateLimitState()
    spend_the_first_window(state, window=None)
    [later] = admit_all(state, 2.0)
    state.on_answer(later, 200, counted(4, window=None), 2.05)
    answer(state, admit_all(state, 2.05), 2.1, counted(0, window=None))
    [refused] = admit_all(state, 3.0)
    state.on_answer(refused, 429, Observation(limit=10, remaining=0, retry_after=1.0), 3.05)
    assert state.window.seconds is None or state.window.seconds < 3.0


def test_a_sliding_log_whose_answers_waited_after_counting_is_not_taken_for_a_gradual_return() -> None:
    # A sliding log of 10 per second, requests counted on arrival (0.025 after they leave). Two of
    # the first window's answers took 0.3 s, the server's work after counting them, so our
    # reckoning has them counted at 0.3 and back at 1.31; the log gave them back at 1.075. The
    # request sent alone at 1.1 finds three back where the reckoning had one: no more than the log
    # can have given back, each counted as early as it could have. Not a gradual return, so
    # nothing is paced: the rest waits for its window to pass.
    state = RateLimitState()
    [first] = admit_all(state, 0.0)
    state.on_answer(first, 200, counted(9), 0.05)
    slow = [state.admit(0.05), state.admit(0.05)]
    for left, ticket in zip((8, 7), slow, strict=True):
        assert isinstance(ticket, Ticket)
        state.on_answer(ticket, 200, counted(left), 0.35)
    rest = admit_all(state, 0.5)
    assert len(rest) == 7
    answer(state, rest, 0.55, counted(0))
    the_lone_request_finds(state, 2, at=1.1)
    assert len(admit_all(state, 1.15)) == 2, "what the server says is left goes at once"
    next_at = state.admit(1.15)
    assert isinstance(next_at, float)
    assert next_at >= 1.5, "the rest, counted at 0.5, are back a window later, not at a pace"


def test_a_pace_measured_too_low_is_measured_again_by_the_next_request_sent_at_it() -> None:
    # A second on, the lone request finds only two back: about one per second, a lower bound of a
    # counter that gives back faster. The next request at that pace goes alone, as nothing is out,
    # and finds eight more back: what the server says is left goes at once, and the pace is measured
    # again from the server's counts, now over two seconds: five per second, not one.
    state = RateLimitState()
    slow = the_next_request_at_the_pace(state, found=1)
    assert slow > 1.8, "about one per second"
    [paced] = admit_all(state, slow)
    state.on_answer(paced, 200, counted(8), slow + 0.05)
    rest = admit_all(state, slow + 0.05)
    assert len(rest) == 8
    answer(state, rest, slow + 0.1, counted(0))
    next_at = state.admit(slow + 0.1)
    assert isinstance(next_at, float)
    assert next_at - (slow + 0.1) == pytest.approx(0.2, abs=0.05), "five per second"
