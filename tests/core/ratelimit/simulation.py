"""A throttled server and the client's gate, on a virtual clock: the limiter's conformance cells.

The server is one of the sandbox's throttles (:mod:`kanbert_async.sandbox.ratelimit`), or any other
:class:`ThrottledServer` (``slowapi_throttle``'s), behind a network delay; requests pass
:class:`~kanbert_async._core.ratelimit.RateLimiter` as the transport passes them (a 429 is retried
through the gate, which holds everyone until its wait is over).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from kanbert_async._core.ratelimit import Limiter, RateLimiter
from kanbert_async._core.ratelimit.shared_gate import SharedRateLimiter
from kanbert_async.sandbox.ratelimit import (
    Algorithm,
    HeaderStyle,
    RateLimit,
    RetryAfter,
    Throttle,
    limit_headers,
    make_throttle,
)

from .memory_store import MemoryBackend
from .virtual_time import run_virtual

#: Every way a server's answers speak of its limit: Laravel's headers, the IETF's, or none (a 429
#: with ``Retry-After`` in seconds, as a date, or nothing).
STYLES: list[tuple[HeaderStyle, RetryAfter]] = [
    ("laravel", "seconds"),
    ("ietf", "seconds"),
    ("none", "seconds"),
    ("none", "date"),
    ("none", "omit"),
]


class Answers(Protocol):
    """A server's throttle: whether one request passes, and the headers of its answer."""

    def answer(self, wall: float) -> tuple[bool, dict[str, str]]:
        """Count one request arriving at unix time ``wall``."""
        ...


class ThrottledServer(Protocol):
    """What a cell needs of a server: its pace, its window, its delay, and a fresh throttle."""

    @property
    def per_second(self) -> float: ...

    @property
    def window(self) -> float: ...

    @property
    def sends_headers(self) -> bool:
        """Whether its answers state the limit (the bars allow fewer 429s then)."""
        ...

    @property
    def latency(self) -> float: ...

    def answers(self) -> Answers:
        """A throttle of its own, with nothing counted yet."""
        ...


@dataclasses.dataclass(frozen=True)
class Server:
    """A throttled server: ``rate`` like ``"10/s"``, its algorithm, what its answers say, and
    ``latency`` seconds of round trip (half each way)."""

    rate: str = "10/s"
    algorithm: Algorithm = "fixed"
    headers: HeaderStyle = "laravel"
    retry_after: RetryAfter = "seconds"
    burst: int | None = None
    latency: float = 0.05

    @property
    def limit(self) -> RateLimit:
        return RateLimit.parse(self.rate)

    @property
    def per_second(self) -> float:
        return self.limit.limit / self.limit.window

    @property
    def window(self) -> float:
        return self.limit.window

    @property
    def sends_headers(self) -> bool:
        return self.headers != "none"

    def answers(self) -> Answers:
        return _SandboxAnswers(self, make_throttle(self.limit, self.algorithm, burst=self.burst))

    def __str__(self) -> str:
        return f"{self.algorithm}/{self.headers}/{self.retry_after} {self.rate}"


@dataclasses.dataclass
class _SandboxAnswers:
    server: Server
    throttle: Throttle

    def answer(self, wall: float) -> tuple[bool, dict[str, str]]:
        verdict = self.throttle.hit("token")
        server = self.server
        return verdict.allowed, limit_headers(verdict, server.headers, server.retry_after, wall=wall)


def allowed_seconds(server: ThrottledServer, requests: int) -> float:
    """The issue's bar for a scan or fan-out: 1.15x the rate-limit bound, plus one window."""
    return 1.15 * requests / server.per_second + server.window


@dataclasses.dataclass
class Answered:
    """One request the server counted (any client's): the virtual time, the unix time it read
    then, and its answer."""

    at: float
    wall: float
    passed: bool
    headers: dict[str, str]


@dataclasses.dataclass
class Run:
    """What happened: requests the server saw, 429s among them, and how long it all took; and
    every answer the server gave, in order (``python -m tests.core.ratelimit.trace`` prints them)."""

    requests: int = 0
    refused: int = 0
    elapsed: float = 0.0
    calls: int = 0
    answered: list[Answered] = dataclasses.field(default_factory=list)


class Wire:
    """The server end: one throttle shared by every client of the same token."""

    def __init__(self, server: ThrottledServer) -> None:
        self.server = server
        self.throttle = server.answers()
        self.run = Run()
        # When the measured work began, if not at the start (a workload that first lets time pass).
        self.started: float | None = None

    async def send(self, limiter: Limiter, *, max_retries: int = 20) -> None:
        """One call through ``limiter``, retried on 429 like the transport does."""
        half = self.server.latency / 2
        for _ in range(max_retries + 1):
            ticket = await limiter.acquire()
            await asyncio.sleep(half)
            allowed, headers = self._answer()
            self.run.requests += 1
            await asyncio.sleep(half)
            limiter.observe(ticket, 200 if allowed else 429, headers)
            if allowed:
                self.run.calls += 1
                return
            self.run.refused += 1
        raise RuntimeError("gave up after 429s")

    def _answer(self) -> tuple[bool, dict[str, str]]:
        """The throttle's answer to one request arriving now, written down."""
        wall = time.time()
        passed, headers = self.throttle.answer(wall)
        self.run.answered.append(Answered(time.monotonic(), wall, passed, headers))
        return passed, headers

    def spend_budget(self) -> None:
        """Another client of the same token uses up what the server allows right now."""
        while self._answer()[0]:
            pass

    async def walk_budget(self) -> None:
        """Another client of the same token walks pages one at a time until a 429 (or ten windows'
        worth): on a sliding log its requests then leave the window one by one, not all at once."""
        half = self.server.latency / 2
        for _ in range(round(10 * self.server.per_second)):
            await asyncio.sleep(half)
            allowed, _ = self._answer()
            await asyncio.sleep(half)
            if not allowed:
                return


Workload = Callable[[Wire], Awaitable[None]]


async def cold_burst(wire: Wire, calls: int = 40) -> None:
    """A fresh client, ``calls`` concurrent calls."""
    limiter = RateLimiter()
    await asyncio.gather(*(wire.send(limiter) for _ in range(calls)))


async def walkers(wire: Wire, calls: int = 150, concurrency: int = 8) -> None:
    """A partitioned scan's shape: ``concurrency`` chains of sequential calls."""
    limiter = RateLimiter()
    share = [calls // concurrency + (i < calls % concurrency) for i in range(concurrency)]

    async def chain(n: int) -> None:
        for _ in range(n):
            await wire.send(limiter)

    await asyncio.gather(*(chain(n) for n in share))


async def fan_out_after_spent(wire: Wire, calls: int = 100, concurrency: int = 16) -> None:
    """``kb.map`` over ``calls`` items at ``concurrency``, right after another client spent the budget."""
    wire.spend_budget()
    await _spread(wire, RateLimiter(), calls, concurrency)


async def fan_out_after_walked(wire: Wire, calls: int = 100, concurrency: int = 16) -> None:
    """The same ``kb.map``, right after another client walked pages until the server refused it (as
    ``bench/throttles.py``'s does); timed from when the walk ended."""
    await wire.walk_budget()
    wire.started = time.monotonic()
    await _spread(wire, RateLimiter(), calls, concurrency)


async def export_killed_and_resumed(wire: Wire, calls: int = 200, concurrency: int = 8) -> None:
    """An export's requests at ``concurrency``, killed halfway and resumed by a fresh process (a new
    client, knowing nothing) against the same server."""
    await _spread(wire, RateLimiter(), calls // 2, concurrency)
    await _spread(wire, RateLimiter(), calls - calls // 2, concurrency)


async def export_uninterrupted(wire: Wire, calls: int = 200, concurrency: int = 8) -> None:
    """The same export, not interrupted."""
    await _spread(wire, RateLimiter(), calls, concurrency)


async def processes(
    wire: Wire, calls: int = 200, processes: int = 4, concurrency: int = 4, *, shared: bool = True
) -> None:
    """``processes`` clients of one token (each ``concurrency`` chains of calls), sharing their
    budget through a store (``shared``) or each with a budget of its own."""
    backend = MemoryBackend()
    limiters: list[Limiter] = [
        SharedRateLimiter(backend, "budget") if shared else RateLimiter() for _ in range(processes)
    ]
    share = [calls // processes + (i < calls % processes) for i in range(processes)]
    await asyncio.gather(
        *(_spread(wire, lim, n, concurrency) for lim, n in zip(limiters, share, strict=True))
    )
    for limiter in limiters:
        await limiter.aclose()


async def _spread(wire: Wire, limiter: Limiter, calls: int, concurrency: int) -> None:
    queue = list(range(calls))

    async def worker() -> None:
        while queue:
            queue.pop()
            await wire.send(limiter)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def measure(server: ThrottledServer, workload: Workload) -> Run:
    """Run ``workload`` against ``server`` on a virtual clock."""

    async def main() -> Run:
        wire = Wire(server)
        started = time.monotonic()
        await workload(wire)
        wire.run.elapsed = time.monotonic() - (started if wire.started is None else wire.started)
        return wire.run

    return run_virtual(main)
