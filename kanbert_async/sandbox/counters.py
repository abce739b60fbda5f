"""What the sandbox has served, for tests and benchmarks to assert on."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter, deque
from typing import Any

__all__ = ["Counters"]

# The timeline keeps the latest requests only, so a long benchmark run does not grow without bound.
_KEEP = 200_000


@dataclasses.dataclass(slots=True)
class Counters:
    """Requests per operation id, statuses, throttling, faults, OAuth activity and a timeline.

    ``requests``: requests routed to each operation id (``outgoingInvoices.index``, ``oauth.token``, ...).
    ``statuses``: responses sent, by HTTP status (dropped connections are not responses).
    ``rate_limited``: 429s from the throttle; ``rate_limited_by_bucket``: the same 429s by the bucket
    that refused them (``core``: the main one, also when it is the only one).
    ``faults``: injected faults by kind.
    ``refreshes``/``code_exchanges``: successful OAuth grants. ``timeline``: (``time.monotonic()``,
    operation id) at the start of each request; ``spans``: (start, end, operation id) when it ended
    (both keep the latest 200,000).
    ``in_flight``/``max_in_flight``: requests being handled now / at most at once.
    """

    requests: Counter[str] = dataclasses.field(default_factory=Counter)
    statuses: Counter[int] = dataclasses.field(default_factory=Counter)
    rate_limited: int = 0
    rate_limited_by_bucket: Counter[str] = dataclasses.field(default_factory=Counter)
    faults: Counter[str] = dataclasses.field(default_factory=Counter)
    refreshes: int = 0
    code_exchanges: int = 0
    timeline: deque[tuple[float, str]] = dataclasses.field(default_factory=lambda: deque(maxlen=_KEEP))
    spans: deque[tuple[float, float, str]] = dataclasses.field(default_factory=lambda: deque(maxlen=_KEEP))
    in_flight: int = 0
    max_in_flight: int = 0

    def started(self, operation: str) -> float:
        """Record the start of a request; returns its start time."""
        now = time.monotonic()
        self.requests[operation] += 1
        self.timeline.append((now, operation))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        return now

    def finished(self, operation: str, started: float, status: int | None) -> None:
        """Record the end of a request (``status`` None: the connection was dropped)."""
        self.in_flight -= 1
        self.spans.append((started, time.monotonic(), operation))
        if status is not None:
            self.statuses[status] += 1

    def overlapping(self, operation: str | None = None) -> int:
        """The most requests (of ``operation``, or any) that were in flight at the same moment."""
        events: list[tuple[float, int]] = []
        for start, end, op in self.spans:
            if operation is None or op == operation:
                events += [(start, 1), (end, -1)]
        best = current = 0
        for _, delta in sorted(events):
            current += delta
            best = max(best, current)
        return best

    def total(self) -> int:
        """All requests counted so far."""
        return sum(self.requests.values())

    def reset(self) -> None:
        """Start counting from zero (``in_flight`` keeps counting requests still running)."""
        self.requests.clear()
        self.statuses.clear()
        self.faults.clear()
        self.rate_limited_by_bucket.clear()
        self.rate_limited = self.refreshes = self.code_exchanges = 0
        self.timeline.clear()
        self.spans.clear()
        self.max_in_flight = self.in_flight

    def snapshot(self) -> dict[str, Any]:
        """A JSON-friendly summary (what ``GET /__sandbox__/counters`` answers)."""
        return {
            "requests": dict(self.requests),
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "rate_limited": self.rate_limited,
            "rate_limited_by_bucket": dict(self.rate_limited_by_bucket),
            "faults": dict(self.faults),
            "refreshes": self.refreshes,
            "code_exchanges": self.code_exchanges,
            "max_in_flight": self.max_in_flight,
        }
