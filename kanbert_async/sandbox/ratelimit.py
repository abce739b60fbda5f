"""Laravel's ``throttle`` middleware: a fixed window per token that starts with its first hit.

``RateLimit.parse("600/min")`` → 600 requests per 60-second window; ``"50/s"`` → a 1-second
window, ``"100/10s"`` → a 10-second one. Within a window the first ``limit`` requests pass, the
rest get 429 until the window (counted from its first request) ends.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from collections.abc import Callable

from kanbert_async._core.ratelimit import TIME_UNITS as _UNITS

__all__ = ["FixedWindowLimiter", "RateDecision", "RateLimit"]

_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+?)s?\s*$", re.IGNORECASE)


@dataclasses.dataclass(frozen=True, slots=True)
class RateLimit:
    """``limit`` requests per ``window`` seconds."""

    limit: int
    window: float

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """``"600/min"``, ``"50/s"``, ``"100/10s"``, ``"5000/hour"`` (units s, sec, m, min, h, hour)."""
        match = _RATE_RE.match(text)
        unit = match.group(3).lower() if match else ""
        if match is None or unit not in _UNITS:
            raise ValueError(f"unreadable rate limit {text!r}; write it like '600/min', '50/s' or '100/10s'")
        limit = int(match.group(1))
        window = float(match.group(2) or 1) * _UNITS[unit]
        if limit < 1 or window <= 0:
            raise ValueError(f"rate limit {text!r} must allow at least one request per positive window")
        return cls(limit, window)


@dataclasses.dataclass(frozen=True, slots=True)
class RateDecision:
    """What the throttle says about one request, and the headers it implies."""

    allowed: bool
    limit: int
    remaining: int
    retry_after: int
    reset_at: int

    def headers(self) -> dict[str, str]:
        """``X-RateLimit-*`` headers; on a refusal also ``Retry-After`` and ``X-RateLimit-Reset``."""
        out = {"X-RateLimit-Limit": str(self.limit), "X-RateLimit-Remaining": str(self.remaining)}
        if not self.allowed:
            out["Retry-After"] = str(self.retry_after)
            out["X-RateLimit-Reset"] = str(self.reset_at)
        return out


@dataclasses.dataclass(slots=True)
class _Window:
    started: float
    hits: int


class FixedWindowLimiter:
    """Counts hits per key in fixed windows; ``clock`` is monotonic, ``wall`` gives unix time."""

    def __init__(
        self,
        rate: RateLimit,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.rate = rate
        self._clock = clock
        self._wall = wall
        self._windows: dict[str, _Window] = {}

    def hit(self, key: str) -> RateDecision:
        """Count one request for ``key`` (refused requests are not counted, as in Laravel)."""
        now = self._clock()
        window = self._windows.get(key)
        if window is None or now >= window.started + self.rate.window:
            window = _Window(now, 0)
            self._windows[key] = window
        left = window.started + self.rate.window - now
        reset_at = math.ceil(self._wall() + left)
        if window.hits >= self.rate.limit:
            return RateDecision(False, self.rate.limit, 0, max(1, math.ceil(left)), reset_at)
        window.hits += 1
        return RateDecision(True, self.rate.limit, self.rate.limit - window.hits, 0, reset_at)
