"""The gate over a budget that lives in a shared store (Redis), for many processes at once.

The same rules decide as in one process (:class:`~.state.RateLimitState`); the gate only carries
the state to and from the store:

- **One pump per gate** does every round trip. It takes the answers that came back and the
  requests waiting, lets the rules apply the answers and admit as many as they allow, and swaps the
  result in only if nobody wrote in between (the store's atomic compare-and-swap); else it does it
  again on what the store holds now. A ticket goes out only once a swap holds. The pump starts from
  the copy it wrote last, so a process alone on its store needs one round trip per step.
- **Time** is the store's clock: every round trip brings it, and the gate keeps its offset from
  its own monotonic clock (taken at the round trip's midpoint), so it sleeps locally for what the
  shared state says in the store's time.
- **Others' answers**: while requests wait, the gate looks at the store every :data:`POLL`
  seconds (not during a cooldown, which nothing shortens), since the answer that lets them go may
  reach another process.
- **The store fails** (unreachable, too slow, an error): one warning on the ``kanbert_async``
  logger, ``kb.stats.rate_limit_store_fallbacks`` counts it, and the gate goes on alone from the
  last state it saw — with only its own requests in flight, on the same clock — as a
  :class:`~.gate.RateLimiter`. It asks the store again every :data:`RETRY` seconds and shares
  again once it answers, under a new holder id (what the old one held ends in the store as lost,
  see :mod:`.shared_state`); a store that came back empty starts from what this gate learned alone.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import NamedTuple, Protocol, TypeVar

from .gate import RateLimiter
from .observation import Observation
from .shared_state import HEARTBEAT, SharedBudget, copy_rules, decode_budget, encode_budget
from .state import RateLimitInfo, RateLimitState, Ticket
from .store import StoreMetrics

__all__ = [
    "POLL",
    "RETRY",
    "STORE_TIMEOUT",
    "SharedBackend",
    "SharedRateLimiter",
    "Snapshot",
    "StoreUnavailable",
]

logger = logging.getLogger("kanbert_async")

T = TypeVar("T")

#: Seconds between looks at the store while requests wait for an answer another process may get.
POLL = 0.01
#: Seconds between attempts to reach a store that failed.
RETRY = 1.0
#: A store round trip that takes longer than this (seconds) counts as a failure.
STORE_TIMEOUT = 0.5
#: How much slower (seconds per second of age) the round trip the clock offset came from is
#: taken to be as it ages: a sample 5 s old counts as 5 ms slower than it was.
_OFFSET_AGEING = 0.001


class Snapshot(NamedTuple):
    """What a store holds under one key: a version ("" when nothing is stored) and the data."""

    version: str
    data: bytes | None


class StoreUnavailable(Exception):
    """The shared store did not answer, or failed; the message says how (never a secret)."""


class SharedBackend(Protocol):
    """One key's value with an atomic swap, and the store's clock (unix seconds) with every answer."""

    def describe(self) -> str:
        """Where the store is, for messages (no password)."""
        ...

    async def read(self, key: str) -> tuple[Snapshot, float]:
        """The current snapshot, and the store's time."""
        ...

    async def swap(self, key: str, expected: str, version: str, data: bytes) -> tuple[Snapshot | None, float]:
        """Store ``data`` as ``version`` if the version is still ``expected``: None then, else the
        snapshot that is there now; and the store's time."""
        ...

    async def aclose(self) -> None:
        """Close the connections."""
        ...


class _Answer(NamedTuple):
    """An answer (``seen`` set) or its absence, at ``at`` on the store's clock, not yet stored;
    ``adopted``: to a request another gate let go (at ``ticket.sent_at``)."""

    ticket: Ticket
    status: int
    seen: Observation | None
    at: float
    sent: bool
    adopted: bool = False

    def apply(self, budget: SharedBudget) -> None:
        if self.seen is None:
            budget.no_answer(self.ticket, self.at, sent=self.sent)
        elif self.adopted:
            budget.adopt(self.ticket.sent_at, self.status, self.seen, self.at)
        else:
            budget.answer(self.ticket, self.status, self.seen, self.at)


def _holder() -> str:
    return secrets.token_hex(6)


class SharedRateLimiter:
    """The :class:`~.store.Limiter` over ``key`` in ``backend``, shared with every process there.

    ``rate`` is a pace of this process's own (requests per second); ``metrics`` counts fallbacks.
    ``clock`` (monotonic seconds) and ``wall_clock`` (unix time) are for tests.
    """

    def __init__(
        self,
        backend: SharedBackend,
        key: str,
        *,
        rate: float | None = None,
        metrics: StoreMetrics | None = None,
        clock: Callable[[], float] | None = None,
        wall_clock: Callable[[], float] | None = None,
    ) -> None:
        self._backend, self._key, self._rate, self._metrics = backend, key, rate, metrics
        self._clock = clock or time.monotonic
        self._wall = wall_clock or time.time
        # Store time ≈ our clock + offset; until the store says, our own wall clock is the guess.
        self._offset = self._wall() - self._clock()
        self._offset_rtt, self._offset_taken = math.inf, -math.inf
        self._holder = _holder()
        self._snapshot: Snapshot | None = None
        self._view = SharedBudget(rules=RateLimitState(rate))
        self._waiters: collections.deque[asyncio.Future[Ticket | None]] = collections.deque()
        self._answers: list[_Answer] = []
        self._mine: set[Ticket] = set()
        self._local: RateLimiter | None = None
        self._alone = False
        self._retry_at = -math.inf
        self._wrote_at = -math.inf
        self._wake: asyncio.Event | None = None
        self._pump: asyncio.Task[None] | None = None
        self._closing = False

    def __repr__(self) -> str:
        mode = "alone (store unreachable)" if self._alone else "sharing"
        return f"<SharedRateLimiter {self._backend.describe()}, {mode}>"

    # -- what the transport reads ------------------------------------------------------------------
    @property
    def sharing(self) -> bool:
        """Whether the budget is shared right now (False while the store is unreachable)."""
        return not self._alone

    @property
    def state(self) -> RateLimitState:
        """The rules' state as last seen (the store's timebase)."""
        return self._local.state if self._alone and self._local is not None else self._view.rules

    @property
    def info(self) -> RateLimitInfo:
        """The server's last word on limit, remaining and reset (unix time)."""
        return self.state.info

    def cooldown_remaining(self) -> float:
        """Seconds until the current cooldown ends (0.0 when there is none)."""
        if self._alone and self._local is not None:
            return self._local.cooldown_remaining()
        return max(0.0, self._view.rules.cooldown_until - self._now())

    def _now(self) -> float:
        """The store's time, as our clock estimates it."""
        return self._clock() + self._offset

    # -- what the transport calls ------------------------------------------------------------------
    async def acquire(self) -> Ticket:
        """Wait until the shared budget (or, while the store is unreachable, our own) lets a request go."""
        while True:
            if self._alone and self._local is not None:
                self._start_pump()  # it asks the store again, and may have ended while the store was down
                return await self._local.acquire()
            waiter: asyncio.Future[Ticket | None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            self._kick()
            try:
                ticket = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled() and (granted := waiter.result()) is not None:
                    self.release(granted, sent=False)
                raise
            if ticket is not None:
                return ticket
            # None: the store failed while we waited; ask the gate that goes on alone.

    def observe(self, ticket: Ticket, status: int, headers: Mapping[str, str]) -> None:
        """The answer to ``ticket``'s request: stored with the next round trip, seen here at once."""
        if ticket not in self._mine:
            if self._local is not None:
                self._local.observe(ticket, status, headers)
            return
        seen = Observation.from_headers(headers, self._wall())
        self._record(_Answer(ticket, status, seen, self._now(), True))

    def release(self, ticket: Ticket, *, sent: bool = True) -> None:
        """``ticket``'s request ended without an answer; ``sent=False``: it never left."""
        if ticket not in self._mine:
            if self._local is not None:
                self._local.release(ticket, sent=sent)
            return
        self._record(_Answer(ticket, 0, None, self._now(), sent))

    def adopt(self, status: int, headers: Mapping[str, str], *, sent_ago: float) -> None:
        """The answer to a request another gate let go ``sent_ago`` seconds ago that counted here."""
        if self._alone and self._local is not None:
            self._local.adopt(status, headers, sent_ago=sent_ago)
            return
        seen = Observation.from_headers(headers, self._wall())
        now = self._now()
        self._record(_Answer(Ticket(0, now - sent_ago), status, seen, now, True, adopted=True))

    def _record(self, answer: _Answer) -> None:
        self._mine.discard(answer.ticket)
        answer.apply(self._view)  # so a 429's cooldown shows before the store has it
        self._answers.append(answer)
        self._kick()

    async def aclose(self) -> None:
        """Stop the pump, and store the answers it had not stored yet (if the store answers)."""
        pump, self._pump = self._pump, None
        if pump is not None:
            # Asked to stop between steps, not cancelled in the middle of one: a round trip that is
            # cancelled may be swallowed by the client library, and the pump would run on.
            self._closing = True
            assert self._wake is not None
            self._wake.set()
            done, _ = await asyncio.wait({pump}, timeout=2 * STORE_TIMEOUT)
            if not done:
                pump.cancel()
            self._closing = False
        if self._answers and not self._alone:
            with contextlib.suppress(Exception):
                await self._transact()

    # -- the pump --------------------------------------------------------------------------------
    def _start_pump(self) -> None:
        """Start the pump unless it is running (a new one takes its first step at once)."""
        if self._pump is None or self._pump.done():
            self._wake = asyncio.Event()
            self._pump = asyncio.get_running_loop().create_task(self._run())

    def _kick(self) -> None:
        self._start_pump()
        assert self._wake is not None
        self._wake.set()

    async def _run(self) -> None:
        wake = self._wake
        assert wake is not None
        while not self._closing:
            wake.clear()
            delay = await self._step()
            if delay is not None and delay <= 0:
                continue
            if self._closing:
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await wake.wait()

    async def _step(self) -> float | None:
        """One round of work; how long until the next is due (None: until something happens)."""
        if self._alone:
            if self._clock() < self._retry_at:
                return self._retry_at - self._clock()
            try:
                await self._rejoin()
            except Exception:
                self._retry_at = self._clock() + RETRY
                return RETRY
        try:
            return await self._transact()
        except Exception as exc:  # whatever went wrong with the store, work goes on without it
            self._go_alone(exc)
            return RETRY

    async def _call(self, call: Awaitable[tuple[T, float]]) -> T:
        """One round trip, bounded by :data:`STORE_TIMEOUT`; learns the store's clock from it."""
        sent = self._clock()
        try:
            async with asyncio.timeout(STORE_TIMEOUT):
                result, store_now = await call
        except TimeoutError:
            raise StoreUnavailable(f"no answer within {STORE_TIMEOUT:g}s") from None
        answered = self._clock()
        # The offset from the quickest recent round trip: a slow one (our loop was busy when the
        # answer came) has a late midpoint, and would make every instant we report early by half
        # the delay. A sample ages (the clocks drift apart), so a recent one replaces it in time.
        if answered - sent <= self._offset_rtt + (answered - self._offset_taken) * _OFFSET_AGEING:
            self._offset = store_now - (sent + answered) / 2
            self._offset_rtt, self._offset_taken = answered - sent, answered
        return result

    async def _transact(self) -> float | None:
        answers, self._answers = self._answers, []
        try:
            return await self._apply(answers)
        except BaseException:
            self._answers[:0] = answers  # kept for the next try
            raise

    async def _apply(self, answers: list[_Answer]) -> float | None:
        """Answers in, waiters out, on the budget as the store holds it; swapped in atomically."""
        snapshot, fresh = self._snapshot, False
        if snapshot is None:
            snapshot, fresh = await self._call(self._backend.read(self._key)), True
        while True:
            now = self._now()
            budget = decode_budget(snapshot.data)
            budget.rules.rate = self._rate
            gone = budget.hear(self._holder, now)
            for answer in answers:
                answer.apply(budget)
            wanted = sum(not waiter.done() for waiter in self._waiters)
            grants: list[Ticket] = []
            due: float | None = None
            while len(grants) < wanted:
                admitted = budget.admit(self._holder, now)
                if not isinstance(admitted, Ticket):
                    due = admitted
                    break
                grants.append(admitted)
            heartbeat = bool(self._mine) and self._clock() - self._wrote_at >= HEARTBEAT
            if not (answers or grants or gone or heartbeat):
                if not fresh:  # our copy may be old: decide again on what the store holds now
                    snapshot, fresh = await self._call(self._backend.read(self._key)), True
                    continue
                self._adopt(snapshot, budget)
                return self._next_step(due, now)
            data, version = encode_budget(budget), secrets.token_hex(8)
            current = await self._call(self._backend.swap(self._key, snapshot.version, version, data))
            if current is not None:
                snapshot, fresh = current, True  # someone wrote in between: again, on theirs
                continue
            self._wrote_at = self._clock()
            self._adopt(Snapshot(version, data), budget)
            self._grant(grants)
            return self._next_step(due, now)

    def _adopt(self, snapshot: Snapshot, budget: SharedBudget) -> None:
        self._snapshot, self._view = snapshot, budget
        for answer in self._answers:  # arrived during the round trip: still to be stored
            answer.apply(budget)

    def _grant(self, grants: list[Ticket]) -> None:
        for ticket in grants:
            self._mine.add(ticket)
            while self._waiters and self._waiters[0].done():
                self._waiters.popleft()
            if self._waiters:
                self._waiters.popleft().set_result(ticket)
            else:
                self.release(ticket, sent=False)  # its waiter was cancelled meanwhile

    def _next_step(self, due: float | None, now: float) -> float | None:
        delays = []
        if any(not waiter.done() for waiter in self._waiters):
            cooling = self._view.rules.cooldown_until
            if due is not None and due <= cooling:
                delays.append(due - now)  # a cooldown: nobody's answer ends it sooner
            else:
                delays.append(POLL if due is None else min(POLL, due - now))
        if self._mine:
            delays.append(HEARTBEAT - (self._clock() - self._wrote_at))
        if self._answers:
            delays.append(0.0)
        return min(delays, default=None)

    # -- without the store -----------------------------------------------------------------------------
    def _go_alone(self, error: Exception) -> None:
        """Go on with a budget of our own, from the shared state as last seen."""
        rules = copy_rules(self._view.rules)
        rules.rate = self._rate
        rules.in_flight = len(self._mine) + (self._local.state.in_flight if self._local else 0)
        self._local = RateLimiter(clock=self._now, wall_clock=self._wall, state=rules)
        self._alone, self._retry_at = True, self._clock() + RETRY
        self._mine.clear()
        self._answers.clear()
        self._snapshot, self._holder = None, _holder()
        if self._metrics is not None:
            self._metrics.rate_limit_store_fallbacks += 1
        logger.warning(
            "the shared rate-limit budget at %s is unavailable (%s): pacing this process alone "
            "until it answers again",
            self._backend.describe(),
            _reason(error),
        )
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)

    async def _rejoin(self) -> None:
        """The store answers again: share from now on (a store that lost the budget gets ours)."""
        assert self._local is not None
        snapshot = await self._call(self._backend.read(self._key))
        if snapshot.data is None:
            rules = copy_rules(self._local.state)
            rules.in_flight = 0  # ours still out stay with the local gate
            budget = SharedBudget(rules=rules)
            budget.hear(self._holder, self._now())
            data, version = encode_budget(budget), secrets.token_hex(8)
            current = await self._call(self._backend.swap(self._key, snapshot.version, version, data))
            snapshot = current or Snapshot(version, data)
        self._snapshot, self._view = snapshot, decode_budget(snapshot.data)
        self._alone = False
        logger.info("the shared rate-limit budget at %s answers again: sharing it", self._backend.describe())


def _reason(error: Exception) -> str:
    text = str(error)
    if isinstance(error, StoreUnavailable):
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
