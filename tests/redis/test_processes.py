"""Four worker processes, one token, one budget in Redis, against the sandbox throttling at 20/s in
each throttle mode (the long version: ``python -m bench redis_budget``).

Each cell is a test of its own: four processes (``bench/budget_worker.py``) against a sandbox of
its own — throughput ≥ 0.9× the allowed rate, few 429s in total (see ``MAX_429``), every invoice
fetched exactly once, no error. In one more cell Redis is killed two seconds in and back (empty)
two seconds later: the workers go on (more 429s allowed; no error, no work lost), those still
working share again, and the outage costs no more time than it lasted (alone, four processes each
spend what the server says is left, and lose windows to the 429s that follow).
The cells run one after another: run at once, five sandboxes in this process and the workers'
twenty clients overload two cores, and measure the machine more than the shared budget.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bench.budget_worker import run_workers
from kanbert_async._core.ratelimit.shared_gate import RETRY, STORE_TIMEOUT
from kanbert_async.sandbox import Sandbox

from .conftest import RedisServer

RATE = "20/s"
PER_SECOND = 20.0
WORKERS = 4
CONCURRENCY = 4
CELLS = {  # name: throttle, header style, calls
    "fixed/laravel": ("fixed", "laravel", 120),
    "bucket/ietf": ("bucket", "ietf", 120),
    "sliding/laravel": ("sliding", "laravel", 120),
    "fixed/none": ("fixed", "none", 120),
    "fixed/laravel, Redis killed": ("fixed", "laravel", 160),
}
OUTAGE = "fixed/laravel, Redis killed"
#: Seconds Redis is down in the outage cell.
OUTAGE_SECONDS = 2.0
#: The issue's bar. Measured one cell at a time on a 2-core machine: 1 (fixed/laravel: the one probe
#: a spent budget of unknown window costs by design — Laravel states no window), 0 (bucket/ietf),
#: 1 (sliding/laravel).
MAX_429 = 3
#: Beyond the issue (its cells all send headers): measured 11 without headers, where the budget is
#: learned from 429s; bar with a margin.
MAX_429_WITHOUT_HEADERS = 16


@pytest.mark.parametrize("name", list(CELLS))
async def test_four_processes_share_one_budget_through_redis(
    name: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    throttle, headers, calls = CELLS[name]
    outage = name == OUTAGE
    dying = RedisServer(tmp_path / "dying")
    if outage:
        (tmp_path / "dying").mkdir()
        dying.start()
    sandbox = Sandbox(
        invoices=calls, seed=1, rate_limit=RATE, throttle=throttle, rate_limit_headers=headers, latency=0.05
    )
    async with sandbox as sb:
        ids = [inv.id for inv in sb.store.invoices()]
        configs = [
            {
                "cells": [
                    {
                        "name": name,
                        "base_url": sb.base_url,
                        "token": sb.token,
                        "ids": ids[worker::WORKERS],
                        "concurrency": CONCURRENCY,
                        "redis": dying.url if outage else redis_server.url,
                    }
                ]
            }
            for worker in range(WORKERS)
        ]

        back_at = 0.0

        async def kill_and_restart_redis() -> None:
            nonlocal back_at
            await asyncio.sleep(2.0)
            dying.kill()
            await asyncio.sleep(OUTAGE_SECONDS)
            dying.start()
            back_at = time.time()

        try:
            results, stderr = await run_workers(configs, during=kill_and_restart_redis if outage else None)
        finally:
            dying.kill()
        refused = sb.counters.rate_limited

    cells: list[dict[str, Any]] = [c for r in results for c in r["cells"]]
    fetched = Counter(i for c in cells for i in c["done"])
    assert sorted(fetched) == sorted(ids) and set(fetched.values()) == {1}, "exactly once"
    assert [e for c in cells for e in c["errors"]] == []
    elapsed = max(c["finished"] for c in cells) - min(c["started"] for c in cells)
    bound = calls / PER_SECOND / 0.9 + (OUTAGE_SECONDS if outage else 0.0)
    assert elapsed <= bound, f"{calls / elapsed:.1f}/s: {elapsed:.1f}s, bound {bound:.1f}s"
    assert sum(c["rate_limited"] for c in cells) == refused, "every 429 seen"
    if outage:
        assert [c["fallbacks"] for c in cells] == [1] * WORKERS, "each worker fell back once"
        # A worker tries the store again a RETRY after it last failed; one whose share of the work
        # ran out before that has nothing to rejoin for.
        rejoined_by = back_at + RETRY + STORE_TIMEOUT
        still_working = [c for c in cells if c["finished"] > rejoined_by]
        assert still_working, "the outage ended before the work did"
        assert all(c["sharing"] for c in still_working), "and shares again"
    else:
        assert refused <= (MAX_429_WITHOUT_HEADERS if headers == "none" else MAX_429), f"{refused} × 429"
        assert all(c["fallbacks"] == 0 and c["sharing"] for c in cells)
    assert all("Traceback" not in err for err in stderr)
