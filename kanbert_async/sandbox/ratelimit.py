"""Throttles the sandbox can impose, each in the style of servers that really throttle that way.

Algorithms, per token (``limit`` requests per ``window`` seconds, from ``RateLimit.parse``):

- ``fixed`` — Laravel's ``throttle``: a window opens at a token's first hit and lasts ``window``
  seconds; its first ``limit`` hits pass, the rest are refused until it ends.
- ``bucket`` — a token bucket, as API gateways run: ``burst`` tokens (default ``limit``) that
  refill continuously at ``limit / window`` per second; each request takes one.
- ``sliding`` — a sliding log: at most ``limit`` hits in any ``window`` seconds.

Refused requests are not counted (as in Laravel). What the answers say (``HeaderStyle``):

- ``laravel`` — ``X-RateLimit-Limit`` and ``X-RateLimit-Remaining`` on every answer; a 429 adds
  ``X-RateLimit-Reset`` and ``Retry-After`` by Laravel's own arithmetic: the window's end rounded
  down to a whole unix second, and whole seconds from now to it (so up to a second early, even 0).
- ``ietf`` — ``RateLimit-Limit``, ``RateLimit-Remaining``, ``RateLimit-Reset`` (seconds until the
  quota is whole again; for a sliding log, until its oldest hit expires) and ``RateLimit-Policy``
  on every answer; a 429 adds ``Retry-After``.
- ``none`` — nothing but the 429 itself, as many gateways do.

A server with several buckets (:mod:`.buckets`) names the one an answer drew on: ``laravel`` adds
``X-RateLimit-Resource: <name>`` (as GitHub does), ``ietf`` names the policy
(``RateLimit-Policy: "<name>";q=<quota>;w=<window>``), ``none`` still says nothing. A server with
one bucket names none, and writes its policy as ``<quota>;w=<window>``.

``Retry-After`` itself is written as delta-seconds, as an HTTP-date, or left out (``RetryAfter``).
Every other stated time is rounded up to whole seconds, as gateways do: never earlier than the truth.
"""

from __future__ import annotations

import collections
import dataclasses
import math
import re
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Literal, Protocol

from kanbert_async._core.ratelimit import TIME_UNITS as _UNITS

__all__ = [
    "Algorithm",
    "HeaderStyle",
    "RateLimit",
    "RetryAfter",
    "Throttle",
    "Verdict",
    "limit_headers",
    "make_throttle",
]

Algorithm = Literal["fixed", "bucket", "sliding"]
HeaderStyle = Literal["laravel", "ietf", "none"]
RetryAfter = Literal["seconds", "date", "omit"]
ALGORITHMS: tuple[Algorithm, ...] = ("fixed", "bucket", "sliding")
HEADER_STYLES: tuple[HeaderStyle, ...] = ("laravel", "ietf", "none")
RETRY_AFTER_FORMATS: tuple[RetryAfter, ...] = ("seconds", "date", "omit")

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
class Verdict:
    """One request's fate: whether it passes, what is left, and when things change.

    ``retry_after``: seconds until a refused request would pass (0 when allowed). ``reset_after``:
    seconds until the quota is whole again (for a sliding log: until its oldest hit expires).
    ``policy``: the quota and its window as ``RateLimit-Policy`` states them.
    """

    allowed: bool
    limit: int
    remaining: int
    retry_after: float
    reset_after: float
    policy: tuple[int, float]


class Throttle(Protocol):
    """Counts one token's requests; ``hit`` decides one."""

    def hit(self, key: str) -> Verdict:
        """Count a request for ``key`` (if it passes) and say whether it does."""
        ...


class _FixedWindow:
    def __init__(self, rate: RateLimit, clock: Callable[[], float]) -> None:
        self._rate, self._clock = rate, clock
        self._windows: dict[str, tuple[float, int]] = {}

    def hit(self, key: str) -> Verdict:
        now = self._clock()
        started, hits = self._windows.get(key, (-math.inf, 0))
        if now >= started + self._rate.window:
            started, hits = now, 0
        left = started + self._rate.window - now
        allowed = hits < self._rate.limit
        hits += allowed
        self._windows[key] = (started, hits)
        policy = (self._rate.limit, self._rate.window)
        return Verdict(
            allowed, self._rate.limit, self._rate.limit - hits, 0 if allowed else left, left, policy
        )


class _TokenBucket:
    def __init__(self, rate: RateLimit, burst: int, clock: Callable[[], float]) -> None:
        self._per_second = rate.limit / rate.window
        self._capacity = burst
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def hit(self, key: str) -> Verdict:
        now = self._clock()
        tokens, since = self._buckets.get(key, (float(self._capacity), now))
        tokens = min(float(self._capacity), tokens + (now - since) * self._per_second)
        allowed = tokens >= 1.0
        tokens -= allowed
        self._buckets[key] = (tokens, now)
        wait = 0.0 if allowed else (1.0 - tokens) / self._per_second
        full = (self._capacity - tokens) / self._per_second
        policy = (self._capacity, self._capacity / self._per_second)
        return Verdict(allowed, self._capacity, math.floor(tokens), wait, full, policy)


class _SlidingLog:
    def __init__(self, rate: RateLimit, clock: Callable[[], float]) -> None:
        self._rate, self._clock = rate, clock
        self._logs: dict[str, collections.deque[float]] = {}

    def hit(self, key: str) -> Verdict:
        now = self._clock()
        log = self._logs.setdefault(key, collections.deque())
        while log and log[0] <= now - self._rate.window:
            log.popleft()
        allowed = len(log) < self._rate.limit
        if allowed:
            log.append(now)
        oldest = log[0] + self._rate.window - now
        policy = (self._rate.limit, self._rate.window)
        return Verdict(
            allowed, self._rate.limit, self._rate.limit - len(log), 0 if allowed else oldest, oldest, policy
        )


def make_throttle(
    rate: RateLimit,
    algorithm: Algorithm = "fixed",
    *,
    burst: int | None = None,
    clock: Callable[[], float] | None = None,
) -> Throttle:
    """The throttle ``algorithm`` admitting ``rate`` (a bucket holds ``burst`` tokens, default the limit).

    ``clock`` is monotonic seconds (default ``time.monotonic``, looked up now so a test can fake it).
    """
    clock = clock or time.monotonic
    if algorithm == "fixed":
        return _FixedWindow(rate, clock)
    if algorithm == "bucket":
        return _TokenBucket(rate, burst or rate.limit, clock)
    if algorithm == "sliding":
        return _SlidingLog(rate, clock)
    raise ValueError(f"unknown throttle {algorithm!r}; choose one of {', '.join(ALGORITHMS)}")


def _whole(seconds: float) -> int:
    # A tiny float residue must not turn an exact 1.0 into 2.
    return max(0, math.ceil(seconds - 1e-9))


def _policy(policy: tuple[int, float], bucket: str | None) -> str:
    quota, window = policy
    if bucket is None:
        return f"{quota};w={window:g}"
    # The draft's named form: the name is a structured-field string (bucket names need no escaping).
    return f'"{bucket}";q={quota};w={window:g}'


def limit_headers(
    verdict: Verdict,
    style: HeaderStyle,
    retry_after: RetryAfter,
    *,
    wall: float,
    bucket: str | None = None,
) -> dict[str, str]:
    """The headers a server of ``style`` sends with ``verdict``; ``wall`` is the unix time now.

    ``bucket`` names the budget the answer drew on, for a server with several (None: it has one
    and names nothing).
    """
    headers: dict[str, str] = {}
    if style == "laravel":
        headers["X-RateLimit-Limit"] = str(verdict.limit)
        headers["X-RateLimit-Remaining"] = str(verdict.remaining)
        if bucket is not None:
            headers["X-RateLimit-Resource"] = bucket
        if not verdict.allowed:
            # Laravel's own arithmetic: the window's timer is a whole unix second (its end, rounded
            # down), and the wait counts whole seconds from now, rounded down: both can say a little
            # less than the truth, Retry-After even 0.
            timer = math.floor(wall + verdict.retry_after)
            headers["X-RateLimit-Reset"] = str(timer)
            if retry_after == "seconds":
                headers["Retry-After"] = str(max(0, timer - math.floor(wall)))
                return headers
    elif style == "ietf":
        headers["RateLimit-Limit"] = str(verdict.limit)
        headers["RateLimit-Remaining"] = str(verdict.remaining)
        headers["RateLimit-Reset"] = str(_whole(verdict.reset_after))
        headers["RateLimit-Policy"] = _policy(verdict.policy, bucket)
    if not verdict.allowed:
        if retry_after == "seconds":
            headers["Retry-After"] = str(max(1, _whole(verdict.retry_after)))
        elif retry_after == "date":
            headers["Retry-After"] = formatdate(math.ceil(wall + verdict.retry_after), usegmt=True)
    return headers
