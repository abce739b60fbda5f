"""What the limiter hands out and reports: a :class:`Ticket` per admission, and
:class:`RateLimitInfo`, the server's last word on the budget."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

__all__ = ["RateLimitInfo", "Ticket"]


class Ticket(NamedTuple):
    """One admission: its number in admission order and when it was let go (the state's timebase).
    Hand it back with the answer, or without one."""

    number: int
    sent_at: float


@dataclasses.dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """What the server last said about our rate limit (``kb.rate_limit``).

    ``limit`` requests per window, ``remaining`` in the current window, and ``reset`` — the unix
    time the budget returns, when known. Each field is None until a response reports it.
    """

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None
