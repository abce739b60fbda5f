"""One worker process of a token shared by several: ``python -m bench.budget_worker``.

For the multi-process test (``tests/redis/test_processes.py``) and the ``redis_budget`` benchmark.
Reads one JSON line from stdin — ``{"cells": [{"name", "base_url", "token", "ids", "concurrency",
"redis"}]}`` — makes one ``KanbertClient`` per cell (with a ``RedisStore`` when ``redis`` is a URL,
else a budget of its own), prints ``ready``, waits for a line on stdin, then fetches every invoice
of its ``ids`` once per cell, all cells at once, and prints one JSON line: per cell the ids it got,
the errors it saw, when it started and finished (unix time), requests, 429s, store fallbacks, and
whether it shared the budget at the end. ``KANBERT_WORKER_LOG=1`` writes the SDK's warnings (retries,
store fallbacks) to stderr with unix timestamps, to see when 429s happened.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from kanbert_async import KanbertClient, KanbertError, RedisStore

ROOT = Path(__file__).resolve().parent.parent


async def _cell(cell: dict[str, Any], kb: KanbertClient, go: asyncio.Event) -> dict[str, Any]:
    ids: list[str] = list(cell["ids"])
    done: list[str] = []
    errors: list[str] = []
    await go.wait()
    started = time.time()

    async def worker() -> None:
        while ids:
            invoice = ids.pop()
            try:
                await kb.outgoing_invoices.get(invoice)
            except KanbertError as exc:
                errors.append(f"{invoice}: {type(exc).__name__}: {exc}")
            else:
                done.append(invoice)

    await asyncio.gather(*(worker() for _ in range(cell["concurrency"])))
    return {
        "name": cell["name"],
        "done": done,
        "errors": errors,
        "started": started,
        "finished": time.time(),
        "requests": kb.stats.requests,
        "rate_limited": kb.stats.rate_limited,
        "fallbacks": kb.stats.rate_limit_store_fallbacks,
        "sharing": getattr(kb._transport.limiter.default, "sharing", False),
    }


async def _main() -> dict[str, Any]:
    if os.environ.get("KANBERT_WORKER_LOG"):
        logging.basicConfig(format="%(created).3f %(message)s", level=logging.WARNING)
    config = json.loads(sys.stdin.readline())
    stores = {url: RedisStore.from_url(url) for url in {c["redis"] for c in config["cells"] if c["redis"]}}
    clients = [
        KanbertClient(
            cell["token"],
            base_url=cell["base_url"],
            rate_limit_store=stores[cell["redis"]] if cell["redis"] else None,
        )
        for cell in config["cells"]
    ]
    go = asyncio.Event()
    running = [
        asyncio.ensure_future(_cell(cell, kb, go)) for cell, kb in zip(config["cells"], clients, strict=True)
    ]
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    go.set()
    results = await asyncio.gather(*running)
    for kb in clients:
        await kb.aclose()
    for store in stores.values():
        await store.aclose()
    return {"cells": results}


async def run_workers(
    configs: list[dict[str, Any]], during: Callable[[], Awaitable[None]] | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Start one worker per config, let them all go at once (then run ``during``, e.g. an outage),
    and return their results and what each wrote to stderr."""
    root = ROOT
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.budget_worker",
            cwd=root,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in configs
    ]
    for proc, config in zip(procs, configs, strict=True):
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(config).encode() + b"\n")
        await proc.stdin.drain()
    for proc in procs:
        assert proc.stdout is not None
        line = await proc.stdout.readline()
        if line.strip() != b"ready":
            _, err = await proc.communicate()
            raise RuntimeError(f"a worker did not start: {err.decode(errors='replace')[-2000:]}")
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        await proc.stdin.drain()
    extra = asyncio.ensure_future(during()) if during is not None else None
    outputs = await asyncio.gather(*(proc.communicate() for proc in procs))
    if extra is not None:
        await extra
    results = []
    for (out, err), proc in zip(outputs, procs, strict=True):
        if proc.returncode != 0:
            raise RuntimeError(f"a worker failed: {err.decode(errors='replace')[-2000:]}")
        results.append(json.loads(out.decode().splitlines()[-1]))
    return results, [err.decode(errors="replace") for _, err in outputs]


def main() -> int:
    """Run the cells and print their figures as one JSON line."""
    print(json.dumps(asyncio.run(_main())), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
