"""A gate per server bucket: each operation waits only on the budget it draws on.

Some servers keep several budgets per token and name the one each answer drew on (GitHub's
``X-RateLimit-Resource: search``, Discord's ``X-RateLimit-Bucket``, an IETF policy's name; see
:func:`~.observation.bucket_named`). One gate over all of them would mix their counts — a small
search budget would pace every listing, and its 429 would hold them all. So :class:`BucketRouter`:

- **Names nothing**: every operation goes through one gate, the token's budget, exactly as a server
  with one budget needs (no cost: nothing else happens until an answer names a bucket).
- **An answer names a bucket**: its operation (a *route*: method and path template) goes through
  that bucket's gate from then on — opened on first need from the store, a budget of its own, in
  process as in Redis. The answer itself counted in the named bucket, not in the gate that let its
  request go: that gate takes the request back as never sent, the named one learns the answer as
  its own (a 429's wait included, so the retry waits on the right gate).
- **An operation not yet heard from, on a server that names buckets**: its first request goes
  alone, and the rest of it wait for the answer, which says where they belong — a burst of a new
  operation must not meet a spent bucket it was not known to draw on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import NamedTuple

from .observation import bucket_named
from .records import RateLimitInfo
from .state import RateLimitState, Ticket
from .store import Limiter

__all__ = ["BucketRouter", "Pass"]


class Pass(NamedTuple):
    """A request let go: by which gate, with which ticket, for which route, when (the router's
    clock), and whether it is the first of its route to find out its bucket."""

    gate: Limiter
    ticket: Ticket
    route: str
    left_at: float
    scout: bool


class BucketRouter:
    """Routes each request to the gate of the server's bucket its operation draws on.

    ``open_gate(name)`` opens the gate over the budget of the bucket ``name`` (None: the token's
    budget, for every answer that names none). ``clock`` (monotonic seconds) is for tests.

    Example::

        router = BucketRouter(lambda bucket: store.limiter(url, token, bucket=bucket))
        admitted = await router.acquire("GET /search")
        router.observe(admitted, response.status, response.headers)
    """

    def __init__(
        self, open_gate: Callable[[str | None], Limiter], *, clock: Callable[[], float] | None = None
    ) -> None:
        self._open = open_gate
        self._clock = clock or time.monotonic
        self.default: Limiter = open_gate(None)
        self._named: dict[str, Limiter] = {}
        self._routes: dict[str, Limiter] = {}
        self._scouts: dict[str, asyncio.Future[None]] = {}
        self._last = self.default

    def __repr__(self) -> str:
        named = ", ".join(sorted(self._named)) or "none named"
        return f"<BucketRouter {self.default!r}; buckets: {named}>"

    @property
    def buckets(self) -> Mapping[str, Limiter]:
        """The gates of the buckets the server named so far, by name."""
        return dict(self._named)

    @property
    def state(self) -> RateLimitState:
        """The rules' state of the gate that heard the latest answer."""
        return self._last.state

    @property
    def info(self) -> RateLimitInfo:
        """The server's last word on limit, remaining and reset (of the bucket it last spoke of)."""
        return self._last.info

    def cooldown_remaining(self, route: str | None = None) -> float:
        """Seconds until the cooldown of ``route``'s bucket ends (default: the last one heard of)."""
        gate = self._last if route is None else self._routes.get(route, self.default)
        return gate.cooldown_remaining()

    async def acquire(self, route: str) -> Pass:
        """Wait until the gate of ``route``'s bucket lets a request go."""
        scout = False
        while self._named and route not in self._routes:
            first = self._scouts.get(route)
            if first is None:
                self._scouts[route] = asyncio.get_running_loop().create_future()
                scout = True
                break
            await asyncio.wait((first,))  # not cancelled with this waiter: others wait on it too
        try:
            while True:
                gate = self._routes.get(route, self.default)
                ticket = await gate.acquire()
                if self._routes.get(route, self.default) is gate:
                    break
                # An answer named the route's bucket while this request waited on another gate (the
                # token's, before any name was known): it goes by its own bucket's gate instead.
                gate.release(ticket, sent=False)
        except BaseException:
            if scout:
                self._scouted(route)
            raise
        return Pass(gate, ticket, route, self._clock(), scout)

    def observe(self, admitted: Pass, status: int, headers: Mapping[str, str]) -> None:
        """Learn from the answer to ``admitted``'s request, in the bucket the answer names."""
        gate = self._route(admitted, bucket_named(headers))
        if gate is admitted.gate:
            gate.observe(admitted.ticket, status, headers)
        else:
            admitted.gate.release(admitted.ticket, sent=False)  # it counted in another budget
            gate.adopt(status, headers, sent_ago=self._clock() - admitted.left_at)
        self._last = gate
        if admitted.scout:
            self._scouted(admitted.route)

    def release(self, admitted: Pass, *, sent: bool = True) -> None:
        """``admitted``'s request ended without an answer; ``sent=False``: it never left."""
        admitted.gate.release(admitted.ticket, sent=sent)
        if admitted.scout:
            self._scouted(admitted.route)  # the next request of the route finds out instead

    async def aclose(self) -> None:
        """Close every gate opened."""
        for gate in (self.default, *self._named.values()):
            await gate.aclose()

    def _route(self, admitted: Pass, name: str | None) -> Limiter:
        """The gate ``admitted``'s route draws on from now: the bucket ``name``'s (opened now if
        new), or — the answer names none — the one that let it go."""
        gate = admitted.gate
        if name is not None:
            if name not in self._named:
                self._named[name] = self._open(name)
            gate = self._named[name]
        self._routes[admitted.route] = gate
        return gate

    def _scouted(self, route: str) -> None:
        first = self._scouts.pop(route, None)
        if first is not None and not first.done():
            first.set_result(None)
