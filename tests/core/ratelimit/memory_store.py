"""A shared store in memory, for the shared gate's tests: one dict, an atomic swap, the loop's clock.

It behaves as Redis does for :class:`~kanbert_async._core.ratelimit.shared_gate.SharedRateLimiter`
(compare-and-swap of a versioned value, the store's time with every answer), with a round trip of
``latency`` seconds, and it can be taken ``down`` (every call fails) and brought back, empty or not.
``slow_answers`` seconds more pass between the store's answer and its reading (a busy client loop).
"""

from __future__ import annotations

import asyncio
import time

from kanbert_async._core.ratelimit.shared_gate import Snapshot, StoreUnavailable

NOTHING = Snapshot("", None)


class MemoryBackend:
    """Values by key; ``skew`` seconds added to the store's clock (a store on another machine)."""

    def __init__(self, *, latency: float = 0.0005, skew: float = 0.0) -> None:
        self.values: dict[str, Snapshot] = {}
        self.latency = latency
        self.skew = skew
        self.down = False
        self.slow_answers = 0.0
        self.reads = 0
        self.writes = 0

    def describe(self) -> str:
        return "memory://test"

    async def _trip(self) -> None:
        await asyncio.sleep(self.latency)
        if self.down:
            raise StoreUnavailable("ConnectionError: connection refused")

    async def _read_late(self) -> None:
        if self.slow_answers > 0:  # (no sleep(0) either: one loop step more changes every run)
            await asyncio.sleep(self.slow_answers)

    async def read(self, key: str) -> tuple[Snapshot, float]:
        await self._trip()
        self.reads += 1
        now = time.time() + self.skew
        await self._read_late()
        return self.values.get(key, NOTHING), now

    async def swap(self, key: str, expected: str, version: str, data: bytes) -> tuple[Snapshot | None, float]:
        await self._trip()
        now = time.time() + self.skew
        current: Snapshot | None = self.values.get(key, NOTHING)
        if current is not None and current.version == expected:
            self.writes += 1
            self.values[key] = Snapshot(version, data)
            current = None
        await self._read_late()
        return current, now

    async def aclose(self) -> None:
        pass
