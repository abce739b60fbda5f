"""When the server counted our requests: the instants, sorted, and what the limiter asks of them —
how many in a span, and which come back when."""

from __future__ import annotations

import bisect

import msgspec

__all__ = ["CountedLog"]


class CountedLog(msgspec.Struct):
    """The instants at which our requests counted against the budget (sorted; recent ones only)."""

    times: list[float] = []

    def add(self, at: float) -> None:
        """A request counted at ``at``."""
        bisect.insort(self.times, at)

    def forget_before(self, instant: float) -> None:
        """Drop what counted before ``instant`` (it came back long ago)."""
        del self.times[: bisect.bisect_left(self.times, instant)]

    def keep_last(self, count: int) -> None:
        """Keep only the last ``count`` instants."""
        del self.times[:-count]

    def upto(self, instant: float) -> int:
        """How many counted at or before ``instant``."""
        return bisect.bisect_right(self.times, instant)

    def between(self, after: float, until: float) -> int:
        """How many counted in ``(after, until]``."""
        return self.upto(until) - self.upto(after)

    def since(self, start: float, until: float) -> int:
        """How many counted in ``[start, until]``."""
        return self.upto(until) - bisect.bisect_left(self.times, start)

    def first_after(self, instant: float) -> float | None:
        """The first instant after ``instant`` (None: none counted since)."""
        index = self.upto(instant)
        return self.times[index] if index < len(self.times) else None

    @property
    def oldest(self) -> float | None:
        """The earliest instant remembered."""
        return self.times[0] if self.times else None

    def came_back(
        self, low_count: float, now: float, window: float, margin: float, out: int | None
    ) -> tuple[int, float | None]:
        """How many of what counted came back (one ``window`` and ``margin`` after it counted) since
        the lowest count was made at ``low_count`` (no more than the ``out`` it said were out: a
        server may give back earlier), and when the next one comes back.

        The ``out`` are the last to count up to the lowest count, give or take ``margin``: when a
        request counted is reckoned from its round trip, and two counted a moment apart may change
        places. Which one stays out does not matter; one from a window before must not be taken back.
        """
        first = self.upto(low_count - window)
        if out is not None:
            first = max(first, self.upto(low_count + margin) - out)
        upto = self.upto(now - window - margin + 1e-9)
        pending = max(first, upto)
        next_back = self.times[pending] + window + margin if pending < len(self.times) else None
        return max(0, upto - first), next_back


#: Round trips remembered: the quickest of them is a request's way there and back with no waiting.
_ROUND_TRIPS = 32


class RoundTrips(msgspec.Struct):
    """The last round trips, oldest first: a request's way to the server takes no longer than the
    quickest, so a slower one waited — behind others' work, and maybe before being counted."""

    recent: list[float] = []

    def add(self, seconds: float) -> None:
        """A request was answered ``seconds`` after it left."""
        self.recent.append(seconds)
        del self.recent[:-_ROUND_TRIPS]

    def quickest(self, default: float) -> float:
        """The quickest round trip remembered (``default`` before any)."""
        return min(self.recent, default=default)

    def spread(self) -> float:
        """How much longer the slowest round trip remembered took than the quickest: how much
        later than it could have a request may be reckoned to have counted."""
        return max(self.recent, default=0.0) - self.quickest(0.0)

    def counted_at(self, sent: float, answered: float) -> float:
        """When the server counted a request that left at ``sent`` and was answered at ``answered``:
        as long after it left as its round trip took longer than the quickest."""
        slower = answered - sent - self.quickest(0.0)
        return sent + (slower if slower > 1e-6 else 0.0)
