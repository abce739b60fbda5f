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

__all__ = ["PROBE_IN_FLIGHT", "SLOW_START_LIMIT", "HeaderlessRules"]

#: Requests in flight before anything is known grow by one per answer up to this many, then by one
#: per round trip: a window found full while growing costs about this many 429s.
SLOW_START_LIMIT = 3

#: Requests in flight while a window is probed for what it admits: at most this many meet the 429
#: that ends the probe.
PROBE_IN_FLIGHT = 2


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
    _floor_of_others: bool
    _opener: Ticket | None
    _opens_window: bool

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
        # A floor no larger than slow start reaches: the window refused us before we had sent much
        # into it, so others' requests had filled it. It says little of what a window admits.
        self._floor_of_others = False
        if not self.learned.exact and (self.learned.count or 0) <= SLOW_START_LIMIT:
            self._probe_after(refused, window)
            return
        self._pace_from_recent(now, in_flight=0)

    def _probe_after(self, refused: Ticket, window: float) -> None:
        """Probe the window that opens a window after ``refused``, not pace by a floor of others'
        making: any throttle has given back by then all it had counted when it refused (a fixed
        window reset, a log's entries expired, a bucket refilled), so that window is ours from its
        start, and the 429 that ends the probe says exactly what it admits."""
        self._floor_of_others = True
        self._tat = max(self._tat, refused.sent_at + window + self._margin)

    def _probing(self, now: float) -> bool:
        """Whether ``now`` is within a window probed after a floor of others' making (its first
        request gone: that one waited for the window)."""
        opener, window = self._opener, self.window.seconds
        if not self._floor_of_others or self.learned.exact or window is None or opener is None:
            return False
        return not self._opens_window and opener.number > 1 and now - opener.sent_at < window

    def _probe_if_others_filled(self, passed: Ticket) -> bool:
        """Probe as :meth:`_probe_after` does (and say so) when ``passed``, sent after the 429 the
        floor came from and let through within that window, shows the floor to be of others'
        making: none of ours the window counted can have left a log yet, so the server gave back
        one of another client's; and ours had gone for less than half the window, so their
        requests, not our pace, had filled it."""
        refused, window = self._learned_at, self.window.seconds
        if refused is None or window is None or self.learned.exact or self._floor_of_others:
            return False
        first = self._counted.first_after(refused.sent_at - window)
        if (
            first is not None
            and refused.sent_at < passed.sent_at < refused.sent_at + window
            and passed.sent_at + self._margin < first + window
            and refused.sent_at - first < window / 2
        ):
            self._probe_after(refused, window)
            return True
        return False

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
        if pace is None or window is None or self._floor_of_others:
            return
        first = self._counted.first_after(now - window)
        recent = len(self._counted.times) - self._counted.upto(now - window)
        self._tat = max(self._tat, (now if first is None else first) + (recent + in_flight) / pace)
