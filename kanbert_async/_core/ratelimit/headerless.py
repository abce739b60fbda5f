"""The limiter's rules for a server that sends no rate-limit headers: what a 429 says a window
admits, and pacing by it. A mixin of :class:`~.state.RateLimitState`, which holds the state they
read (declared here for the type checker); :mod:`.state` decides when they apply.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .counted import CountedLog
from .records import Ticket
from .window import LearnedBudget, WindowEstimate

__all__ = ["HeaderlessRules"]


class HeaderlessRules:
    """Learning, from 429s alone, how many requests a window lets through (:class:`LearnedBudget`)."""

    if not TYPE_CHECKING:
        # No slots of its own, so RateLimitState keeps no __dict__; mypy would read an empty
        # __slots__ as forbidding the assignments below to RateLimitState's own fields.
        __slots__ = ()
    # RateLimitState's fields these rules read and write (annotations only: no fields of their own).
    window: WindowEstimate
    learned: LearnedBudget
    _counted: CountedLog
    _margin: float
    _tat: float
    _opener_early: bool
    _learned_at: Ticket | None

    def _learned_pace(self) -> float | None:
        seconds = self.window.seconds
        return None if seconds is None else self.learned.pace(seconds, self._margin)

    def _sent_within_window(self, until: float) -> int:
        """How many of our counted requests left in the window before ``until``."""
        window = self.window.seconds or math.inf
        return self._counted.between(until - window, until)

    def _learn_budget(self, refused: Ticket, opener: Ticket | None, now: float, *, ours: bool = True) -> None:
        """Without headers, a 429 tells what a window admits: exactly, when the window began with our
        first request after a cooldown (all that passed since it; nothing, when it was ``ours`` only
        by our reckoning and proved not); else about what passed in the last window — a floor, as
        others may have used some, or an overcount across a fixed window's end (nothing, when none
        of ours did: another client took that window)."""
        window = self.window.seconds
        if window is None:
            return  # not known yet: what passed "within" it means nothing
        passed = self._passed_since_opened(refused, opener)
        if passed is not None and ours:
            self.learned.learn(passed, exact=True, now=now)
        elif passed is None and (within := self._sent_within_window(refused.sent_at)):
            self.learned.learn(within, exact=False, now=now)
        self._learned_at = refused
        self._pace_from_recent(now, in_flight=0)

    def _passed_since_opened(self, refused: Ticket, opener: Ticket | None) -> int | None:
        """How many passed in the window ``opener`` opened after a cooldown, up to ``refused`` in it
        (None: ``refused`` is not in such a window)."""
        window = self.window.seconds
        if window is None or opener is None or not (1 < opener.number < refused.number):
            return None
        if refused.sent_at - opener.sent_at >= window:
            return None
        return self._counted.since(opener.sent_at, refused.sent_at)

    def _opened_in_a_window_not_ours(self, refused: Ticket, opener: Ticket | None) -> bool:
        """Whether the window ``refused`` met a 429 in began before ``opener``: it was let go at a
        sharpened end, and fewer passed than in the window before (a sliding log gives back one
        request at a time, not a window at once)."""
        passed = self._passed_since_opened(refused, opener) if self._opener_early else None
        before = self._learned_at  # the 429 before: what passed in its window is a fact
        return (
            passed is not None
            and before is not None
            and passed < self._sent_within_window(before.sent_at) - 1
        )

    def _pace_from_recent(self, now: float, *, in_flight: int) -> None:
        """Start the learned pace as if the last window's requests (and ``in_flight`` more) had been
        paced by it: a window must not get those on top of a full paced share."""
        pace, window = self._learned_pace(), self.window.seconds
        if pace is None or window is None:
            return
        first = self._counted.first_after(now - window)
        recent = len(self._counted.times) - self._counted.upto(now - window)
        self._tat = max(self._tat, (now if first is None else first) + (recent + in_flight) / pace)
