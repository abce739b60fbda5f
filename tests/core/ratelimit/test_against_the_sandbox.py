"""The whole client (transport, retries, limiter) against the sandbox's throttles, in real time: a
cold burst of 40 calls per throttle and header style, two cells at a time (a few seconds; the
sandboxes share the clients' event loop, and more at once would measure its load, not the limiter)."""

from __future__ import annotations

import asyncio
import itertools

from kanbert_async import KanbertClient
from kanbert_async.sandbox import Sandbox
from kanbert_async.sandbox.ratelimit import ALGORITHMS, HEADER_STYLES, Algorithm, HeaderStyle

RATE = "20/s"
LATENCY = 0.05
CALLS = 40


async def _cold_burst(algorithm: Algorithm, headers: HeaderStyle) -> tuple[int, int, int]:
    async with Sandbox(
        invoices=20,
        seed=3,
        rate_limit=RATE,
        throttle=algorithm,
        rate_limit_headers=headers,
        latency=LATENCY,
    ) as sb:
        ids = [invoice.id for invoice in sb.store.invoices()]
        async with KanbertClient(sb.token, base_url=sb.base_url) as kb:
            got = await asyncio.gather(*(kb.outgoing_invoices.get(ids[n % len(ids)]) for n in range(CALLS)))
            return len(got), sb.counters.rate_limited, kb.stats.rate_limited


def _batches(
    cells: list[tuple[Algorithm, HeaderStyle]], size: int
) -> list[list[tuple[Algorithm, HeaderStyle]]]:
    return [cells[i : i + size] for i in range(0, len(cells), size)]


async def test_a_cold_burst_meets_few_429s_on_every_throttle_and_header_style() -> None:
    cells = list(itertools.product(ALGORITHMS, HEADER_STYLES))
    outcomes = []
    for batch in _batches(cells, 2):
        outcomes += await asyncio.gather(*(_cold_burst(a, h) for a, h in batch))
    for (algorithm, headers), (calls, refused, seen) in zip(cells, outcomes, strict=True):
        cell = f"{algorithm}/{headers}"
        assert calls == CALLS, cell
        assert seen == refused, f"{cell}: the client counts every 429 the server sent"
        assert refused <= (8 if headers == "none" else 3), f"{cell}: {refused} × 429"
