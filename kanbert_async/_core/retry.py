"""When to retry a request and how long to wait: pure decisions, no I/O, no clock.

The transport owns the loop; it asks :func:`decide_retry` after every failed attempt and sleeps for
the answer's ``wait``. Everything here takes the current time explicitly, so every rule is
testable with plain numbers.

Timebase: ``now`` and ``started_at`` are unix wall time (``time.time()``), because two of the
headers that carry a server-requested wait (``Retry-After`` as an HTTP-date, ``X-RateLimit-Reset``)
are absolute wall-clock instants.

Example::

    decision = decide_retry(policy, attempt=0, method="GET", status=503, failure=None,
                            headers=response.headers, now=time.time(), started_at=t0)
    if decision.retry:
        await asyncio.sleep(decision.wait)
"""

from __future__ import annotations

import dataclasses
import enum
import math
import random
from collections.abc import Mapping
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import TypedDict, Unpack

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = [
    "IDEMPOTENT_METHODS",
    "Failure",
    "RetryDecision",
    "RetryPolicy",
    "decide_retry",
    "get_header",
    "parse_retry_after",
    "reset_delay",
    "retry_after_delay",
]

#: Methods whose repetition has the same effect as a single call (RFC 9110 §9.2.2).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})

# Statuses that say "the server could not handle this right now", not "this request is wrong".
_TRANSIENT_STATUSES = frozenset({408, 429, 502, 503, 504})

# A 500 may have happened after the server changed state, so only repeatable requests retry on it.
_IDEMPOTENT_ONLY_STATUSES = frozenset({500})

# "Retry-After: 0" still deserves a breath; an immediate retry mostly hits the same overload.
_SERVER_WAIT_FLOOR = 0.05

# X-RateLimit-Reset is a unix time, but some gateways send seconds-until-reset in the same header.
# No real unix time is below 10^9 (2001), so smaller values can only be a delta.
_UNIX_TIME_THRESHOLD = 1e9


class Failure(enum.Enum):
    """How an attempt failed when there was no HTTP response to look at."""

    #: The connection could not be established: the request provably never reached the server.
    CONNECT = "connection failed"
    #: The connection dropped after the request was (possibly) sent: the outcome is unknown.
    CONNECTION_LOST = "connection lost"
    #: The attempt timed out; the server may or may not have acted on it.
    TIMEOUT = "timeout"
    #: The response began but its body stopped before the end (the connection dropped midway).
    BODY_BROKE_OFF = "body broke off mid-stream"


class _PolicyChanges(TypedDict, total=False):
    max_retries: int
    backoff_base: float
    backoff_max: float
    jitter: float
    max_retry_after: float
    deadline: float | None


@dataclasses.dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How persistent the SDK is about transient failures.

    - ``max_retries``: retries after the first attempt (0 disables retrying).
    - ``backoff_base`` / ``backoff_max``: exponential backoff ``base * 2**attempt``, capped.
    - ``jitter``: fraction of the backoff that is randomised (1.0 = "full jitter": uniform in
      ``[0, backoff]``; 0.0 = no randomness).
    - ``max_retry_after``: a server-requested wait longer than this is not waited; the error
      surfaces with the requested wait attached.
    - ``deadline``: overall budget in seconds per call, across all attempts (None = no budget).

    Example: ``RetryPolicy().with_overrides(max_retries=2, deadline=10.0)``.
    """

    max_retries: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    jitter: float = 1.0
    max_retry_after: float = 300.0
    deadline: float | None = None

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.backoff_base < 0 or self.backoff_max < 0:
            raise ValueError("backoff_base and backoff_max must be >= 0")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter must be between 0.0 and 1.0")
        if self.max_retry_after < 0:
            raise ValueError("max_retry_after must be >= 0")
        if self.deadline is not None and self.deadline <= 0:
            raise ValueError("deadline must be > 0 (or None for no deadline)")

    def with_overrides(self, **changes: Unpack[_PolicyChanges]) -> RetryPolicy:
        """Return a copy with the given fields replaced, e.g. ``policy.with_overrides(max_retries=0)``."""
        return dataclasses.replace(self, **changes)

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """The jittered exponential backoff before retry number ``attempt + 1`` (0-based ``attempt``)."""
        # min() before the power would overflow: 2**2000 is a float OverflowError.
        exponent = min(attempt, 64)
        ceiling = min(self.backoff_max, self.backoff_base * 2.0**exponent)
        draw = (rng or random).random()
        return ceiling * (1.0 - self.jitter * draw)


@dataclasses.dataclass(frozen=True, slots=True)
class RetryDecision:
    """The answer to "retry this attempt?".

    ``wait`` is the delay before the next attempt when ``retry`` is true. ``server_wait`` is the
    wait the server itself requested (Retry-After and friends), also when the decision is not to
    retry, so the transport can attach it to the error and start the shared rate-limit cooldown.
    ``reason`` is a short human phrase for logs, e.g. ``"HTTP 429, server asked 2.0s"``.
    """

    retry: bool
    wait: float
    reason: str
    server_wait: float | None = None


_CASE_INSENSITIVE = (CIMultiDict, CIMultiDictProxy)


def get_header(headers: Mapping[str, str], name: str) -> str | None:
    """Look a header up case-insensitively in a plain dict or a (CI)MultiDict."""
    value = headers.get(name)
    if value is not None or isinstance(headers, _CASE_INSENSITIVE):
        return value  # aiohttp's answers: absent is absent (no scan, on every answer's path)
    lowered = name.lower()
    value = headers.get(lowered)
    if value is not None:
        return value
    for key, candidate in headers.items():
        if key.lower() == lowered:
            return candidate
    return None


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _http_date(text: str, now: float) -> float | None:
    try:
        when = parsedate_to_datetime(text.strip())
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # HTTP-dates are always GMT; "-0000" parses as naive.
        when = when.replace(tzinfo=UTC)
    return when.timestamp() - now


def retry_after_delay(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds a ``retry-after-ms`` or ``Retry-After`` (delta-seconds or HTTP-date) header asks to wait."""
    millis = _number(get_header(headers, "retry-after-ms"))
    if millis is not None:
        return max(0.0, millis / 1000.0)
    text = get_header(headers, "retry-after")
    if text is not None:
        seconds = _number(text)
        if seconds is None:
            seconds = _http_date(text, now)
        if seconds is not None:
            return max(0.0, seconds)
    return None


def reset_delay(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds until the rate-limit window resets, from ``X-RateLimit-Reset`` or ``RateLimit-Reset``.

    ``X-RateLimit-Reset`` is a unix time (a small value is taken as a delta); the IETF
    ``RateLimit-Reset`` is a delta. ``now`` is unix wall time.
    """
    reset = _number(get_header(headers, "x-ratelimit-reset"))
    if reset is not None:
        return max(0.0, reset if reset < _UNIX_TIME_THRESHOLD else reset - now)
    reset = _number(get_header(headers, "ratelimit-reset"))
    if reset is not None:
        return max(0.0, reset)
    return None


def parse_retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds the server asks us to wait, or None when it did not say (or said nonsense).

    Looks, in order, at ``retry-after-ms``, ``Retry-After`` (delta-seconds or HTTP-date),
    ``X-RateLimit-Reset`` (unix time, or a delta when below 10^9) and ``RateLimit-Reset``
    (delta). The first readable one wins; unreadable values are skipped; negative waits become 0.
    ``now`` is unix wall time (``time.time()``).

    >>> parse_retry_after({"Retry-After": "2"}, now=0.0)
    2.0
    """
    explicit = retry_after_delay(headers, now)
    if explicit is not None:
        return explicit
    return reset_delay(headers, now)


def _status_retryable(status: int, repeatable: bool) -> bool:
    if status == 429:
        # A 429 is refused before any work is done, so even a POST is safe to send again.
        return True
    if status in _TRANSIENT_STATUSES or status in _IDEMPOTENT_ONLY_STATUSES:
        return repeatable
    return False


def _failure_retryable(failure: Failure, repeatable: bool) -> bool:
    return failure is Failure.CONNECT or repeatable


def decide_retry(
    policy: RetryPolicy,
    *,
    attempt: int,
    method: str,
    status: int | None,
    failure: Failure | None,
    headers: Mapping[str, str],
    now: float,
    started_at: float,
    rng: random.Random | None = None,
    retry_unsafe: bool = False,
) -> RetryDecision:
    """Decide whether a failed attempt is retried and after how long.

    Pass either ``status`` (an HTTP response arrived) or ``failure`` (none did). ``attempt`` is the
    number of retries already made (0 after the first attempt). ``now`` and ``started_at`` (when
    the call began) are unix wall time. ``retry_unsafe=True`` declares a POST/PATCH safe to repeat
    (e.g. it carries an idempotency key), making it retry like an idempotent method.

    Retried: connection failures, timeouts, 408, 429, 502, 503, 504 for idempotent methods; 500
    for idempotent methods only; POST/PATCH only when the request provably did not take effect
    (a failed connect, or a 429). A server-requested wait replaces the backoff; one longer than
    ``policy.max_retry_after``, or a wait that would overrun ``policy.deadline``, ends retrying.
    """
    if (status is None) == (failure is None):
        raise ValueError("pass exactly one of status (a response arrived) or failure (none did)")
    repeatable = retry_unsafe or method.upper() in IDEMPOTENT_METHODS

    if status is not None:
        what = f"HTTP {status}"
        retryable = _status_retryable(status, repeatable)
        # Reset headers ride along on ordinary responses too; only on a 429 do they mean "wait".
        server_wait = parse_retry_after(headers, now) if status == 429 else retry_after_delay(headers, now)
    else:
        assert failure is not None
        what = failure.value
        retryable = _failure_retryable(failure, repeatable)
        server_wait = None

    if server_wait is not None:
        what = f"{what}, server asked {server_wait:.1f}s"

    if not retryable:
        if status is not None:
            return RetryDecision(False, 0.0, f"{what}: not retryable for {method.upper()}", server_wait)
        return RetryDecision(
            False, 0.0, f"{what}: {method.upper()} not retried, the server may have acted on it", server_wait
        )
    if attempt >= policy.max_retries:
        return RetryDecision(False, 0.0, f"{what}: gave up after {attempt} retries", server_wait)

    if server_wait is not None:
        if server_wait > policy.max_retry_after:
            return RetryDecision(
                False,
                0.0,
                f"{what}: longer than max_retry_after ({policy.max_retry_after:.1f}s)",
                server_wait,
            )
        wait = max(server_wait, _SERVER_WAIT_FLOOR)
    else:
        wait = policy.backoff(attempt, rng)

    if policy.deadline is not None and now + wait > started_at + policy.deadline:
        overrun = f"{what}: waiting {wait:.1f}s would pass the {policy.deadline:.1f}s deadline"
        return RetryDecision(False, 0.0, overrun, server_wait)
    return RetryDecision(True, wait, what, server_wait)
