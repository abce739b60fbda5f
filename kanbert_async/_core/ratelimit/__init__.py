"""Client-side rate limiting that holds on any server.

- :mod:`.observation` — what one answer's headers say (``Observation``), and rates like ``600/min``;
- :mod:`.window` — what is known of the server beyond one answer: its window, a learned budget;
- :mod:`.state` — the pure decisions: may the next request go, and when (``RateLimitState``);
- :mod:`.gate` — the async gate the transport awaits (``RateLimiter``).
"""

from .gate import RateLimiter
from .observation import TIME_UNITS, Observation, parse_rate
from .state import RateLimitInfo, RateLimitState, Ticket

__all__ = [
    "TIME_UNITS",
    "Observation",
    "RateLimitInfo",
    "RateLimitState",
    "RateLimiter",
    "Ticket",
    "parse_rate",
]
