"""What one answer says about the rate limit, read from its headers; and human rates like ``600/min``."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping

from ..retry import get_header, reset_delay, retry_after_delay

__all__ = ["TIME_UNITS", "Observation", "parse_rate"]

#: Seconds per unit of a rate like ``600/min`` (shared with the sandbox's throttle).
TIME_UNITS = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hour": 3600.0,
}
_RATE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*([a-z]+?)s?\s*$", re.IGNORECASE)


def parse_rate(text: str) -> float:
    """Parse a human rate into requests per second: ``"600/min"`` → ``10.0``.

    Accepts ``N/s``, ``N/sec``, ``N/second``, ``N/m``, ``N/min``, ``N/minute``, ``N/h``, ``N/hr``,
    ``N/hour`` (plural units too). Raises ``ValueError`` for anything else.
    """
    match = _RATE_RE.match(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in TIME_UNITS:
        raise ValueError(f"unreadable rate {text!r}; write it like '10/s', '600/min' or '5000/h'")
    count = float(match.group(1))
    if count <= 0:
        raise ValueError(f"rate {text!r} must be positive")
    return count / TIME_UNITS[unit]


def _leading_int(text: str | None) -> int | None:
    """The first number of a header that may be a list (``"100, 100;w=60"``)."""
    match = re.match(r"\s*(\d+)", text) if text is not None else None
    return int(match.group(1)) if match else None


def _policy(text: str | None) -> tuple[int | None, float | None]:
    """Quota and window of the first policy in ``600;w=60`` or ``"default";q=600;w=60``."""
    items = (text or "").split(",", 1)[0].split(";")
    quota = _leading_int(items[0]) if items[0].strip().isdigit() else None
    window: float | None = None
    for item in items[1:]:
        key, _, value = (part.strip() for part in item.partition("="))
        try:
            if key.lower() == "q":
                quota = int(value)
            elif key.lower() == "w":
                window = float(value)
        except ValueError:
            continue
    if window is not None and not (math.isfinite(window) and window > 0):
        window = None
    return quota, window


@dataclasses.dataclass(frozen=True, slots=True)
class Observation:
    """What one answer said about the rate limit; a field is None where it said nothing.

    ``limit`` and ``remaining`` are requests; ``reset`` (when the budget returns) and
    ``retry_after`` (a 429's requested wait) are seconds from the answer's arrival; ``window`` is
    the window ``RateLimit-Policy`` states. ``coarse``: the times were stated in whole seconds, so
    the truth may lie up to a second earlier.
    """

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None
    retry_after: float | None = None
    window: float | None = None
    coarse: bool = True

    @classmethod
    def from_headers(cls, headers: Mapping[str, str], unix_now: float) -> Observation:
        """Read ``X-RateLimit-*``, the IETF ``RateLimit-*`` and ``RateLimit-Policy``, ``Retry-After``
        (seconds or HTTP-date) and ``retry-after-ms``; ``unix_now`` is the wall time of the answer."""
        quota, window = _policy(get_header(headers, "ratelimit-policy"))
        limit_header = get_header(headers, "ratelimit-limit")
        limit = _leading_int(get_header(headers, "x-ratelimit-limit"))
        if limit is None:
            limit = _leading_int(limit_header) or quota
        remaining = _leading_int(get_header(headers, "x-ratelimit-remaining"))
        if remaining is None:
            remaining = _leading_int(get_header(headers, "ratelimit-remaining"))
        return cls(
            limit=limit,
            remaining=remaining,
            reset=reset_delay(headers, unix_now),
            retry_after=retry_after_delay(headers, unix_now),
            window=window or _policy(limit_header)[1],
            coarse=get_header(headers, "retry-after-ms") is None,
        )

    @property
    def wait(self) -> float | None:
        """The shortest wait the answer states (its Retry-After or its reset), if any."""
        stated = [w for w in (self.retry_after, self.reset) if w is not None]
        return min(stated) if stated else None
