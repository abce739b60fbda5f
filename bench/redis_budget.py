"""Benchmark 6: four processes, one token — a budget shared through Redis vs a budget each.

The sandbox throttles at 20 requests per second (1 s windows, 50 ms latency) in each mode; four
worker processes (``bench/budget_worker.py``) fetch the same invoices between them, four at a
time each, once with a ``RedisStore`` on a local ``redis-server`` and once with local limiters.
Reported per mode: total time against the bound (requests ÷ allowed rate) and 429s, for both.
Then the cost the store adds to one request: ``acquire`` + ``observe`` in one process, in-process
gate vs the Redis gate (µs per request, loopback Redis).

Bars (the issue's): shared — time ≤ bound ÷ 0.9 (throughput ≥ 0.9× the allowed rate), ≤ 3 × 429
where the server sends rate-limit headers, and no call giving up on 429s (with a budget each, four
processes overrun the server and some calls do: reported, not a failure of the run).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any

from .budget_worker import run_workers
from .common import Figure, Result
from .redis_server import RedisServer

RATE = "20/s"
PER_SECOND = 20.0
WORKERS = 4
CONCURRENCY = 4
THROUGHPUT_BAR = 0.9
MAX_429 = 3
MODES = [
    ("fixed", "laravel"),
    ("bucket", "ietf"),
    ("sliding", "laravel"),
    ("sliding", "ietf"),
    ("fixed", "none"),
]


async def _run_mode(throttle: str, headers: str, calls: int, redis_url: str | None) -> tuple[float, int, int]:
    """Time against the bound, the server's 429s, and the calls that failed (each failure must be
    the SDK giving up on a 429, not work lost: every other id was fetched exactly once)."""
    from kanbert_async.sandbox import Sandbox

    async with Sandbox(
        invoices=calls, seed=7, rate_limit=RATE, throttle=throttle, rate_limit_headers=headers, latency=0.05
    ) as sb:
        ids = [inv.id for inv in sb.store.invoices()]
        configs = [
            {
                "cells": [
                    {
                        "name": "cell",
                        "base_url": sb.base_url,
                        "token": sb.token,
                        "ids": ids[w::WORKERS],
                        "concurrency": CONCURRENCY,
                        "redis": redis_url,
                    }
                ]
            }
            for w in range(WORKERS)
        ]
        results, _ = await run_workers(configs)
        cells: list[dict[str, Any]] = [c for r in results for c in r["cells"]]
        errors = [e for c in cells for e in c["errors"]]
        if sum(len(c["done"]) for c in cells) + len(errors) != len(ids) or any(
            "RateLimitError" not in e for e in errors
        ):
            raise RuntimeError(f"{throttle}/{headers}: work lost or failed otherwise: {errors[:3]}")
        elapsed = max(c["finished"] for c in cells) - min(c["started"] for c in cells)
        return elapsed / (len(ids) / PER_SECOND), sb.counters.rate_limited, len(errors)


async def _per_request(redis_url: str, requests: int) -> tuple[float, float]:
    """µs per acquire + observe: the in-process gate, and the gate over Redis."""
    from kanbert_async import RedisStore
    from kanbert_async._core.auth import Secret
    from kanbert_async._core.ratelimit import Limiter, RateLimiter

    headers = {"X-RateLimit-Limit": "1000000000", "X-RateLimit-Remaining": "999999999"}
    store = RedisStore.from_url(redis_url)
    gates: list[Limiter] = [RateLimiter(), store.limiter("http://bench.invalid", Secret("bench-token"))]
    costs = []
    for gate in gates:
        started = time.perf_counter()
        for _ in range(requests):
            ticket = await gate.acquire()
            gate.observe(ticket, 200, headers)
        costs.append((time.perf_counter() - started) / requests * 1e6)
        await gate.aclose()
    await store.aclose()
    return costs[0], costs[1]


def run(quick: bool = False) -> Result:
    """Each mode shared then alone; then the per-request cost."""
    modes = MODES[:1] if quick else MODES
    calls = 120 if quick else 400
    figures: list[Figure] = []
    ratios: dict[str, float] = {}
    bars: dict[str, str] = {}
    met: dict[str, bool] = {}
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as scratch:
        redis = RedisServer(Path(scratch))
        redis.start()
        try:
            for throttle, headers in modes:
                mode = f"{throttle}/{headers}"
                for contender, url in (("shared through Redis", redis.url), ("a budget each", None)):
                    ratio, refused, failed = asyncio.run(_run_mode(throttle, headers, calls, url))
                    figures.append(Figure(f"{mode}, {contender}: time / bound", [ratio], unit="×"))
                    figures.append(Figure(f"{mode}, {contender}: 429s", [float(refused)], unit="429s"))
                    figures.append(
                        Figure(f"{mode}, {contender}: calls that gave up", [float(failed)], unit="calls")
                    )
                    if url is not None:
                        ratios[f"{mode} shared: calls that gave up"] = failed
                        bars[f"{mode} shared: calls that gave up"] = "= 0"
                        met[f"{mode} shared: calls that gave up"] = failed == 0
                        ratios[f"{mode} shared: time / bound"] = ratio
                        bars[f"{mode} shared: time / bound"] = f"≤ {1 / THROUGHPUT_BAR:.2f}×"
                        met[f"{mode} shared: time / bound"] = ratio <= 1 / THROUGHPUT_BAR
                        if headers != "none":
                            ratios[f"{mode} shared: 429s"] = refused
                            bars[f"{mode} shared: 429s"] = f"≤ {MAX_429}"
                            met[f"{mode} shared: 429s"] = refused <= MAX_429
            local, shared = asyncio.run(_per_request(redis.url, 500 if quick else 5000))
        finally:
            with contextlib.suppress(Exception):
                redis.kill()
    figures.append(Figure("acquire + observe, in-process gate", [local / 1e6]))
    figures.append(Figure("acquire + observe, Redis gate (loopback)", [shared / 1e6]))
    ratios["Redis adds per request (µs)"] = shared - local
    bars["Redis adds per request (µs)"] = "reported"
    met["Redis adds per request (µs)"] = True
    return Result(
        title="6. One token, four processes: a budget shared through Redis",
        figures=figures,
        ratios=ratios,
        bars=bars,
        met=met,
        setup={
            "workload": f"{calls} GETs per mode by {WORKERS} processes × {CONCURRENCY} at a time; "
            f"sandbox {RATE} in 1 s windows, 50 ms latency; redis-server on loopback",
            "per request": "sequential acquire + observe in one process, budget never spent",
        },
    )
