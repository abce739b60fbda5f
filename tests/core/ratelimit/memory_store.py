"""A shared store in memory, for the shared gate's tests: one dict, an atomic swap, the loop's clock.

It behaves as Redis does for :class:`~kanbert_async._core.ratelimit.shared_gate.SharedRateLimiter`
(compare-and-swap of a versioned value, the store's time with every answer), with a round trip of
``latency`` seconds, and it can be taken ``down`` (every call fails) and brought back, empty or not.
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
        self.reads = 0
        self.writes = 0

    def describe(self) -> str:
        return "memory://test"

    async def _trip(self) -> None:
        await asyncio.sleep(self.latency)
        if self.down:
            raise StoreUnavailable("ConnectionError: connection refused")

    async def read(self, key: str) -> tuple[Snapshot, float]:
        await self._trip()
        self.reads += 1
        return self.values.get(key, NOTHING), time.time() + self.skew

    async def swap(self, key: str, expected: str, version: str, data: bytes) -> tuple[Snapshot | None, float]:
        await self._trip()
        current = self.values.get(key, NOTHING)
        if current.version != expected:
            return current, time.time() + self.skew
        self.writes += 1
        self.values[key] = Snapshot(version, data)
        return None, time.time() + self.skew

    async def aclose(self) -> None:
        pass
