"""The one async gate every request passes: it carries out :class:`~.state.RateLimitState`'s
decisions, owns the clock, and lets waiters go in the order they came."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Mapping

from .observation import Observation, parse_rate
from .state import RateLimitInfo, RateLimitState, Ticket

__all__ = ["RateLimiter"]


class RateLimiter:
    """``ticket = await limiter.acquire()`` before sending; then ``limiter.observe(ticket, status,
    headers)`` with the answer, or ``limiter.release(ticket)`` when none came.

    ``rate`` is a pace of our own in requests per second, or a string like ``"600/min"``; None
    (the default) lets the server's headers and 429s alone pace us. ``clock`` (monotonic seconds)
    and ``wall_clock`` (unix time) are looked up when the limiter is made, so a test can fake them;
    ``state`` is where to start from (default: nothing known, on the ``clock``'s timebase).

    Example::

        limiter = RateLimiter()
        ticket = await limiter.acquire()
        response = await send()
        limiter.observe(ticket, response.status, response.headers)
    """

    def __init__(
        self,
        rate: float | str | None = None,
        *,
        clock: Callable[[], float] | None = None,
        wall_clock: Callable[[], float] | None = None,
        state: RateLimitState | None = None,
    ) -> None:
        if state is None:
            state = RateLimitState(parse_rate(rate) if isinstance(rate, str) else rate)
        self._state = state
        self._clock = clock or time.monotonic
        self._wall_clock = wall_clock or time.time
        self._waiters: collections.deque[asyncio.Future[Ticket]] = collections.deque()
        self._timer: asyncio.TimerHandle | None = None

    @property
    def state(self) -> RateLimitState:
        """The pure state behind this gate (on the ``clock`` timebase)."""
        return self._state

    @property
    def info(self) -> RateLimitInfo:
        """The server's last word on limit, remaining and reset (unix time)."""
        return self._state.info

    def cooldown_remaining(self) -> float:
        """Seconds until the current cooldown ends (0.0 when there is none)."""
        return max(0.0, self._state.cooldown_until - self._clock())

    async def aclose(self) -> None:
        """Nothing to close: the state lives in this process."""

    async def acquire(self) -> Ticket:
        """Wait until this request may be sent; return its ticket."""
        if not self._waiters:
            admitted = self._state.admit(self._clock())
            if isinstance(admitted, Ticket):
                return admitted
        waiter: asyncio.Future[Ticket] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._pump()
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(waiter.result(), sent=False)  # admitted as we were cancelled: never used
            raise

    def observe(self, ticket: Ticket, status: int, headers: Mapping[str, str]) -> None:
        """Learn from the answer to ``ticket``'s request (any status, 429 included)."""
        unix_now = self._wall_clock()
        self._state.on_answer(
            ticket, status, Observation.from_headers(headers, unix_now), self._clock(), unix_now
        )
        self._pump()

    def adopt(self, status: int, headers: Mapping[str, str], *, sent_ago: float) -> None:
        """The answer to a request another gate let go ``sent_ago`` seconds ago, which the server
        counted in this gate's budget (it named this bucket): learned as if this gate had let it go."""
        self.observe(self._state.adopt(self._clock() - sent_ago), status, headers)

    def release(self, ticket: Ticket, *, sent: bool = True) -> None:
        """``ticket``'s request ended without an answer; ``sent=False``: it never left."""
        self._state.on_no_answer(ticket, self._clock(), sent=sent)
        self._pump()

    def _pump(self) -> None:
        """Let waiters go in order while the state admits them; else wake up when it says."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._waiters:
            if self._waiters[0].done():  # cancelled while waiting
                self._waiters.popleft()
                continue
            admitted = self._state.admit(self._clock())
            if isinstance(admitted, Ticket):
                self._waiters.popleft().set_result(admitted)
                continue
            if admitted is not None:
                loop = asyncio.get_running_loop()
                self._timer = loop.call_later(max(0.0, admitted - self._clock()), self._pump)
            return
