"""What the client knows of the server's throttle beyond one answer: its window, and without
headers, how much a window lets through."""

from __future__ import annotations

import math

import msgspec

__all__ = ["DECREASE_KEEPS", "GROW_EVERY", "LearnedBudget", "WindowEstimate"]

#: An exact learned budget used whole this many windows running tries one more (then twice as
#: many windows after each try that met a 429).
GROW_EVERY = 8

#: What a 429 at a count a window let through whole keeps of it (AIMD's multiplicative decrease;
#: a milder cut than TCP's half, as the count was measured, not guessed).
DECREASE_KEEPS = 0.875


#: How far past a whole second a low bound may be and still be that second: bounds come from when
#: requests left, and one may take this much longer to reach the server than another.
WHOLE_SECOND_SLACK = 0.1


#: Bounds no wider than this come from whole-second statements, which a server may round either
#: way (Laravel down, others up), not from probing.
ROUNDING_SPAN = 1.5


def _whole_window(low: float, high: float) -> float:
    """A window length from its bounds. Servers count windows in whole seconds (every time they
    state is in whole seconds), so a whole number of seconds the bounds admit: the shortest (a 429
    that proves it too short moves to the next), or, from bounds within a statement's rounding,
    the one nearest their middle (Laravel's minute is not 59 s because it rounds down); else the
    whole seconds around ``high`` — bounds under a second come from a bucket's next token."""
    whole = max(1, math.ceil(low - WHOLE_SECOND_SLACK))
    if whole > high + 1e-6:
        return float(max(1, math.ceil(high - 1e-6)))
    if high - low <= ROUNDING_SPAN:
        longest, nearest = math.floor(high + 1e-6), math.floor((low + high) / 2 + 0.5)
        return float(max(whole, min(longest, nearest)))
    return float(whole)


class WindowEstimate(msgspec.Struct):
    """The server's window in seconds: stated (``RateLimit-Policy``), or measured between bounds.

    Nothing sets it but evidence: a stated window, or the span from a window's first request to a
    429 in it (at least) and to when the server let us go again (at most).
    """

    seconds: float | None = None
    stated: bool = False
    _low: float = 0.0
    _high: float = math.inf

    def state(self, seconds: float) -> None:
        """The server said its window."""
        self.seconds, self.stated = seconds, True

    def bound(self, low: float, high: float | None = None) -> None:
        """The window lasts at least ``low`` (and at most ``high``) seconds; evidence that contradicts
        the older bounds replaces them (the server may have changed)."""
        if self.stated:
            return
        high = self._high if high is None else high
        if low > self._high or high < self._low:
            self._low, self._high = low, high
        self._low, self._high = max(self._low, low), min(self._high, high)
        if math.isfinite(self._high):
            self.seconds = _whole_window(self._low, self._high)

    def refused(
        self, opened: float, sent: float, stated: float, coarse: bool, ends: float | None = None
    ) -> None:
        """A 429 to a request that left at ``sent``, after a window that began at ``opened``, said to
        wait ``stated`` seconds (whole seconds, so up to one less, when ``coarse``): the window lasts
        at least until then (the request was counted after it left). ``ends``: it was in that
        window, which lasted at least until the 429 and at most until the end stated (a precise
        statement says no more)."""
        low = sent + stated - (1.0 if coarse else 0.0) - opened
        if ends is not None:
            low = max(sent - opened, low) if coarse else sent - opened
        self.bound(low, ends)

    def longer_than(self, seconds: float) -> None:
        """A request sent when the window was taken to be over met a 429: it is longer (by a
        whole second, as windows are whole seconds)."""
        self.bound(math.floor(seconds + 1e-6) + 1.0)


class LearnedBudget(msgspec.Struct):
    """Without rate-limit headers: how many requests a window lets through, as 429s showed it.

    A count is only a floor unless the window it came from was ours from its start (others may have
    used some); a floor doubles each window it is used whole (until a window refuses the step), an
    exact count (or a floor that stopped doubling) grows by one after :data:`GROW_EVERY` windows used
    whole, and a 429 before a window was used whole after such a step doubles the wait for the next.
    A 429 at a count a window let through whole (not on trial) cuts it by an eighth: a bucket's
    first window counts its burst in, and a rate that holds a window may not hold many.
    """

    count: int | None = None
    exact: bool = False
    _grown_at: float = -math.inf
    _grow_every: int = GROW_EVERY
    _doubled_from: int | None = None  # the floor the count last doubled from
    _doubles: bool = True  # a floor doubles until a window refuses the step
    _on_trial: bool = False  # a step up by one, taken at _grown_at, not yet let through whole
    _decreased: bool = False  # the last 429 cut the count below what passed in its window

    def learn(self, passed: int, *, exact: bool, now: float) -> None:
        """A 429 ended a window in which ``passed`` of ours passed (``exact``: all of that window)."""
        passed, self._decreased = max(1, passed), False
        floor = self._doubled_from
        if floor is not None and self.count is not None and not self.exact and floor <= passed < self.count:
            # A floor doubled, and a window refused the step: the budget lies below it, and the
            # floor it doubled from passed whole (what passed "within a window" now may straddle a
            # fixed window's end). Doubling again would meet the same 429s every other window: it
            # grows as an exact count does from now on.
            passed, self._doubles = floor, False
        elif self.count is not None and not self._on_trial and not exact and passed >= self.count - 1:
            # A window let the whole count through and its pace still met a 429: the long-run rate
            # is lower (a bucket's burst was counted in, or another client spends some).
            passed = min(passed, max(1, math.floor(self.count * DECREASE_KEEPS)))
            self._decreased = True
        if self._on_trial:
            self._grow_every *= 2  # the step up by one, on trial, was one too many
            self._on_trial = False
        if self.count is not None and self.exact:
            passed = min(passed, self.count)
        self.count = passed
        self.exact = self.exact or exact
        self._grown_at = now
        self._doubled_from = None

    def passed_late(self, passed: int) -> None:
        """More of the window a count came from passed than was known at its 429."""
        if self.count is not None and not self._decreased:
            self.count = max(self.count, passed)

    def used(self, in_window: int, window: float, now: float) -> None:
        """``in_window`` requests of ours passed within the last window: try more if that was all."""
        if self.count is None or in_window < self.count - 1:
            return
        if self._on_trial and in_window >= self.count and now - self._grown_at >= window:
            self._on_trial = False  # a window let all of the stepped-up count through: it holds
        doubles = self._doubles and not self.exact
        if now - self._grown_at >= window * (1 if doubles else self._grow_every):
            self._doubled_from = self.count if doubles else None
            self._on_trial = not doubles
            self.count += self.count if doubles else 1
            self._grown_at = now

    def pace(self, window: float, margin: float) -> float | None:
        """Requests per second: the count spread evenly over a little more than the window, so no
        window of any kind (fixed, sliding, a bucket's) sees more than the count."""
        return None if self.count is None else self.count / (window + margin)
