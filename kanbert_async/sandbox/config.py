"""Everything a sandbox can be told: data size and shape, limits, auth and bad days.

One frozen dataclass, so a configuration can be printed, compared and replayed. Each field has a
CLI flag of the same name (``max_page_size`` → ``--max-page-size``, see :mod:`.cli`);
``rate_limit_buckets`` has a repeatable ``--rate-limit-bucket``, one bucket each.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, datetime
from typing import Literal

from .buckets import RateLimitBucket, check_buckets
from .ratelimit import (
    ALGORITHMS,
    HEADER_STYLES,
    RETRY_AFTER_FORMATS,
    Algorithm,
    HeaderStyle,
    RateLimit,
    RetryAfter,
)

__all__ = ["API_OPERATIONS", "DateSkew", "SandboxConfig"]

#: How ``date_of_invoice`` is spread: evenly over ``years`` years, crowded into the last months,
#: or all on one day (the anchor date) to test partitioned scans that cannot split a range.
DateSkew = Literal["spread", "recent", "one_day"]

#: The operations the sandbox serves, by the ids the API description gives them.
API_OPERATIONS = frozenset(
    {
        "outgoingInvoices.index",
        "outgoingInvoices.show",
        "outgoingInvoices.lineItems",
        "outgoingInvoices.createExternal",
        "outgoingInvoices.pdf",
        "outgoingInvoiceMasters.index",
        "outgoingInvoiceMasters.show",
    }
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SandboxConfig:
    """How a :class:`~kanbert_async.sandbox.Sandbox` behaves.

    Data (deterministic for equal values): ``invoices``, ``masters`` (None: one per 20 invoices),
    ``seed``, ``anchor_date`` (the latest invoice date), ``years`` (how far back dates go),
    ``date_skew``, ``null_fraction`` (share of nullable range fields left null),
    ``archived_fraction`` (share of records with ``deleted_at``), ``pdf_min_bytes`` (pad PDFs).

    Serving: ``host``, ``port`` (0 = any free port), ``default_page_size``, ``max_page_size``
    (a larger ``page[size]`` is refused with 422), ``integration_slug`` (the default ``origin``),
    ``token`` (the all-scopes bearer token; None = random), ``access_token_ttl`` (seconds an
    OAuth access token lives), ``revoke_on_refresh`` (a refresh also revokes the old access token,
    as Laravel Passport does), ``clock`` (the "now" for special filter values and uploads).

    Rate limit (see :mod:`.ratelimit`): ``rate_limit`` like ``"600/min"``, ``"50/s"`` or ``"100/10s"``
    (None = off), per token; ``throttle`` — ``fixed`` (Laravel's window from the first hit),
    ``bucket`` (a token bucket of ``burst`` tokens, default the limit) or ``sliding`` (a sliding
    log); ``rate_limit_headers`` — ``laravel``, ``ietf`` or ``none``; ``retry_after`` on a 429 —
    ``seconds``, ``date`` (an HTTP-date) or ``omit``. ``rate_limit_buckets``: extra budgets per token
    beside the main one (see :mod:`.buckets`), each a :class:`~.buckets.RateLimitBucket` (name,
    fnmatch glob over operation ids, rate), e.g. ``(RateLimitBucket("pdfs", "outgoingInvoices.pdf",
    "5/s"),)``: the first whose glob matches an operation counts and decides its requests alone,
    with the same ``throttle``, ``burst`` and header style; answers then name their bucket (the
    main one ``core``). Needs ``rate_limit``; () = one bucket, named nowhere.

    Bad days (drawn from ``random.Random(fault_seed)``; None = ``seed``): ``latency`` seconds plus
    up to ``jitter`` more per request; ``error_rate`` (500/502/503), ``drop_rate`` (close before
    answering), ``drop_mid_body_rate`` (send part of the body, then abort), ``slow_rate`` (sleep
    ``slow_seconds`` first), ``lost_upload_rate`` (create the invoice, then drop the connection).
    ``fault_operations`` limits random faults to these operation ids (None = every API operation).
    """

    invoices: int = 1000
    masters: int | None = None
    seed: int = 1
    anchor_date: date = date(2025, 6, 30)
    years: int = 3
    date_skew: DateSkew = "spread"
    null_fraction: float = 0.1
    archived_fraction: float = 0.05
    pdf_min_bytes: int = 0

    host: str = "127.0.0.1"
    port: int = 0
    default_page_size: int = 30
    max_page_size: int = 200
    integration_slug: str = "sandbox"
    token: str | None = None
    access_token_ttl: float = 3600.0
    revoke_on_refresh: bool = True
    clock: Callable[[], datetime] | None = None

    rate_limit: str | None = None
    throttle: Algorithm = "fixed"
    burst: int | None = None
    rate_limit_headers: HeaderStyle = "laravel"
    retry_after: RetryAfter = "seconds"
    rate_limit_buckets: tuple[RateLimitBucket, ...] = ()

    latency: float = 0.0
    jitter: float = 0.0
    error_rate: float = 0.0
    drop_rate: float = 0.0
    drop_mid_body_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 30.0
    lost_upload_rate: float = 0.0
    fault_seed: int | None = None
    fault_operations: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.invoices < 0:
            raise ValueError("invoices must be >= 0")
        if self.masters is not None and self.masters < 0:
            raise ValueError("masters must be >= 0")
        if self.default_page_size < 1 or self.max_page_size < 1:
            raise ValueError("default_page_size and max_page_size must be >= 1")
        if self.default_page_size > self.max_page_size:
            # A small maximum (for tests) lowers the default with it rather than refusing.
            object.__setattr__(self, "default_page_size", self.max_page_size)
        if self.date_skew not in ("spread", "recent", "one_day"):
            raise ValueError(f"date_skew must be spread, recent or one_day, not {self.date_skew!r}")
        if self.rate_limit is not None:
            RateLimit.parse(self.rate_limit)
        choices: dict[str, tuple[str, ...]] = {
            "throttle": ALGORITHMS,
            "rate_limit_headers": HEADER_STYLES,
            "retry_after": RETRY_AFTER_FORMATS,
        }
        for field, options in choices.items():
            if getattr(self, field) not in options:
                raise ValueError(f"{field} must be one of {', '.join(options)}, not {getattr(self, field)!r}")
        # A list (or plain triples, as after JSON) becomes a tuple of buckets: the config stays hashable.
        buckets = check_buckets(
            self.rate_limit_buckets, rate_limit=self.rate_limit, operations=API_OPERATIONS
        )
        object.__setattr__(self, "rate_limit_buckets", buckets)
        if self.burst is not None and self.burst < 1:
            raise ValueError("burst must be >= 1")
        if self.years < 1:
            raise ValueError("years must be >= 1")
        for name in (
            "null_fraction",
            "archived_fraction",
            "error_rate",
            "drop_rate",
            "drop_mid_body_rate",
            "slow_rate",
            "lost_upload_rate",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
        for name in ("latency", "jitter", "slow_seconds", "access_token_ttl"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.fault_operations is not None:
            ops = frozenset(self.fault_operations)
            unknown = ops - API_OPERATIONS - {"oauth.token"}
            if unknown:
                allowed = ", ".join(sorted(API_OPERATIONS | {"oauth.token"}))
                raise ValueError(f"unknown fault operations {sorted(unknown)}; allowed: {allowed}")
            object.__setattr__(self, "fault_operations", ops)

    @property
    def master_count(self) -> int:
        """How many master invoices to generate."""
        if self.masters is not None:
            return self.masters
        return max(5, self.invoices // 20) if self.invoices else 0
