"""A server throttled the way a Starlette/FastAPI app with slowapi is: a throttle we did not write.

The `limits` library decides (a fixed window opened by the first hit, a moving window — a sliding
log — or a sliding window counter, which weighs the window before by how much of it still
overlaps: a style the sandbox does not have). slowapi writes the answer's headers, with its own
quirks: ``X-RateLimit-Reset`` is a unix time with a fraction, one second later than `limits`
says; ``Retry-After`` (seconds, or an HTTP-date ending ``-0000``) comes with every answer, 200s
included; with headers off (slowapi's default) a 429 says nothing at all.

The headers are slowapi's own: its ``Limiter._inject_headers`` (private, so slowapi is pinned in
pyproject.toml) writes them on a Starlette response, as its exception handler and decorator do.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import limits
from slowapi import Limiter
from starlette.responses import Response

Strategy = Literal["fixed-window", "moving-window", "sliding-window-counter"]
STRATEGIES: list[Strategy] = ["fixed-window", "moving-window", "sliding-window-counter"]
#: slowapi's header settings: headers with Retry-After in seconds, as an HTTP-date, or no headers.
HEADERS: list[tuple[bool, str | None]] = [(True, None), (True, "http-date"), (False, None)]


@dataclasses.dataclass(frozen=True)
class SlowapiServer:
    """slowapi limiting every request of one token to ``rate`` (`limits`' notation, "10/second")."""

    rate: str = "10/second"
    strategy: Strategy = "fixed-window"
    headers: bool = True
    retry_after: str | None = None
    latency: float = 0.05

    @property
    def item(self) -> limits.RateLimitItem:
        return limits.parse(self.rate)

    @property
    def per_second(self) -> float:
        return self.item.amount / self.window

    @property
    def window(self) -> float:
        return float(self.item.get_expiry())

    @property
    def sends_headers(self) -> bool:
        return self.headers

    @property
    def says(self) -> str:
        """What its answers say: "seconds" or "http-date" (its Retry-After, with headers), or "none"."""
        return (self.retry_after or "seconds") if self.headers else "none"

    def answers(self) -> SlowapiAnswers:
        limiter = Limiter(
            key_func=lambda request: "token",
            headers_enabled=self.headers,
            strategy=self.strategy,
            retry_after=self.retry_after,
            storage_uri="memory://",
        )
        return SlowapiAnswers(limiter, self.item)

    def __str__(self) -> str:
        return f"slowapi {self.strategy} {self.rate} (headers: {self.says})"


@dataclasses.dataclass
class SlowapiAnswers:
    """One slowapi limiter's answers to the requests of one token."""

    limiter: Limiter
    item: limits.RateLimitItem

    def answer(self, wall: float) -> tuple[bool, dict[str, str]]:
        # `limits` reads the time itself (the virtual clock, in a cell): ``wall`` is that time.
        allowed = self.limiter.limiter.hit(self.item, "token")
        response = Response(status_code=200 if allowed else 429)
        response = self.limiter._inject_headers(response, (self.item, ["token"]))
        return allowed, dict(response.headers)
