"""Client-side rate limiting that holds on any server.

- :mod:`.observation` — what one answer's headers say (``Observation``), and rates like ``600/min``;
- :mod:`.window` — what is known of the server beyond one answer: its window, a learned budget;
- :mod:`.state` — the pure decisions: may the next request go, and when (``RateLimitState``);
- :mod:`.gate` — the async gate over one budget (``RateLimiter``);
- :mod:`.buckets` — what the transport awaits: a gate per bucket of a server that names several;
- :mod:`.store` — where a budget lives (``RateLimitStore``: ``LocalStore`` in process), and
  :mod:`.redis_store` (``RedisStore``) with :mod:`.shared_gate` and :mod:`.shared_state` for a
  budget many processes share.
"""

from .buckets import BucketRouter, Pass
from .gate import RateLimiter
from .observation import TIME_UNITS, Observation, bucket_named, parse_rate
from .state import RateLimitInfo, RateLimitState, Ticket
from .store import Limiter, LocalStore, RateLimitStore, StoreMetrics, budget_key

__all__ = [
    "TIME_UNITS",
    "BucketRouter",
    "Limiter",
    "LocalStore",
    "Observation",
    "Pass",
    "RateLimitInfo",
    "RateLimitState",
    "RateLimitStore",
    "RateLimiter",
    "StoreMetrics",
    "Ticket",
    "bucket_named",
    "budget_key",
    "parse_rate",
]
