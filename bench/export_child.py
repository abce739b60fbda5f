"""One export in a fresh process, for benchmark 4: ``python -m bench.export_child --out DIR ...``.

Reads ``KANBERT_BASE_URL`` and ``KANBERT_API_TOKEN`` from the environment, runs ``run_export`` and
prints one JSON line: wall time, requests, 429s, counts, and this process's peak RSS (VmHWM). With
``--deadline`` an export still running after that many seconds is stopped and reported as such,
so a pathologically slow run cannot stall the suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from kanbert_async import KanbertClient
from kanbert_async.export import ExportConfig, run_export

from .common import peak_rss_mib


async def _export(args: argparse.Namespace) -> dict[str, Any]:
    config = ExportConfig(
        entity="outgoing-invoices",
        out=Path(args.out),
        pdfs=args.pdfs,
        format=args.format,
        partitions=args.partitions,
        concurrency=args.concurrency,
        page_size=args.page_size,
    )
    async with KanbertClient() as kb:
        started = time.perf_counter()
        outcome: dict[str, Any] = {"finished": True}
        try:
            async with asyncio.timeout(args.deadline):
                result = await run_export(kb, config)
            outcome["counts"] = result.counts
        except TimeoutError:
            outcome["finished"] = False
        outcome.update(
            elapsed=time.perf_counter() - started,
            requests=kb.stats.requests,
            rate_limited=kb.stats.rate_limited,
            retries=kb.stats.retries,
            # Diagnostics only: the window (seconds) the client's limiter had measured by the end.
            pace=kb._transport.limiter.state.window.seconds,
            server_limit=kb.rate_limit.limit,
        )
    return outcome


def main(argv: list[str] | None = None) -> int:
    """Run one export and print its figures as JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench.export_child")
    parser.add_argument("--out", required=True)
    parser.add_argument("--pdfs", action="store_true")
    parser.add_argument("--format", default="both", choices=("jsonl", "csv", "both"))
    parser.add_argument("--partitions", type=int, default=ExportConfig.partitions)
    parser.add_argument("--concurrency", type=int, default=ExportConfig.concurrency)
    parser.add_argument("--page-size", type=int, default=ExportConfig.page_size)
    parser.add_argument("--deadline", type=float, default=None)
    args = parser.parse_args(argv)
    outcome = asyncio.run(_export(args))
    outcome["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(outcome), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
