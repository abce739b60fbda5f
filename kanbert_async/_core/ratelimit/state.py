"""The rate-limit decisions: state + an answer + the time → who may go, and when. No I/O, no clock.

Every rule answers a server behaviour:

- **Nothing known yet**: few requests in flight — one, one more per answer (TCP's slow start),
  one more per round trip past :data:`SLOW_START_LIMIT` — so a cold burst never hits the wire.
- **"Remaining: r"**: spend what the server says is left, no more. Concurrent requests reach it in
  any order, so the budget is the *lowest* count stated (a higher one is older, unless its request
  left after the server made the lower count: then it gave some back), less what is in flight.
- **What was spent comes back** one window after the server counted it (when it left, plus however
  longer than the quickest its round trip took): a fixed window gives it back at or before then, a
  sliding log exactly then, a bucket of ``limit`` per window on average then; no more comes back
  than the count said was out. The window is stated (``RateLimit-Policy``) or measured — between a
  window's first request (Remaining one below the limit) and a 429 in it (unless the server gave
  some back in between), or the next window's first — never assumed. Several coming back at once
  by our reckoning alone: one tests it first.
- **Given back gradually** (a bucket's tokens, a sliding window counter's window before, another
  client's requests leaving a log: a request sent alone when nothing was left finds more back than
  a log of our counts can have given, and not a whole window): beyond what the server says is
  left, requests go at the pace its Remaining shows it giving back (:class:`~.returns.GradualReturn`).
- **Spent, and the window not known**: wait for the stated reset, if any; else one probe finds out.
- **A 429**: everyone waits once, for the stated time (``Retry-After`` or a reset, in seconds or as
  a date; a whole-second statement sharpened by when the window's first request comes back, until
  a 429 proves that too early — the request let go then goes alone, as the end is only our
  reckoning). A 429 that states nothing: one probe, alone, after a backoff that doubles. 429s to
  requests sent before the wait began are echoes of the same overload.
- **No rate-limit headers at all**: what passed in a window before its 429 is what a window admits
  (:class:`~.window.LearnedBudget`); it is sent evenly paced. A floor of others' making (no more
  than slow start reaches, or a window they had filled) is not: the window that opens a window
  after its 429 is ours from its start, and is probed, two in flight, for what it admits.
"""

from __future__ import annotations

import math

import msgspec

from .counted import CountedLog, RoundTrips
from .headerless import PROBE_IN_FLIGHT, SLOW_START_LIMIT, HeaderlessRules
from .observation import Observation
from .records import RateLimitInfo, Ticket
from .returns import GradualReturn
from .window import LearnedBudget, WindowEstimate

__all__ = ["RESET_MARGIN", "SLOW_START_LIMIT", "RateLimitInfo", "RateLimitState", "Ticket"]

#: How long the first probe waits after a 429 that states no wait; doubles while 429s continue.
BLIND_BACKOFF = 1.0
_BLIND_BACKOFF_MAX = 60.0
#: A request comes back at least this much after its window (more once a 429 showed one-way
#: delays differ by more).
RESET_MARGIN = 0.01
#: Send times remembered while the window is still unknown.
_SENT_MAX = 10_000


class RateLimitState(msgspec.Struct, HeaderlessRules):
    """Pure rate-limit bookkeeping; every method takes ``now`` (the caller's timebase).

    ``rate`` is a pace of our own in requests per second that always applies (None: only the server
    paces us). :meth:`admit` returns a :class:`Ticket` (go now), an instant (ask again then) or None
    (ask again after the next answer); :meth:`on_answer` and :meth:`on_no_answer` take tickets back.

    Example::

        state = RateLimitState()
        first = state.admit(now=0.0)                        # the first request may go
        assert state.admit(now=0.0) is None                 # the rest wait for its answer
        state.on_answer(first, 200, Observation(limit=10, remaining=9), now=0.05)
    """

    rate: float | None = None
    _tat: float = -math.inf
    issued: int = 0
    in_flight: int = 0
    _info: RateLimitInfo = msgspec.field(default_factory=RateLimitInfo)
    window: WindowEstimate = msgspec.field(default_factory=WindowEstimate)
    # The lowest Remaining stated (None: the server never spoke of a budget), by the answer to
    # _low that arrived at _low_at, counted by the server about _low_counted; and when our
    # requests that counted were counted.
    _remaining: int | None = None
    _low: Ticket | None = None
    _low_at: float = -math.inf
    _low_counted: float = -math.inf
    _counted: CountedLog = msgspec.field(default_factory=CountedLog)
    # The request out testing that several requests reckoned back have come back.
    _testing: Ticket | None = None
    _returns: GradualReturn = msgspec.field(default_factory=GradualReturn)
    _round_trips: RoundTrips = msgspec.field(default_factory=RoundTrips)
    # How much after its window a request comes back: RESET_MARGIN, more once a 429 showed
    # that too little. (Round trips vary mostly with the server's work, which comes after its
    # throttle counted the request: their spread would overstate how much one-way delays vary.)
    _margin: float = RESET_MARGIN
    _reset_at: float | None = None
    # The first request after the last cooldown (or of all): it opens a window, which a 429 to
    # a later request measures.
    _opener: Ticket | None = None
    _opener_answered: float = -math.inf
    _opens_window: bool = True
    _rose: bool = False  # the server gave some back since then: a 429 does not measure that window
    # A window seen to begin (Remaining one below the limit), when the server began it, and the
    # latest-sent request it counted or refused since: None when a count went up unseen.
    _proven: Ticket | None = None
    _proven_opened: float = -math.inf
    _last_counted: Ticket | None = None
    _last_remaining: int = 0
    _cooldown_until: float = -math.inf
    _echoes_until: int = 0
    _blind_backoff: float = BLIND_BACKOFF
    # A 429 that said nothing, in the opener's window (then the last refused before any passed):
    # the first to pass after it bounds the window.
    _blind: tuple[Ticket, Ticket] | None = None
    # A cooldown moved earlier to when the window's first request comes back: the end the server
    # stated. The opener let go before it went on our reckoning alone: a 429 to it proves the move
    # wrong for this server, and the window it opened may have begun before it (a sliding log's).
    _stated_end: float = -math.inf
    _opener_early: bool = False
    _sharpen: bool = True
    _cwnd: float = 1.0
    learned: LearnedBudget = msgspec.field(default_factory=LearnedBudget)
    # The 429 the learned count came from: passes answered after it still belong to its window.
    _learned_at: Ticket | None = None
    # The learned floor is of others' making: the window after the cooldown probes what it admits.
    _floor_of_others: bool = False

    def __post_init__(self) -> None:
        if self.rate is not None and not (self.rate > 0 and math.isfinite(self.rate)):
            raise ValueError("rate must be a positive number of requests per second, or None")

    @property
    def info(self) -> RateLimitInfo:
        """The server's last word on limit, remaining and reset (reset as unix time)."""
        return self._info

    @property
    def cooldown_until(self) -> float:
        """No request may go before this instant (-inf when never cooled down)."""
        return self._cooldown_until

    def admit(self, now: float) -> Ticket | float | None:
        """Let one request go now (a ticket), or say when to ask again (an instant, or None: after
        the next answer)."""
        if now < self._cooldown_until:
            return self._cooldown_until
        early = self._opener_early and not math.isfinite(self._opener_answered)
        if (self._blind is not None or early) and self.in_flight:
            return None  # one finds out, alone: after a 429 that said nothing, or at a sharpened end
        pace, testing, alone, paced = self.rate, False, None, False
        if self._remaining is None:
            learned = self._learned_pace()
            if learned is not None and self._probing(now):
                if self.in_flight >= PROBE_IN_FLIGHT:
                    return None
                learned = None
            if learned is None and pace is None and self.in_flight >= self._cwnd:
                return None
            if learned is not None and (pace is None or learned < pace):
                pace = learned
        else:
            available, comes_back = self._budget(now)
            # Nothing left, by the server's word, and none out: what this one finds is the server's.
            alone = self._most_back(now) if self.in_flight == 0 and self._remaining < 1 else None
            gradual = self._returns.next_back(self._low_counted, self._margin)
            if gradual is not None and self._remaining - self.in_flight < 1:
                # It gives back gradually: beyond what it said is left, requests go at the pace it
                # gives back (our reckoning is wrong for it both ways).
                if gradual > now:
                    return gradual
                paced = True
            elif available < 1:
                # Back when our reckoning or the server's reset says; with neither, one request
                # finds out (a 429's wait measures it).
                reset = self._reset_at if self._reset_at is not None and self._reset_at > now else None
                due = comes_back or reset or (now if self.in_flight == 0 else None)
                if due is None or due > now:
                    return due
            elif self._remaining - self.in_flight < 1 and available >= 2:
                # Only our reckoning says these came back, and several at once (a burst of ours
                # returning): one request tests it before the rest — sent early, they all meet 429s.
                if self._testing is not None:
                    return None
                testing = True
        if pace is not None:
            if self._tat > now:
                return self._tat
            self._tat = max(now, self._tat) + 1.0 / pace
        self.issued += 1
        self.in_flight += 1
        ticket = Ticket(self.issued, now)
        if testing:
            self._testing = ticket
        if alone is not None:
            self._returns.went_alone(ticket, *alone)
        if paced:
            self._returns.paced(now)
        if self._opens_window:
            self._opens_window, self._opener, self._opener_answered = False, ticket, -math.inf
            self._rose = False
            self._opener_early = now < self._stated_end
        return ticket

    def _budget(self, now: float) -> tuple[float, float | None]:
        """What the stated budget admits now, and when a request that counted next comes back."""
        assert self._remaining is not None
        left = float(self._remaining - self.in_flight)
        window = self.window.seconds
        if window is None:
            return left, None
        limit = self._info.limit
        out = None if limit is None else limit - self._remaining
        back, comes_back = self._counted.came_back(self._low_counted, now, window, self._margin, out)
        return left + back, comes_back

    def _most_back(self, now: float) -> tuple[float, int]:
        """The most a sliding log can have given back by now: what counted a window before, each
        counted as early as it could have (our reckoning of when is the latest it could have been;
        a round trip may have waited after it counted as well as before). A server found to give
        back more than this gives back gradually, not by a log of its counts. And how many of ours
        the server still counted at the lowest count (all it said were out, the window unknown)."""
        assert self._remaining is not None
        window, limit, left = self.window.seconds, self._info.limit, self._remaining
        out = None if limit is None else limit - left
        if window is None or out is None:
            return float(left), out or 0
        earliest = self._low.sent_at if self._low is not None else self._low_counted
        spread = self._round_trips.spread()
        back = self._counted.came_back(earliest, now + 2 * spread, window, spread, out)[0]
        opener, low = self._opener, self._low_counted
        opened = -math.inf if opener is None else self._opened_by(opener) - self._margin
        return float(left + back), min(out, self._counted.between(opened, low + self._margin))

    def adopt(self, sent_at: float) -> Ticket:
        """Take on a request another budget's gate let go at ``sent_at`` (it counted in this one)."""
        self.issued, self.in_flight = self.issued + 1, self.in_flight + 1
        return Ticket(self.issued, sent_at)

    def on_no_answer(self, ticket: Ticket, now: float, *, sent: bool = True) -> None:
        """No answer came (an error, a timeout, cancelled); ``sent``: it may have counted, so it is held."""
        self.in_flight = max(0, self.in_flight - 1)
        if ticket == self._testing:
            self._testing = None
        if sent:
            self._count(ticket)
            if self._remaining and self._low is not None and ticket.sent_at >= self._low.sent_at:
                self._remaining -= 1  # it may have counted after the lowest count was made

    def on_answer(
        self, ticket: Ticket, status: int, seen: Observation, now: float, unix_now: float | None = None
    ) -> None:
        """Learn from the answer (any status) to ``ticket``'s request; ``unix_now`` is the wall time
        at ``now`` (omit it when ``now`` is unix time)."""
        self.in_flight = max(0, self.in_flight - 1)
        self._round_trips.add(now - ticket.sent_at)
        if ticket == self._testing:
            self._testing = None
        if ticket == self._opener:
            self._opener_answered = now
        if seen.window is not None:
            self.window.state(seen.window)
        if status == 429:
            self._on_refused(ticket, seen, now)
        else:
            self._on_passed(ticket, seen, now)
        reset, unix = self._reset_at, now if unix_now is None else unix_now
        self._info = RateLimitInfo(
            limit=seen.limit if seen.limit is not None else self._info.limit,
            remaining=seen.remaining if seen.remaining is not None else self._info.remaining,
            reset=None if reset is None or reset < now else unix + (reset - now),
        )

    def _count(self, ticket: Ticket, at: float | None = None) -> None:
        """``ticket``'s request counted against the budget: remember when (by default, when it left)."""
        self._counted.add(ticket.sent_at if at is None else at)
        window = self.window.seconds
        if window is None:
            self._counted.keep_last(_SENT_MAX)
            return
        anchor = ticket.sent_at if self._low is None else min(ticket.sent_at, self._low.sent_at)
        self._counted.forget_before(anchor - 2 * window - 1.0)

    def _on_passed(self, ticket: Ticket, seen: Observation, now: float) -> None:
        self._blind_backoff = BLIND_BACKOFF
        # A stated budget gives each request back a window after the server counted it; without
        # headers, what passed is counted by when it left, as the 429s that measure it are.
        counted = (
            self._round_trips.counted_at(ticket.sent_at, now)
            if seen.remaining is not None
            else ticket.sent_at
        )
        self._count(ticket, counted)
        if self._blind is not None and ticket.sent_at > self._blind[1].sent_at:
            self._end_blind_wait(ticket, now)
        if seen.remaining is None:
            if self._cwnd < SLOW_START_LIMIT:
                self._cwnd = min(float(SLOW_START_LIMIT), self._cwnd + 1.0)
            else:
                self._cwnd += 1.0 / self._cwnd
            learned_at = self._learned_at
            if learned_at is not None and ticket.sent_at <= learned_at.sent_at:
                self.learned.passed_late(self._sent_within_window(learned_at.sent_at))
            elif self.window.seconds is not None and not self._probe_if_others_filled(ticket):
                self.learned.used(self._sent_within_window(now), self.window.seconds, now)
            return
        low, remaining, limit = self._low, self._remaining, seen.limit or self._info.limit
        if remaining is not None:
            self._rose |= seen.remaining > remaining and (low is None or ticket.sent_at > low.sent_at)
            since, window = (self._low_counted, remaining), self.window.seconds
            self._returns.answered(ticket, seen.remaining, limit, since, counted, self._counted, window)
        self._follow_window(ticket, seen.remaining, limit, now)
        if (
            remaining is None
            or seen.remaining < remaining
            # Left after the lowest count was made (by more than one-way delays vary): a newer word.
            or ticket.sent_at >= min(self._low_at, self._low_counted + self._margin)
            # The same count for a later request is the newer word: what came back before it is spent.
            or (seen.remaining == remaining and low is not None and ticket.sent_at > low.sent_at)
        ):
            self._remaining, self._low, self._low_at = seen.remaining, ticket, now
            self._low_counted = counted
            if seen.reset is not None:
                self._reset_at = now + seen.reset

    def _follow_window(self, ticket: Ticket, remaining: int, limit: int | None, now: float) -> None:
        """Follow a window by its Remaining: one below the limit is its first request (a 429 in it
        measures it; the window before had ended); a count that goes up otherwise began one unseen."""
        proven, last = self._proven, self._last_counted
        if limit is not None and remaining == limit - 1:
            if proven is not None and ticket.sent_at <= proven.sent_at:
                return
            if proven is not None and last is not None and last.sent_at < ticket.sent_at:
                # The window before had not ended when ``last`` reached the server (after it left),
                # and had when ``ticket`` did (before its answer came).
                self.window.bound(last.sent_at - self._proven_opened, now - proven.sent_at)
            self._opener, self._opens_window, self._opener_answered, self._rose = ticket, False, now, False
            self._opener_early = False
            self._proven, self._proven_opened = ticket, self._opened_by(ticket)
            self._last_counted, self._last_remaining = ticket, remaining
        elif last is not None and ticket.sent_at > last.sent_at:
            if remaining <= self._last_remaining:
                self._last_counted, self._last_remaining = ticket, remaining
            else:
                self._last_counted = None

    def _end_blind_wait(self, passed: Ticket, now: float) -> None:
        """``passed`` is the first to pass after a 429 that said nothing: the window ended in between."""
        assert self._blind is not None
        opener, refused = self._blind
        self._blind = None
        self.window.bound(refused.sent_at - self._opened_by(opener), passed.sent_at - opener.sent_at)
        if self._remaining is None and self.learned.count is None:
            self._learn_budget(refused, opener, now)
            self._pace_from_recent(now, in_flight=self.in_flight)

    def _on_refused(self, ticket: Ticket, seen: Observation, now: float) -> None:
        self._returns.refused(ticket)
        if ticket == self._opener and self._opener_early:
            self._sharpen = False  # let go at a sharpened end, and still too early
        if ticket.number <= self._echoes_until:
            return
        if self._blind is not None and ticket.sent_at > self._blind[1].sent_at:
            self._blind = (self._blind[0], ticket)  # refused again before any passed: it still runs
        self._stated_end = -math.inf
        opener = self._opener
        not_ours = self._remaining is None and self._opened_in_a_window_not_ours(ticket, opener)
        if not_ours:
            self._sharpen = False
        self._echoes_until = self.issued
        self._cwnd = max(1.0, self._cwnd / 2)
        # A 429 to a request after the window's first (which passed, or it opened nothing), within
        # a window of it: that window is spent, and the 429 measures it.
        in_window = opener is not None and ticket.number > opener.number and not self._rose
        if in_window and opener is not None and self.window.seconds is not None:
            in_window = ticket.sent_at - opener.sent_at < self.window.seconds
        if self._remaining is not None and self._came_back_too_early(ticket):
            # Let go when a request of a window before was taken as back: its way to the server was
            # slower than this one's, or the window is longer than measured.
            # One-way delays vary by no more than the quickest round trip: past that, it is the window.
            window = self.window.seconds or 0.0
            network = self._round_trips.quickest(RESET_MARGIN)
            if self._margin < min(network, window / 4):
                self._margin = min(network, window / 4, 2 * self._margin)
            else:
                self.window.longer_than(window)
        wait = seen.wait
        if wait is None or wait <= 0:
            # Nothing said (or "now", and it was not): a probe after a backoff that doubles, but
            # within the second for a "0" in whole seconds (Laravel rounds its wait down). Then probe
            # once when a window that began with our first request could end (windows last whole
            # seconds). The first request to pass bounds the window.
            until = now + self._blind_backoff
            if wait is not None and seen.coarse:
                until = min(until, now + 1.0)
            first_try = self._blind_backoff == BLIND_BACKOFF
            self._blind_backoff = min(_BLIND_BACKOFF_MAX, 2 * self._blind_backoff)
            if in_window and opener is not None:
                self._blind = (opener, ticket)
                unmeasured = self._remaining is not None and self.window.seconds is None
                if wait is not None and unmeasured and first_try:
                    opened = self._opened_by(opener)
                    earliest = opened + max(1.0, math.ceil(ticket.sent_at - opened - 1e-6))
                    if earliest + self._margin < until:
                        until = max(now, earliest + self._margin)  # now, when it already could have
        else:
            until = now + wait
            # Retry-After first: a reset header may name a bucket's next token instead.
            stated = seen.retry_after if seen.retry_after is not None else wait
            if in_window and opener is not None:
                # The window that began with its first request ends when the server lets us go again.
                ends = now + stated - opener.sent_at
                self.window.refused(self._opened_by(opener), ticket.sent_at, stated, seen.coarse, ends)
                until = self._sharpened_until(until, seen.coarse, now)
            elif opener is not None and self._remaining is not None and self.window.seconds is not None:
                # Past the window we measured, and told to wait on: it is longer than that.
                self.window.refused(self._opened_by(opener), ticket.sent_at, stated, seen.coarse)
        self._reset_at = until
        self._cooldown_until = max(self._cooldown_until, until)
        if self._remaining is None:
            self._learn_budget(ticket, opener, now, ours=not not_ours)
        else:
            self._remaining, self._low, self._low_at = 0, ticket, now
            self._low_counted = self._round_trips.counted_at(ticket.sent_at, now)
            if self._last_counted is not None and ticket.sent_at > self._last_counted.sent_at:
                self._last_counted, self._last_remaining = ticket, 0  # it reached the window in time
        self._opens_window = True

    def _opened_by(self, opener: Ticket) -> float:
        """When the window ``opener`` opened began: when the server counted it."""
        if opener != self._opener or not math.isfinite(self._opener_answered):
            return opener.sent_at
        return self._round_trips.counted_at(opener.sent_at, self._opener_answered)

    def _came_back_too_early(self, refused: Ticket) -> bool:
        """Whether ``refused`` went because a request of a window before was taken as back."""
        window = self.window.seconds
        oldest = self._counted.oldest
        if window is None or self.window.stated or oldest is None:
            return False
        return refused.sent_at - window - self._margin >= oldest

    def _sharpened_until(self, stated: float, coarse: bool, now: float) -> float:
        """A wait stated in whole seconds is rounded up: when the window's first request comes back
        (a window after it left), if that lies within the rounding, is the sharper answer. Not from
        a window measured as if that request began it when its Remaining showed another had."""
        window, opener = self.window.seconds, self._opener
        known = self._remaining is None or self.window.stated or opener == self._proven
        if not (coarse and self._sharpen and known and window is not None and opener is not None):
            return stated
        back = self._opened_by(opener) + window + self._margin
        if stated - 1.0 < back < stated and back > now:
            self._stated_end = stated
            return back
        return stated
