"""Client-side rate limiting: pacing learned from headers, and one shared cooldown after a 429.

Two layers, in the house style:

- :class:`RateLimitState` is a pure state machine. Every method takes ``now`` explicitly; it never
  sleeps or reads a clock. It schedules requests with GCRA (the "generic cell rate algorithm",
  a.k.a. "next free slot"): each reservation is given the next evenly spaced slot, in O(1). Each
  reservation also takes a ticket; an answer to ticket t saying "r remaining" caps the window at
  ticket t + r, so a reservation past the cap that would land in the same window waits for the next
  one — a client that does not know the window yet (Laravel never says it) meets no 429 either.
- :class:`RateLimiter` is the one async gate the transport awaits before each request. It owns
  the clock and the sleeping.

Timebase: ``RateLimitState`` works on a single timebase chosen by its caller — for
:class:`RateLimiter` that is its ``clock`` (``time.monotonic`` by default), so a wall-clock jump
never stalls or floods the schedule. Absolute wall-clock instants from headers
(``X-RateLimit-Reset`` is a unix time) are converted to that timebase with ``unix_now`` — the wall
time at the same instant as ``now``. :attr:`RateLimitInfo.reset` alone is reported as unix time,
because that is what a user can compare with ``time.time()``.
"""

from __future__ import annotations

import dataclasses
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import NamedTuple

import anyio

from .retry import get_header, reset_delay

__all__ = ["RateLimitInfo", "RateLimitState", "RateLimiter", "Ticket", "parse_rate"]

#: Laravel's default throttle window: only a guess after a 429 from a server that never showed its
#: window, and earned back over quiet time like any 429's slowdown.
GUESSED_WINDOW = 60.0
# Pace a little below the server's limit so clock drift and other clients don't tip us over.
_PACING_MARGIN = 0.95
# After a 429 the pace we had was evidently too fast for this server (or for our share of it).
_PENALTY_FACTOR = 0.8
# Repeated 429s shrink the pace geometrically; stop before it becomes uselessly slow.
_MIN_PENALTY = 0.05
# A 429 that says nothing about when to come back.
DEFAULT_COOLDOWN = 5.0
# The pace to adopt after a 429 when neither configuration nor headers ever gave one.
DEFAULT_FALLBACK_RATE = 1.0
#: After a 429 episode ends, the pace it cost doubles back every this many quiet seconds: one bad
#: minute must not slow an hours-long integration for good.
RECOVERY_DOUBLING = 120.0
#: A guessed pace (no rate configured, none learned from headers) that recovers past this many
#: requests per second is dropped: the client is unpaced again until the next 429.
_UNPACED_ABOVE = 1000.0
# "Remaining is low": below this share of the limit we start spreading what is left.
_LOW_REMAINING_FRACTION = 0.1
_LOW_REMAINING_ABSOLUTE = 5

#: Seconds per unit of a rate like ``600/min`` (shared with the sandbox's throttle).
TIME_UNITS = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hour": 3600.0,
}
_RATE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*([a-z]+?)s?\s*$", re.IGNORECASE)


def parse_rate(text: str) -> float:
    """Parse a human rate into requests per second: ``"600/min"`` → ``10.0``.

    Accepts ``N/s``, ``N/sec``, ``N/second``, ``N/m``, ``N/min``, ``N/minute``, ``N/h``, ``N/hr``,
    ``N/hour`` (plural units too). Raises ``ValueError`` for anything else.
    """
    match = _RATE_RE.match(text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in TIME_UNITS:
        raise ValueError(f"unreadable rate {text!r}; write it like '10/s', '600/min' or '5000/h'")
    count = float(match.group(1))
    if count <= 0:
        raise ValueError(f"rate {text!r} must be positive")
    return count / TIME_UNITS[unit]


class Ticket(NamedTuple):
    """One reservation: its place in reservation order, and the slot it was given (the instant it
    may go, on the limiter's timebase). Hand it back with the request's response."""

    number: int
    sent_at: float


@dataclasses.dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """What the server last said about our rate limit (``kb.rate_limit``).

    ``limit`` requests per window, ``remaining`` in the current window, and ``reset`` — the unix
    time the window resets, when known. Each field is None until a response reports it.
    """

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None


def _leading_int(text: str | None) -> int | None:
    """The first number of a header that may be a list (``"100, 100;w=60"``)."""
    if text is None:
        return None
    match = re.match(r"\s*(\d+)", text)
    return int(match.group(1)) if match else None


def _parse_policy(text: str | None) -> tuple[int | None, float | None]:
    """Quota and window from a simple ``RateLimit-Policy``: ``600;w=60`` or ``"default";q=600;w=60``."""
    if text is None:
        return None, None
    first = text.split(",", 1)[0]
    quota: int | None = None
    window: float | None = None
    for index, part in enumerate(p.strip() for p in first.split(";")):
        key, has_value, value = part.partition("=")
        key = key.strip().lower()
        try:
            if index == 0 and not has_value:
                # The item itself: a bare quota ("600") or a quoted policy name ("default").
                quota = int(key) if key.isdigit() else None
            elif key == "q":
                quota = int(value)
            elif key == "w":
                window = float(value)
        except ValueError:
            continue
    if window is not None and not (math.isfinite(window) and window > 0):
        window = None
    return quota, window


class RateLimitState:
    """Pure rate-limit bookkeeping: pacing, learning from headers, and the shared 429 cooldown.

    ``rate`` is the configured pace in requests per second (None = unlimited until the server
    tells us otherwise); ``burst`` is how many requests may go back to back before pacing applies.
    All times are on the caller's timebase (see the module docstring).

    Example::

        state = RateLimitState(rate=10.0)
        delays = [state.reserve(now=0.0) for _ in range(3)]   # [0.0, 0.1, 0.2]
    """

    def __init__(
        self, rate: float | None = None, *, burst: int = 1, fallback_rate: float = DEFAULT_FALLBACK_RATE
    ) -> None:
        if rate is not None and not (rate > 0 and math.isfinite(rate)):
            raise ValueError("rate must be a positive number of requests per second, or None")
        if burst < 1:
            raise ValueError("burst must be >= 1")
        if fallback_rate <= 0:
            raise ValueError("fallback_rate must be > 0")
        self._configured = rate
        self._learned: float | None = None
        # True while _learned is only the fallback guess a 429 without headers forced on us.
        self._guessed = False
        self._penalty = 1.0
        self._burst = burst
        self._fallback_rate = fallback_rate
        # Theoretical arrival time of the next request: the GCRA's whole state.
        self._tat = -math.inf
        self._cooldown_until: float | None = None
        # The cooldown a 429 started; further 429s before it ends belong to the same episode.
        self._episode_until = -math.inf
        # While remaining is low: the pace that spreads it over the rest of the window.
        self._window_rate: float | None = None
        self._window_end = -math.inf
        self._reset_at: float | None = None
        self._info = RateLimitInfo()
        # The server's quota and the length of its window. Servers rarely say the window (Laravel
        # sends only Limit/Remaining), so it is learned: from RateLimit-Policy, from the reset a
        # window's first response carries, or from the refills of Remaining (see _observe_window).
        self._quota: int | None = None
        self._window: float | None = None
        self._last_remaining: int | None = None
        self._boundary: float | None = None
        # True while the window is only the guess a spent budget forced on us (see _next_window).
        self._window_guessed = False
        # The window's budget, counted in tickets: every reservation takes the next ticket, and a
        # response to ticket t saying "r remaining" means tickets up to t + r still fit in its
        # window (the cap). Responses to tickets sent before the window opened say nothing of it.
        self._issued = 0
        self._cap: int | None = None
        self._window_ticket = 0
        # When the request that opened the window left (None: unknown, its answer is used instead).
        self._window_sent_at: float | None = None

    @property
    def info(self) -> RateLimitInfo:
        """The server's last word on limit, remaining and reset (unix time)."""
        return self._info

    @property
    def cooldown_until(self) -> float | None:
        """No request may go before this instant (caller's timebase); None if never cooled down."""
        return self._cooldown_until

    @property
    def issued(self) -> int:
        """The number of the last reservation (see :class:`Ticket`)."""
        return self._issued

    def _recovery(self, now: float) -> float:
        """How much of a 429's slowdown has been earned back: 1.0 during the episode, doubling
        every RECOVERY_DOUBLING quiet seconds after it."""
        quiet = now - self._episode_until
        return 1.0 if quiet <= 0 else 2.0 ** min(quiet / RECOVERY_DOUBLING, 64.0)

    def rate(self, now: float) -> float | None:
        """The pace in requests per second that applies at ``now`` (None = unlimited)."""
        recovery = self._recovery(now)
        learned = self._learned
        if learned is not None and self._guessed:
            learned *= recovery
            if learned > _UNPACED_ABOVE:
                learned = None
        bases = [r for r in (self._configured, learned) if r is not None]
        pace = min(bases) * min(1.0, self._penalty * recovery) if bases else None
        if self._window_rate is not None and now < self._window_end:
            pace = self._window_rate if pace is None else min(pace, self._window_rate)
        return pace

    def reserve(self, now: float) -> float:
        """Claim the next slot; return how long to wait before sending (0.0 = go now).

        Each call accounts for its reservation, so N concurrent callers get N staggered delays.
        A reservation beyond what the server's window still admits waits for the next window.
        """
        self._issued += 1
        start = now if self._cooldown_until is None else max(now, self._cooldown_until)
        if self._cap is not None and self._issued > self._cap:
            # Everything this window still admits is already on its way. A slot that falls in the
            # next window is fine; one that would land in this window waits for the next.
            reset = self._next_window(now)
            if reset is None:
                self._cap = None
            elif self._slot(start, self.rate(start)) < reset:
                self._cap = None
                self._extend_cooldown(reset)
                start = max(start, reset)
        pace = self.rate(start)
        send_at = self._slot(start, pace)
        if pace is not None:
            self._tat = max(self._tat, send_at) + 1.0 / pace
        return send_at - now

    def _slot(self, start: float, pace: float | None) -> float:
        """The next free slot at or after ``start`` at ``pace``, without claiming it."""
        if pace is None:
            return start
        return max(start, self._tat - (self._burst - 1) / pace)

    def on_response(
        self,
        headers: Mapping[str, str],
        now: float,
        *,
        unix_now: float | None = None,
        ticket: Ticket | None = None,
    ) -> None:
        """Learn from a response's rate-limit headers (any status).

        Reads ``X-RateLimit-Limit/Remaining/Reset`` and the IETF ``RateLimit-Limit/Remaining/Reset``
        and ``RateLimit-Policy``. ``unix_now`` is the wall time at ``now``; omit it when ``now``
        already is unix time. ``ticket`` is this request's reservation; with it, Remaining also caps
        how many requests may still go in this window.
        """
        unix = now if unix_now is None else unix_now
        limit = _leading_int(get_header(headers, "x-ratelimit-limit"))
        limit_header = get_header(headers, "ratelimit-limit")
        if limit is None:
            limit = _leading_int(limit_header)
        remaining = _leading_int(get_header(headers, "x-ratelimit-remaining"))
        if remaining is None:
            remaining = _leading_int(get_header(headers, "ratelimit-remaining"))
        quota, window = _parse_policy(get_header(headers, "ratelimit-policy"))
        if window is None and limit_header is not None:
            window = _parse_policy(limit_header)[1]
        delay = reset_delay(headers, unix)
        if limit is None and remaining is None and delay is None and quota is None:
            return

        quota = quota or limit
        if quota:
            self._quota = quota
        if window is not None:
            self._observe_window(window, exact=True)
        if remaining is not None and self._quota:
            if ticket is not None and ticket.number < self._window_ticket:
                # Sent before the current window opened: a late answer from an earlier one.
                remaining = None
            else:
                self._watch_refills(remaining, delay, now, ticket)
        if delay is not None:
            self._reset_at = self._sharpen(now + delay, now)
        elif self._reset_at is not None and self._reset_at <= now:
            self._reset_at = None
        self._info = RateLimitInfo(
            limit=limit if limit is not None else self._info.limit,
            remaining=remaining if remaining is not None else self._info.remaining,
            reset=None if self._reset_at is None else unix + (self._reset_at - now),
        )
        # A refusal's own cooldown is on_429's to set, from its Retry-After.
        refusal = get_header(headers, "retry-after") is not None
        if remaining is not None and not refusal:
            self._spread_remaining(remaining, self._quota, self._window, now)

    def _watch_refills(self, remaining: int, delay: float | None, now: float, ticket: Ticket | None) -> None:
        """Find the window's length from how Remaining behaves.

        A window's first response has Remaining = quota - 1; if it also says when the window
        resets, that delay is the window. Otherwise Remaining jumping back up marks a new window,
        and the time between two such refills is (at least) the window.
        """
        assert self._quota is not None
        first_of_window = remaining >= self._quota - 1
        rise = None if self._last_remaining is None else remaining - self._last_remaining
        refilled = rise is not None and (
            rise >= max(2, self._quota // 5)
            # A window that saw few requests refills by only a little; its successor's first hit
            # (quota - 1 left) still marks it, unless it is just a reordered response of this one.
            or (first_of_window and rise >= 2 and self._long_after_boundary(now))
        )
        if first_of_window and delay is not None:
            self._observe_window(delay)
        opened = refilled or (first_of_window and self._boundary is None)
        if opened:
            if refilled and self._boundary is not None:
                # A window restarts only with the first request after it ended, so two refills lie
                # a window plus a pause apart: the window is the whole seconds in it, rounded down
                # (a sequential loop's refills 1.07 s apart are a 1 s window, not 2).
                self._observe_window(float(max(1, math.floor(now - self._boundary + 0.05))))
                self._window_guessed = False
            self._boundary = now
            self._window_ticket = 0 if ticket is None else ticket.number
            self._window_sent_at = None if ticket is None else ticket.sent_at
        self._last_remaining = remaining
        if ticket is not None:
            cap = ticket.number + remaining
            self._cap = cap if opened or self._cap is None else min(self._cap, cap)

    def _long_after_boundary(self, now: float) -> bool:
        """Whether ``now`` lies too far after the last window's first response for a response of
        that same window to arrive this late (reordering spans a round trip, not half a window)."""
        if self._boundary is None:
            return True
        return now - self._boundary >= 0.5 * (self._window or 1.0)

    def _window_reset(self) -> float | None:
        """When the current window ends, from its first response and the window's length: no
        earlier than the server's reset, since that response came after the window's first hit."""
        if self._boundary is None or self._window is None:
            return None
        return self._boundary + self._window

    def _next_window(self, now: float) -> float | None:
        """When the window whose budget is spent ends, if anything says so: the server's reset, the
        window's end from its first response, or — the window still unknown — a guess: the first
        whole number of seconds after that response that still lies ahead (windows are counted in
        whole seconds; a 429 corrects a guess that is too short)."""
        if self._reset_at is not None and self._reset_at > now:
            return self._reset_at
        if self._boundary is None:
            return None
        if self._window is not None and not self._window_guessed:
            # A known window ends a window after its first request reached the server, which is
            # between when that request left and when its answer came back. Paced requests leave
            # in order and take about as long to arrive, so from when it left is the closer guess.
            opened = self._boundary if self._window_sent_at is None else self._window_sent_at
            reset = opened + self._window
            return reset if reset > now else None
        guess = float(max(1, math.floor(now - self._boundary) + 1))
        self._observe_window(guess, exact=True)
        self._window_guessed = True
        return self._boundary + guess

    def _sharpen(self, until: float, now: float) -> float:
        """A reset stated in whole seconds (rounded up) made exact by the window's own end, when
        the two agree."""
        reset = self._window_reset()
        if reset is not None and max(now, until - 1.0) < reset < until:
            return reset
        return until

    def _observe_window(self, seconds: float, *, exact: bool = False) -> None:
        """Adopt a window length: stated ones as they are, estimates in whole seconds (the unit
        rate limiters count in), keeping the shortest seen (an idle pause only lengthens one)."""
        if seconds <= 0:
            return
        window = seconds if exact else max(1.0, float(math.ceil(seconds - 0.05)))
        self._window = window if exact or self._window is None else min(self._window, window)
        if self._quota:
            self._learned = _PACING_MARGIN * self._quota / self._window
            self._guessed = False

    def _spread_remaining(self, remaining: int, quota: int | None, window: float | None, now: float) -> None:
        low = max(1.0, _LOW_REMAINING_FRACTION * quota) if quota else _LOW_REMAINING_ABSOLUTE
        if remaining > low:
            self._window_rate = None
            return
        if remaining == 0:
            # Nothing can succeed before the reset; without a known reset the next 429 will say.
            if self._reset_at is not None:
                self._extend_cooldown(self._reset_at)
            return
        # Only a known reset says how long the rest must last. Without one, assuming a whole window
        # is left would stall a client pacing just under the limit at the end of every window
        # (remaining is always low there); the pace learned from the window already fits.
        if self._reset_at is None:
            return
        end = self._reset_at
        if end > now:
            self._window_rate = remaining / (end - now)
            self._window_end = end

    def on_429(self, retry_after: float | None, now: float) -> None:
        """Start (or extend) the shared cooldown after a 429 and slow the pace down.

        Every reservation made afterwards waits until ``now + retry_after`` (or the known reset, or
        a few seconds). The first 429 of an episode lowers the pace by 20%; 429s that arrive
        while the cooldown runs are echoes of the same overload and change nothing more.
        """
        if retry_after is not None and math.isfinite(retry_after):
            wait = max(0.0, retry_after)
        elif self._reset_at is not None and self._reset_at > now:
            wait = self._reset_at - now
        else:
            wait = DEFAULT_COOLDOWN
        # A pace set on a guessed window was not evidence of anything: its 429 teaches, not punishes.
        was_pacing = self.rate(now) is not None and not self._window_guessed
        window_unknown = self._window is None or self._window_guessed
        if retry_after is not None and self._boundary is not None and window_unknown:
            # The window that began at the last refill ends when the server lets us go again. Its
            # Retry-After is rounded up to whole seconds, so the sum overshoots by half a second
            # on average; later refills correct whatever this first estimate gets wrong.
            self._observe_window(max(1.0, float(round(now + wait - self._boundary - 0.45))), exact=True)
            self._window_guessed = False
        if now >= self._episode_until and was_pacing:
            # Start from what the quiet time since the last episode has earned back. A client that
            # did not pace yet (window unknown) learned its pace from this 429 instead.
            self._penalty = max(_MIN_PENALTY, min(1.0, self._penalty * self._recovery(now)) * _PENALTY_FACTOR)
            if self._configured is None and (self._learned is None or self._guessed):
                guess = self.rate(now)
                self._learned = self._fallback_rate if guess is None else max(self._fallback_rate, guess)
                self._guessed = True
        elif not was_pacing and self.rate(now) is None:
            # Nothing learned from this 429 either: guess (the quota over Laravel's default minute,
            # or a slow fixed pace), and earn the guess back over quiet time.
            self._learned = (
                _PACING_MARGIN * self._quota / GUESSED_WINDOW if self._quota else self._fallback_rate
            )
            self._guessed = True
        # Retry-After counts whole seconds, rounded up: a window that ends 0.1 s from now still
        # says "1". The window's own end, when it agrees with that, is the sharper answer.
        stated = retry_after is not None or self._reset_at is not None
        until = self._sharpen(now + wait, now) if stated else now + wait
        self._episode_until = max(self._episode_until, until)
        self._extend_cooldown(until)

    def _extend_cooldown(self, until: float) -> None:
        if self._cooldown_until is None or until > self._cooldown_until:
            self._cooldown_until = until
        # The server's window is spent: after the cooldown, pace from an empty bucket, no burst.
        pace = self.rate(self._cooldown_until)
        if pace is not None:
            tolerance = (self._burst - 1) / pace
            self._tat = max(self._tat, self._cooldown_until + tolerance)


class RateLimiter:
    """The async gate every request passes: ``await limiter.acquire()`` before sending.

    ``rate`` is requests per second, or a string like ``"600/min"``; None means "unlimited until
    the server's headers say otherwise". After each response call :meth:`observe`; after a 429
    call :meth:`cooldown` once with the server's requested wait.

    Example::

        limiter = RateLimiter("600/min", burst=5)
        await limiter.acquire()
        response = await send()
        limiter.observe(response.headers)
    """

    def __init__(
        self,
        rate: float | str | None = None,
        *,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if isinstance(rate, str):
            rate = parse_rate(rate)
        self._state = RateLimitState(rate, burst=burst)
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep

    parse_rate = staticmethod(parse_rate)

    @property
    def state(self) -> RateLimitState:
        """The pure state behind this gate (on the ``clock`` timebase)."""
        return self._state

    @property
    def info(self) -> RateLimitInfo:
        """The server's last word on limit, remaining and reset (unix time)."""
        return self._state.info

    @property
    def cooldown_until(self) -> float | None:
        """End of the current (or last) cooldown on the ``clock`` timebase; None if there never was one."""
        return self._state.cooldown_until

    def cooldown_remaining(self) -> float:
        """Seconds until the current cooldown ends (0.0 when there is none)."""
        until = self._state.cooldown_until
        return 0.0 if until is None else max(0.0, until - self._clock())

    async def acquire(self) -> Ticket:
        """Wait until this request may be sent; return its ticket for :meth:`observe`.

        A cooldown that starts while we wait (another request got a 429) moves us behind it: a
        slot inside the cooldown is given up and a new one reserved.
        """
        # A task cancelled while it sleeps leaves its slot unused; that only costs a little
        # throughput, while giving slots back would reorder everyone queued behind it.
        while True:
            now = self._clock()
            delay = self._state.reserve(now)
            slot = now + delay
            ticket = Ticket(self._state.issued, slot)
            if delay > 0:
                await self._sleep(delay)
            cooldown_until = self._state.cooldown_until
            if cooldown_until is None or slot >= cooldown_until:
                return ticket

    def observe(self, headers: Mapping[str, str], ticket: Ticket | None = None) -> None:
        """Learn from a response's rate-limit headers; ``ticket`` is what :meth:`acquire` returned."""
        self._state.on_response(headers, self._clock(), unix_now=self._wall_clock(), ticket=ticket)

    def cooldown(self, retry_after: float | None) -> None:
        """Hold every request back for ``retry_after`` seconds (after a 429), then pace slower."""
        self._state.on_429(retry_after, self._clock())
