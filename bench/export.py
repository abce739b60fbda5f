"""Benchmark 4: the bulk export — time against the rate-limit bound, and peak memory as data grows.

Time: ``run_export`` (invoices with line items, discounts, external costs, PDFs, ``format="both"``,
the export's default partitions and concurrency) of every invoice of a sandbox with a rate limit and
latency, vs the bound for the requests it needs: (listing pages + one PDF per invoice) ÷ rate.
Bar: within 1.2× of the bound.

Memory: peak RSS (VmHWM) of a fresh process running the export without PDFs and without a rate
limit (JSONL + CSV) of 10,000 vs 100,000 invoices; only the export process counts, not the sandbox.
Bar: ratio ≤ 1.2.

Every export runs in a fresh ``python -m bench.export_child`` process; its time is measured inside
it, around ``run_export``, so interpreter start-up and imports are not counted.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from kanbert_async import KanbertClient
from kanbert_async.export import ExportConfig, run_export

from .common import ROOT, Figure, Result, SandboxProcess, ensure_cache_dir, listed_count, profile

TIME_BAR = 1.2
MEMORY_BAR = 1.2
RATE = 100
LATENCY = 0.05
PAGE_SIZE = ExportConfig.page_size

EXPORT = "export with PDFs"
BOUND = "rate-limit bound ((pages + PDFs) ÷ rate)"


def _export(sandbox: SandboxProcess, out: Path, *, pdfs: bool, deadline: float | None) -> dict[str, Any]:
    """One export in a fresh process; its JSON report."""
    shutil.rmtree(out, ignore_errors=True)
    env = dict(os.environ, KANBERT_BASE_URL=sandbox.base_url, KANBERT_API_TOKEN=sandbox.token)
    args = [sys.executable, "-m", "bench.export_child", "--out", str(out), "--format", "both"]
    if pdfs:
        args.append("--pdfs")
    if deadline is not None:
        args += ["--deadline", str(deadline)]
    try:
        done = subprocess.run(args, env=env, cwd=ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"the export failed ({done.returncode}):\n{done.stderr[-3000:]}")
        report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return report
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _timing(quick: bool, cache: Path) -> tuple[Figure, Figure, dict[str, str], list[str], str]:
    invoices = 200 if quick else 1000
    rounds = 1 if quick else 3
    deadline = 10.0 if quick else 60.0
    listed, _ = listed_count(invoices, archived="with")  # the export takes archived invoices too
    needed = math.ceil(listed / PAGE_SIZE) + listed
    bound = needed / RATE
    figure = Figure(EXPORT)
    runs: list[str] = []
    with SandboxProcess(invoices=invoices, rate_limit=f"{RATE}/s", latency=LATENCY) as sandbox:
        # Warm-up: the sandbox sorts and caches on first use.
        sandbox.get("/outgoing-invoices?sort=date_of_invoice&page%5Bsize%5D=1")
        for _ in range(rounds):
            time.sleep(1.5)  # the server's one-second window runs out between runs
            report = _export(sandbox, cache / "export-pdfs", pdfs=True, deadline=deadline)
            if report["finished"]:
                assert report["counts"]["invoices"] == listed == report["counts"]["pdfs"], report["counts"]
                figure.samples.append(report["elapsed"])
            else:
                # Stopped at the deadline: project all requests at the pace it had.
                figure.samples.append(report["elapsed"] * needed / max(report["requests"], 1))
                figure.projected += 1
            pace = report["pace"]
            runs.append(
                f"{report['elapsed']:.1f} s{'' if report['finished'] else ' (stopped)'}, "
                f"{report['requests']} requests, {report['rate_limited']} 429s, {report['retries']} retries, "
                f"server's X-RateLimit-Limit {report['server_limit']}, client's measured window "
                + (f"{pace:g} s" if pace is not None else "unknown")
            )
        setup = {
            "time": f"{invoices} invoices ({listed} listed) → {math.ceil(listed / PAGE_SIZE)} pages + "
            f"{listed} PDFs = {needed} requests; bound {needed} ÷ {RATE}/s = {bound:.2f} s",
            "time sandbox": sandbox.command,
            "time runs": f"{rounds}, each a fresh process; ExportConfig(pdfs=True, format='both') with its "
            f"default partitions ({ExportConfig.partitions}), concurrency ({ExportConfig.concurrency}) "
            f"and includes; a run still going after {deadline:.0f} s is stopped and its time projected "
            "from its requests",
        }
        profiled = ""
        if figure.median / bound > TIME_BAR:
            profiled = profile(
                lambda: asyncio.run(_export_in_process(sandbox, cache / "export-profile", 15.0))
            )
    return figure, Figure(BOUND, [bound]), setup, [f"{EXPORT}: " + "; ".join(runs)], profiled


async def _export_in_process(sandbox: SandboxProcess, out: Path, deadline: float) -> None:
    shutil.rmtree(out, ignore_errors=True)
    config = ExportConfig(entity="outgoing-invoices", out=out, pdfs=True, format="both")
    try:
        async with KanbertClient(sandbox.token, base_url=sandbox.base_url) as kb, asyncio.timeout(deadline):
            await run_export(kb, config)
    except TimeoutError:
        pass
    finally:
        shutil.rmtree(out, ignore_errors=True)


def _memory(quick: bool, cache: Path) -> tuple[Figure, Figure, dict[str, str], list[str]]:
    small_n, large_n = (2000, 10_000) if quick else (10_000, 100_000)
    rounds = 1 if quick else 3
    small, large = (
        Figure(f"peak RSS, {small_n:,} invoices", unit="MiB"),
        Figure(f"peak RSS, {large_n:,} invoices", unit="MiB"),
    )
    elapsed: dict[str, list[float]] = {small.name: [], large.name: []}
    with SandboxProcess(invoices=small_n) as small_sb, SandboxProcess(invoices=large_n) as large_sb:
        # Warm-up: one export of the small set (discarded); a first page of the large one.
        _export(small_sb, cache / "export-warm", pdfs=False, deadline=None)
        large_sb.get("/outgoing-invoices?sort=date_of_invoice&include=line_items&page%5Bsize%5D=100")
        for _ in range(rounds):
            for figure, sandbox in ((small, small_sb), (large, large_sb)):
                report = _export(sandbox, cache / "export-memory", pdfs=False, deadline=None)
                figure.samples.append(report["peak_rss_mib"])
                elapsed[figure.name].append(report["elapsed"])
        setup = {
            "memory": f"{small_n:,} vs {large_n:,} invoices, no PDFs, no rate limit, no latency, "
            "format both (JSONL + 4 CSVs); peak RSS = VmHWM of the export process",
            "memory sandboxes": f"{small_sb.command}; {large_sb.command} — start-up "
            f"{small_sb.startup:.1f} s and {large_sb.startup:.1f} s",
            "memory runs": f"{rounds} per size, interleaved, after one discarded export of the small set",
        }
    notes = [
        f"{name}: export wall times " + ", ".join(f"{t:.1f} s" for t in times)
        for name, times in elapsed.items()
    ]
    return small, large, setup, notes


def _import_floor() -> float:
    """Peak RSS of a fresh process that only imports the export (the floor under both figures)."""
    code = "import kanbert_async.export, bench.common as c; print(c.peak_rss_mib())"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(done.stdout)


def run(quick: bool = False) -> Result:
    """The timed export with PDFs, then the memory comparison."""
    cache = ensure_cache_dir()
    export, bound, time_setup, time_notes, profiled = _timing(quick, cache)
    small, large, memory_setup, memory_notes = _memory(quick, cache)
    vs_bound = export.median / bound.median
    growth = large.median / small.median
    memory_key = f"peak RSS {large.name.split(', ')[1]} / {small.name.split(', ')[1]}"
    return Result(
        title="4. Bulk export",
        figures=[export, bound, small, large],
        ratios={"export / bound": vs_bound, memory_key: growth},
        bars={"export / bound": f"≤ {TIME_BAR}×", memory_key: f"≤ {MEMORY_BAR}×"},
        met={"export / bound": vs_bound <= TIME_BAR, memory_key: growth <= MEMORY_BAR},
        setup={**time_setup, **memory_setup},
        notes=[
            *time_notes,
            *memory_notes,
            f"floor: a fresh process that only imports kanbert_async.export peaks at "
            f"{_import_floor():.0f} MiB",
        ],
        profile=profiled,
    )
