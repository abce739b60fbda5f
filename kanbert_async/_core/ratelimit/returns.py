"""A budget that comes back gradually, and how fast: what a lone request sent when the server said
nothing was left finds.

A sliding log gives each request back one window after it counted, and a fixed window gives all of
a window back at once; our reckoning follows both. Other throttles give back a little at a time:
a token bucket refills a token at a time, a sliding window counter (slowapi's, Cloudflare's) weighs
the window before by how much of it is still within one window of now, and another client's
requests leave a sliding log one by one. Against those the reckoning is wrong both ways: what it
gives back at once comes back spread over the next window, and what comes back early it does not
see. The server's own Remaining shows the pace: how much came back between two of its answers,
less what of ours counted between them.
"""

from __future__ import annotations

import math

import msgspec

from .counted import CountedLog
from .records import Ticket

__all__ = ["GradualReturn"]


class GradualReturn(msgspec.Struct):
    """Whether the server gives its budget back gradually, and at how many requests per second.

    Seen when a request that went alone, when the server had said nothing was left, finds more
    back than a sliding log can have given back (what counted a window before, each of ours
    counted as early as it could have: our reckoning of when is the latest), and less than a whole
    window would (a fixed window's end: all of ours the server counted, and maybe more, as other
    clients may have taken some of it first). The pace is then measured from the server's
    Remaining over at least half a window (a second, the window not known), as a lower bound: one
    fewer than came back, as the last may have come back just then. Each request at the pace that
    goes alone measures it again, so a pace measured too low holds back one request, not the rest.
    A 429 to such a request, or a whole window back at once, ends it.
    """

    per_second: float = 0.0  # 0: not seen to come back gradually
    # The request that went alone, the most a log of ours can have given back when it went, and
    # how many of ours the server still counted then.
    _probe: tuple[int, float, int] | None = None
    # Where the measured pace starts: when a count of the server's was made, and its Remaining.
    _since: tuple[float, int] | None = None
    _paced: float = -math.inf

    def went_alone(self, ticket: Ticket, reckoned: float, ours: int) -> None:
        """``ticket``'s request went when the server had said nothing was left and none was out;
        ``reckoned``: the most a sliding log can have given back by then; ``ours``: how many of
        ours the server still counted at its lowest count (a window's end gives them all back)."""
        self._probe = (ticket.number, reckoned, ours)

    def answered(
        self,
        ticket: Ticket,
        remaining: int,
        limit: int | None,
        low: tuple[float, int],
        counted_at: float,
        counted: CountedLog,
        window: float | None,
    ) -> None:
        """``ticket``'s request passed, counted at ``counted_at`` with ``remaining`` left; ``low``:
        when the lowest count before it was made, and that Remaining; ``counted``: when ours counted."""
        probe = self._probe
        if probe is None or probe[0] != ticket.number or limit is None:
            return
        self._probe = None
        got = remaining + 1
        if got >= min(limit, probe[2]):
            # A whole window back at once (less what other clients took of it first: never less
            # than ours).
            self.per_second, self._since = 0.0, None
            return
        if not (self.per_second or got > max(1.0, probe[1])):
            return
        if self._since is None:
            self._since = low
        since, before = self._since
        span = counted_at - since
        returned = remaining - before + counted.between(since, counted_at)
        if returned > 1 and span >= (window / 2 if window else 1.0):
            self.per_second = (returned - 1) / span
        if span > 2 * (window or 1.0):
            self._since = (counted_at, remaining)  # measure over the last windows, not all of them

    def refused(self, ticket: Ticket) -> None:
        """A 429 to ``ticket``'s request: sent alone or at the pace, the budget does not come back
        at the pace (another client may share it, or a window ended and spent)."""
        if (self._probe is not None and self._probe[0] == ticket.number) or self.per_second:
            self.per_second, self._probe, self._since = 0.0, None, None

    def next_back(self, low_counted: float, margin: float) -> float | None:
        """When the next request comes back after the lowest count (made at ``low_counted``), at the
        pace measured (None: not seen to come back gradually)."""
        if not self.per_second:
            return None
        return max(low_counted + margin, self._paced) + 1.0 / self.per_second

    def paced(self, now: float) -> None:
        """A request went at the pace at ``now``."""
        self._paced = now
