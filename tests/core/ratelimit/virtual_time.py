"""Run asyncio code on a virtual clock: sleeping costs no real time, so a minute of rate-limit
windows takes milliseconds and every run is the same.

The loop's clock jumps to the next timer whenever nothing is ready, instead of waiting for it.
``time.time`` and ``time.monotonic`` follow the same clock while it runs, so the code under test,
the sandbox's throttle and the headers it writes all agree on what time it is. CPU work takes no
virtual time at all: a run measures waiting, which is what a rate limiter decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import selectors
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

T = TypeVar("T")

#: Virtual unix time at the start of a run (a fraction of a second past a whole one, as real
#: clocks are: whole-second rounding must not line up by accident).
EPOCH = 1_780_000_000.37


class VirtualClock:
    """Seconds since the run began, advanced only by the loop."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return EPOCH + self.now


class _FastForwardSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self._clock = clock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            # Nothing scheduled: only real I/O (a thread's result) can wake us.
            return super().select(None)
        self._clock.now += timeout
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose ``time()`` is a :class:`VirtualClock`."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(_FastForwardSelector(clock))
        self.clock = clock

    def time(self) -> float:
        return self.clock.now


@contextlib.contextmanager
def _clock_patched(clock: VirtualClock) -> Iterator[None]:
    saved = time.time, time.monotonic
    time.time, time.monotonic = clock.wall, clock.monotonic  # type: ignore[assignment]
    try:
        yield
    finally:
        time.time, time.monotonic = saved  # type: ignore[assignment]


def run_virtual(main: Callable[[], Awaitable[T]]) -> T:
    """Run ``main()`` to completion on a fresh virtual-time loop, with the time module following it."""
    clock = VirtualClock()
    with _clock_patched(clock), asyncio.Runner(loop_factory=lambda: VirtualTimeLoop(clock)) as runner:
        return runner.run(main())  # type: ignore[arg-type]
