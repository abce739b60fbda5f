"""What the limiter reckons from its own records, one server behaviour each: what a count says is
out and comes back (``CountedLog``), and what a window admits without headers (``LearnedBudget``)."""

from __future__ import annotations

from kanbert_async._core.ratelimit.counted import CountedLog
from kanbert_async._core.ratelimit.state import RESET_MARGIN
from kanbert_async._core.ratelimit.window import GROW_EVERY, LearnedBudget


def test_a_count_heard_a_moment_out_of_order_gives_nothing_of_the_window_before_back_twice() -> None:
    # When each request counted is reckoned from its round trip, two the server counted a moment
    # apart can change places: here the lowest count ("3 out") came from the one reckoned at 1.004,
    # and the one reckoned at 1.006 counted before it. The three out are this window's; the window
    # before (0.10-0.12) gave everything back at its end, and none of it comes back again at 1.12.
    log = CountedLog([0.10, 0.11, 0.12, 1.000, 1.004, 1.006])
    back, _ = log.came_back(1.004, now=1.15, window=1.0, margin=RESET_MARGIN, out=3)
    assert back == 0


def test_without_headers_a_floor_whose_doubling_a_window_refused_keeps_what_passed_whole() -> None:
    # A fixed window of 20, first seen in someone else's window: a floor of 20, doubled a window
    # later. A window refuses 40 after 29 passed "within a window" (straddling the fixed window's
    # end): the budget lies below 40, and 20 passed whole. Back to 20, and no doubling again.
    budget = LearnedBudget()
    budget.learn(20, exact=False, now=0.5)
    budget.used(20, 1.0, now=1.6)
    assert budget.count == 40
    budget.learn(29, exact=False, now=2.6)
    assert budget.count == 20
    budget.used(20, 1.0, now=3.7)
    assert budget.count == 20, "not doubled again a window later"
    budget.used(20, 1.0, now=2.6 + GROW_EVERY + 0.1)
    assert budget.count == 21, "one more after several whole windows, as an exact count grows"


def test_without_headers_a_step_up_by_one_that_meets_a_429_waits_twice_as_many_windows_for_the_next() -> None:
    # A fixed window of 20 behind a floor of 20 that stopped doubling: every try of 21 meets a 429
    # near the end of a window, and each costs the rest of that window. A try that failed is made
    # half as often from then on; one that a window let through whole is kept.
    budget = LearnedBudget(count=20)
    budget._doubles = False
    budget.used(20, 1.0, now=GROW_EVERY + 0.1)
    assert budget.count == 21
    budget.used(20, 1.0, now=GROW_EVERY + 1.2)  # 20 passed in a window: not yet all 21
    budget.learn(20, exact=False, now=GROW_EVERY + 1.5)
    assert budget.count == 20
    budget.used(20, 1.0, now=2 * GROW_EVERY + 2.0)
    assert budget.count == 20, "not tried again after the usual windows"
    budget.used(20, 1.0, now=3 * GROW_EVERY + 2.0)
    assert budget.count == 21, "but after twice as many"
    budget.used(21, 1.0, now=3 * GROW_EVERY + 3.1)  # all 21 passed in a window: the step holds
    budget.learn(18, exact=False, now=3 * GROW_EVERY + 4.0)  # a window another client took some of
    budget.used(18, 1.0, now=5 * GROW_EVERY + 4.1)
    assert budget.count == 19, "a later 429 does not slow the next try"


def test_without_headers_a_429_at_a_count_a_window_let_through_whole_cuts_it_by_an_eighth() -> None:
    # A token bucket of 20 a second with a burst of 20: the first window let 26 through (the burst
    # and what refilled meanwhile), so paced at 26 a second the bucket drains and meets a 429 every
    # few windows. Taking what passed in the window before each (25, 24, ...) would creep down by
    # one a 429; a 429 at a count its window let through whole says the long-run rate is lower.
    budget = LearnedBudget()
    budget.learn(26, exact=True, now=0.3)
    budget.learn(25, exact=False, now=2.2)
    assert budget.count == 22
    budget.passed_late(25)
    assert budget.count == 22, "passes of that window answered late do not undo the cut"
    budget.learn(21, exact=False, now=4.0)
    assert budget.count == 19
    budget.learn(12, exact=False, now=6.0)  # another client took 7 of a window of 19
    assert budget.count == 12, "fewer passed than the count: what passed, as before"
