"""Benchmark 6: the rate limiter against every throttle and header style, in real time (the full
cells of the conformance matrix; the fast cells run on a virtual clock in tests/core/ratelimit).

Each server is the sandbox in its own process — a fixed window (Laravel's, opened by the first
hit), a token bucket or a sliding log, stating its limit Laravel's way, the IETF way, or not at
all (a 429 with ``Retry-After`` in seconds, as an HTTP date, or nothing) — at 20 requests per 1 s
window (the export's at 25), 50 ms latency. Workloads, each from a fresh out-of-the-box client:

- cold burst: 40 concurrent ``get()`` calls;
- scan: a partitioned scan (8 parts) of 160+ pages;
- fan-out: ``kb.map(download_pdf, …, concurrency=16)`` over 100 invoices, started right after
  another client spent the window's budget;
- export resumed: ``kanbert-async export … --pdfs`` killed halfway (SIGKILL) and resumed with
  ``--resume``, against the same export uninterrupted.

Bars (issue 12): cold burst ≤ 3 × 429 with rate-limit headers, ≤ 8 without; scan and fan-out within
1.15× the bound (requests ÷ rate) plus one window, ≤ 3 × 429 with headers, ≤ 10 without, every
item exactly once; the resumed export within 1.2× the uninterrupted one plus one window.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from kanbert_async import KanbertClient

from .common import ROOT, Figure, Result, SandboxProcess, ensure_cache_dir, listed_count

RATE = 20
EXPORT_RATE = 25
LATENCY = 0.05
WINDOW = 1.0
SCAN_PAGE_SIZE = 10
#: (algorithm, header style, Retry-After format) of each server.
SERVERS = [
    (algorithm, headers, retry_after)
    for algorithm in ("fixed", "bucket", "sliding")
    for headers, retry_after in (
        ("laravel", "seconds"),
        ("ietf", "seconds"),
        ("none", "seconds"),
        ("none", "date"),
        ("none", "omit"),
    )
]
QUICK_SERVERS = [
    ("fixed", "laravel", "seconds"),
    ("bucket", "ietf", "seconds"),
    ("sliding", "none", "seconds"),
]


def _throttle_args(algorithm: str, headers: str, retry_after: str) -> tuple[str, ...]:
    return ("--throttle", algorithm, "--rate-limit-headers", headers, "--retry-after", retry_after)


def _rejected(sandbox: SandboxProcess) -> int:
    return int(sandbox.counters()["rate_limited"])


async def _cold_burst(sandbox: SandboxProcess, calls: int) -> tuple[float, int]:
    async with KanbertClient(sandbox.token, base_url=sandbox.base_url) as kb:
        first = await kb.outgoing_invoices.list(page_size=calls).first_page()
        ids = [invoice.id for invoice in first.items]
    await asyncio.sleep(2 * WINDOW)  # the listing above spent part of a window
    before = _rejected(sandbox)
    started = time.perf_counter()
    async with KanbertClient(sandbox.token, base_url=sandbox.base_url) as kb:
        got = await asyncio.gather(*(kb.outgoing_invoices.get(ids[n % len(ids)]) for n in range(calls)))
    elapsed = time.perf_counter() - started
    assert len(got) == calls
    return elapsed, _rejected(sandbox) - before


async def _scan(sandbox: SandboxProcess, listed: int) -> tuple[float, int, int]:
    before = _rejected(sandbox)
    started = time.perf_counter()
    async with KanbertClient(sandbox.token, base_url=sandbox.base_url) as kb:
        scan = kb.outgoing_invoices.list(page_size=SCAN_PAGE_SIZE).partitioned(by="date_of_invoice", parts=8)
        ids = [invoice.id async for invoice in scan]
        pages = scan.stats.pages
    elapsed = time.perf_counter() - started
    assert len(ids) == len(set(ids)) == listed, f"{len(ids)} items, {len(set(ids))} distinct, {listed} listed"
    return elapsed, _rejected(sandbox) - before, pages


async def _spend_the_budget(sandbox: SandboxProcess) -> None:
    """Another client of the same token: requests until the server refuses one."""
    headers = {"Authorization": f"Bearer {sandbox.token}", "Accept": "application/json"}
    async with aiohttp.ClientSession(headers=headers) as session:
        for _ in range(10 * RATE):
            async with session.get(f"{sandbox.base_url}/outgoing-invoices?page%5Bsize%5D=1") as response:
                await response.read()
                if response.status == 429:
                    return


async def _fan_out(sandbox: SandboxProcess, calls: int) -> tuple[float, int]:
    async with KanbertClient(sandbox.token, base_url=sandbox.base_url) as kb:
        invoices = (await kb.outgoing_invoices.list(page_size=calls).first_page()).items
    await asyncio.sleep(2 * WINDOW)
    await _spend_the_budget(sandbox)
    before = _rejected(sandbox)
    started = time.perf_counter()
    async with KanbertClient(sandbox.token, base_url=sandbox.base_url) as kb:
        results = await kb.map(
            lambda inv: kb.outgoing_invoices.download_pdf(inv.id).read(), invoices, concurrency=16
        )
    elapsed = time.perf_counter() - started
    assert len(results) == calls and all(r.ok and r.value for r in results), "every PDF exactly once"
    # The 429 that told the other client its budget was spent is not ours.
    return elapsed, _rejected(sandbox) - before


def _export_command(out: Path, *extra: str) -> list[str]:
    script = str(Path(sys.executable).parent / "kanbert-async")
    return [script, "export", "outgoing-invoices", "--out", str(out), "--pdfs", *extra]


def _export_env(sandbox: SandboxProcess) -> dict[str, str]:
    return dict(os.environ, KANBERT_BASE_URL=sandbox.base_url, KANBERT_API_TOKEN=sandbox.token)


def _export_whole(sandbox: SandboxProcess, out: Path) -> float:
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run(_export_command(out), env=_export_env(sandbox), cwd=ROOT, capture_output=True, check=True)
    return time.perf_counter() - started


def _export_killed_and_resumed(sandbox: SandboxProcess, out: Path, kill_after: float) -> float:
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    first = subprocess.Popen(_export_command(out), env=_export_env(sandbox), cwd=ROOT, **quiet)
    try:
        first.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        first.send_signal(signal.SIGKILL)
        first.wait()
    subprocess.run(_export_command(out, "--resume"), env=_export_env(sandbox), cwd=ROOT, capture_output=True,
                   check=True)  # fmt: skip
    return time.perf_counter() - started


def _cell(rows: dict[str, Figure], name: str, value: float, unit: str = "s") -> None:
    rows.setdefault(name, Figure(name, unit=unit)).samples.append(value)


def run(quick: bool = False) -> Result:
    """Every server × workload once (quick: one server per algorithm, smaller workloads)."""
    servers = QUICK_SERVERS if quick else SERVERS
    burst_calls, fan_calls = (20, 40) if quick else (40, 100)
    invoices = 400 if quick else 1700
    export_invoices = 60 if quick else 150
    listed, _ = listed_count(invoices)
    figures: dict[str, Figure] = {}
    ratios: dict[str, float] = {}
    bars: dict[str, str] = {}
    met: dict[str, bool] = {}
    notes: list[str] = []
    cache = ensure_cache_dir()

    def judge(key: str, value: float, bar: float, text: str) -> None:
        ratios[key], bars[key], met[key] = value, text, value <= bar + 1e-9

    for algorithm, headers, retry_after in servers:
        cell = f"{algorithm}/{headers}" + (f"/{retry_after}" if headers == "none" else "")
        throttle = _throttle_args(algorithm, headers, retry_after)
        most_429s = 8 if headers == "none" else 3
        long_429s = 10 if headers == "none" else 3
        extra = ("--pdf-bytes", "2000", *throttle)
        with SandboxProcess(
            invoices=invoices, rate_limit=f"{RATE}/s", latency=LATENCY, extra=extra
        ) as sandbox:
            elapsed, refused = asyncio.run(_cold_burst(sandbox, burst_calls))
            _cell(figures, f"cold burst, {cell}", elapsed)
            judge(f"429s cold burst, {cell}", refused, most_429s, f"≤ {most_429s}")
            time.sleep(2 * WINDOW)
            elapsed, refused, pages = asyncio.run(_scan(sandbox, listed))
            _cell(figures, f"scan, {cell}", elapsed)
            bound = pages / RATE
            judge(
                f"scan / bound, {cell}",
                elapsed / bound,
                1.15 + WINDOW / bound,
                f"≤ {1.15 + WINDOW / bound:.2f}×",
            )
            judge(f"429s scan, {cell}", refused, long_429s, f"≤ {long_429s}")
            time.sleep(2 * WINDOW)
            elapsed, refused = asyncio.run(_fan_out(sandbox, fan_calls))
            _cell(figures, f"fan-out, {cell}", elapsed)
            bound = fan_calls / RATE
            judge(f"fan-out / bound, {cell}", elapsed / bound, 1.15 + WINDOW / bound,
                  f"≤ {1.15 + WINDOW / bound:.2f}×")  # fmt: skip
            judge(f"429s fan-out, {cell}", refused, long_429s, f"≤ {long_429s}")
        export_extra = ("--pdf-bytes", "2000", *throttle)
        with SandboxProcess(invoices=export_invoices, rate_limit=f"{EXPORT_RATE}/s", latency=LATENCY,
                            extra=export_extra) as sandbox:  # fmt: skip
            whole = _export_whole(sandbox, cache / "throttle-export")
            time.sleep(2 * WINDOW)
            resumed = _export_killed_and_resumed(sandbox, cache / "throttle-export", kill_after=whole / 2)
            shutil.rmtree(cache / "throttle-export", ignore_errors=True)
            _cell(figures, f"export uninterrupted, {cell}", whole)
            _cell(figures, f"export killed and resumed, {cell}", resumed)
            judge(f"export resumed / uninterrupted, {cell}", resumed / whole, 1.2 + WINDOW / whole,
                  f"≤ {1.2 + WINDOW / whole:.2f}×")  # fmt: skip
        time.sleep(WINDOW)
    missed = [key for key, ok in met.items() if not ok]
    notes.append(
        f"{len(met) - len(missed)} of {len(met)} cells met their bar"
        + (f"; missed: {', '.join(missed)}" if missed else "")
    )
    setup = {
        "servers": f"python -m kanbert_async.sandbox --port 0 --invoices {invoices} --rate-limit {RATE}/s "
        f"--latency {LATENCY} --throttle T --rate-limit-headers H --retry-after R (export: {export_invoices} "
        f"invoices at {EXPORT_RATE}/s)",
        "cells": ", ".join(f"{a}/{h}/{r}" for a, h, r in servers),
        "workloads": "; ".join(
            [
                f"cold burst of {burst_calls} get()",
                f"partitioned scan (8 parts, page[size]={SCAN_PAGE_SIZE}) of {listed} invoices",
                f"kb.map over {fan_calls} PDFs at concurrency 16 after another client spent the budget",
                "export --pdfs killed (SIGKILL) at half its uninterrupted time, then --resume",
            ]
        ),
        "bound": "requests ÷ rate; a bar adds one window (1 s) to 1.15× of it "
        "(the export: to 1.2× its uninterrupted time)",
    }
    return Result(
        title="6. Rate limiting on every throttle and header style",
        figures=list(figures.values()),
        ratios=ratios,
        bars=bars,
        met=met,
        notes=notes,
        setup=setup,
    )
