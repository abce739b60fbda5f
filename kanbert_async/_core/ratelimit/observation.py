"""What one answer says about the rate limit, read from its headers; and human rates like ``600/min``."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping

from ..retry import get_header, reset_delay, retry_after_delay

__all__ = ["TIME_UNITS", "Observation", "bucket_named", "parse_rate"]

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


def _members(text: str | None) -> list[tuple[str, dict[str, str]]]:
    """The members of a structured-field list like ``"burst";q=100;w=60, "day";q=1000``: each
    member's item (a name unquoted, or a number) and its parameters (keys lower-cased)."""
    members = []
    for member in (text or "").split(","):
        item, *params = member.split(";")
        pairs = (param.partition("=") for param in params)
        members.append((item.strip().strip('"'), {k.strip().lower(): v.strip() for k, _, v in pairs}))
    return members


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) and value >= 0 else None


def _policy(text: str | None, name: str | None = None) -> tuple[int | None, float | None]:
    """Quota and window of the policy ``name`` (default: the first) in ``600;w=60`` or
    ``"default";q=600;w=60``."""
    members = _members(text)
    item, params = next((m for m in members if m[0] == name), members[0])
    quota = _number(params.get("q"))
    if quota is None and item.isdigit():
        quota = float(item)
    window = _number(params.get("w"))
    return (None if quota is None else int(quota)), (window or None)


def _current(text: str | None) -> tuple[str, int, float | None] | None:
    """The tightest member of the IETF draft's ``RateLimit: "default";r=50;t=30`` (its policy's
    name, what remains, seconds until it is whole): the one with the least remaining."""
    found = [
        (name, int(r), _number(params.get("t")))
        for name, params in _members(text)
        if (r := _number(params.get("r"))) is not None
    ]
    return min(found, key=lambda member: member[1]) if found else None


def _name(item: str) -> str | None:
    return item if item and not item.replace(".", "").isdigit() else None


#: Headers that name the server's bucket an answer drew on: GitHub's, Discord's.
_BUCKET_HEADERS = ("x-ratelimit-resource", "x-ratelimit-bucket")


def bucket_named(headers: Mapping[str, str]) -> str | None:
    """The name the answer gives the budget it drew on, if any: ``X-RateLimit-Resource`` (GitHub),
    ``X-RateLimit-Bucket`` (Discord), or the IETF policy's name (``RateLimit: "search";r=9``,
    ``RateLimit-Policy: "search";q=10;w=60``). A server with several budgets per token names
    them so; None: the answer names none."""
    for header in _BUCKET_HEADERS:
        value = get_header(headers, header)
        if value is not None and value.strip():
            return value.strip()
    current = _current(get_header(headers, "ratelimit"))
    if current is not None:
        return _name(current[0])
    return _name(_members(get_header(headers, "ratelimit-policy"))[0][0])


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
        # The IETF draft's current form says all in one field (``RateLimit``), its earlier ones in three.
        current = _current(get_header(headers, "ratelimit"))
        quota, window = _policy(get_header(headers, "ratelimit-policy"), current and current[0])
        limit_header = get_header(headers, "ratelimit-limit")
        limit = _leading_int(get_header(headers, "x-ratelimit-limit"))
        if limit is None:
            limit = _leading_int(limit_header) or quota
        remaining = _leading_int(get_header(headers, "x-ratelimit-remaining"))
        if remaining is None:
            remaining = _leading_int(get_header(headers, "ratelimit-remaining"))
        reset = reset_delay(headers, unix_now)
        if current is not None:
            remaining = current[1] if remaining is None else remaining
            reset = current[2] if reset is None else reset
        return cls(
            limit=limit,
            remaining=remaining,
            reset=reset,
            retry_after=retry_after_delay(headers, unix_now),
            window=window or _policy(limit_header)[1],
            coarse=get_header(headers, "retry-after-ms") is None,
        )

    @property
    def wait(self) -> float | None:
        """The shortest wait the answer states (its Retry-After or its reset), if any."""
        stated = [w for w in (self.retry_after, self.reset) if w is not None]
        return min(stated) if stated else None
