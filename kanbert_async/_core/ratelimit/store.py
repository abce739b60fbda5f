"""Where a rate-limit budget lives: the interface, the in-process store, and how a budget is named.

A budget is what one API token may spend on one server. A :class:`RateLimitStore` hands each
client a :class:`Limiter` — the gate its transport awaits — over the budget of its token:

- :class:`LocalStore` keeps budgets in this process (the default: a client without a store has
  a budget of its own, exactly as before; clients given the same ``LocalStore`` share theirs);
- :class:`~.redis_store.RedisStore` keeps them in Redis, for every process and machine that uses
  the same token (see :mod:`.shared_gate`).

A budget is keyed by :func:`budget_key`, a one-way hash of the server and the token: the token
itself never leaves the client.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from .gate import RateLimiter
from .state import RateLimitInfo, RateLimitState, Ticket

if TYPE_CHECKING:  # auth imports errors, which imports this package
    from ..auth import Secret

__all__ = ["Limiter", "LocalStore", "RateLimitStore", "StoreMetrics", "budget_key"]

_KEY_DOMAIN = "kanbert-async rate-limit budget v1"


def budget_key(server: str, token: Secret | None, name: str | None = None, bucket: str | None = None) -> str:
    """The budget's name in a store: 32 hex digits of SHA-256 over the server's base URL and the
    token (or a ``name`` the caller gave the budget), and the server's ``bucket`` if it named one.
    One-way: it tells nothing about the token."""
    what = ("name", name) if name is not None else ("token", token.get() if token is not None else "")
    where = () if bucket is None else ("bucket", bucket)
    text = "\0".join((_KEY_DOMAIN, server.rstrip("/"), *what, *where))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@runtime_checkable
class Limiter(Protocol):
    """The gate the transport awaits before each request (:class:`~.gate.RateLimiter` in process)."""

    @property
    def state(self) -> RateLimitState:
        """The rules' state as this gate last saw it."""
        ...

    @property
    def info(self) -> RateLimitInfo:
        """The server's last word on limit, remaining and reset (unix time)."""
        ...

    def cooldown_remaining(self) -> float:
        """Seconds until the current cooldown ends (0.0 when there is none)."""
        ...

    async def acquire(self) -> Ticket:
        """Wait until a request may be sent; its ticket."""
        ...

    def observe(self, ticket: Ticket, status: int, headers: Mapping[str, str]) -> None:
        """The answer to ``ticket``'s request."""
        ...

    def release(self, ticket: Ticket, *, sent: bool = True) -> None:
        """``ticket``'s request ended without an answer; ``sent=False``: it never left."""
        ...

    def adopt(self, status: int, headers: Mapping[str, str], *, sent_ago: float) -> None:
        """The answer to a request another gate let go ``sent_ago`` seconds ago that counted here."""
        ...

    async def aclose(self) -> None:
        """Hand back what the gate holds (its last answers, its connection to a store)."""
        ...


class StoreMetrics(Protocol):
    """Where a shared store's gate counts what happened to it (``kb.stats``)."""

    rate_limit_store_fallbacks: int


class RateLimitStore(Protocol):
    """Where budgets live. ``limiter`` opens the gate a client uses for its token's budget."""

    def limiter(
        self,
        server: str,
        token: Secret | None,
        *,
        rate: float | None = None,
        metrics: StoreMetrics | None = None,
        bucket: str | None = None,
    ) -> Limiter:
        """The gate over the budget of ``token`` on ``server`` (a base URL) — of the server's
        ``bucket`` of that name, if it has several; ``rate`` is a pace of the caller's own (requests
        per second), ``metrics`` where to count store failures."""
        ...

    async def aclose(self) -> None:
        """Close what the store opened (connections); gates opened from it stop sharing."""
        ...


class LocalStore:
    """Budgets in this process: clients given the same ``LocalStore`` and token share one budget.

    Example::

        store = LocalStore()
        exports = KanbertClient(token, rate_limit_store=store)
        webhooks = KanbertClient(token, rate_limit_store=store)   # one budget for both
    """

    def __init__(self) -> None:
        self._limiters: dict[str, RateLimiter] = {}

    def __repr__(self) -> str:
        return f"<LocalStore: {len(self._limiters)} budget(s)>"

    def limiter(
        self,
        server: str,
        token: Secret | None,
        *,
        rate: float | None = None,
        metrics: StoreMetrics | None = None,
        bucket: str | None = None,
    ) -> RateLimiter:
        """The gate over this budget (of ``bucket``), made on first use (with ``rate``) and shared
        after that."""
        key = budget_key(server, token, bucket=bucket)
        limiter = self._limiters.get(key)
        if limiter is None:
            limiter = self._limiters[key] = RateLimiter(rate)
        return limiter

    async def aclose(self) -> None:
        """Nothing to close."""
