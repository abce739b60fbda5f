"""Benchmark 2: request path overhead on loopback — pages per second walking a whole listing.

The sandbox runs in its own process (no latency, no rate limit). Three clients walk
``GET /outgoing-invoices?page[size]=100`` from the first page to the last, following
``meta.next_cursor``:

- kanbert-async: ``kb.outgoing_invoices.list(page_size=100).pages()`` (default prefetch: the next
  request leaves on the cursor read from the body's bytes, while the page is decoded);
- the floor: one ``aiohttp.ClientSession``, GET, ``await resp.read()``, a ``msgspec.json.Decoder``
  of the same page Struct;
- the common alternative: ``httpx.AsyncClient`` and ``Model.model_validate_json(resp.content)``
  with datamodel-code-generator's pydantic v2 models.

Each client lives in a worker process of its own (``python -m bench.request_path --worker NAME``)
that imports only what that client needs, opens its client once and walks on command; the
walks are interleaved across the workers. So no contender runs in a heap or import state shaped
by another (glibc's malloc, for one, tunes its thresholds to the sizes freed before).

Bars (issue 18): ≥ 0.98× the raw aiohttp loop; ≥ 3× httpx + pydantic.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import IO, TYPE_CHECKING, Any

from . import pydantic_models
from .common import ROOT, Figure, Result, SandboxProcess, interleave, profile

if TYPE_CHECKING:
    import aiohttp
    import httpx

    from kanbert_async import KanbertClient

RAW_BAR = 0.98
HTTPX_BAR = 3.0
PAGE_SIZE = 100

SDK = "kanbert-async pages()"
RAW = "raw aiohttp + msgspec loop"
HTTPX = "httpx + pydantic v2 loop"
WORKERS = {SDK: "sdk", RAW: "raw", HTTPX: "httpx"}


# -- the three clients ----------------------------------------------------------------------------
async def walk_sdk(kb: KanbertClient) -> tuple[int, int]:
    """kanbert-async, as the README shows it."""
    pages = items = 0
    async for page in kb.outgoing_invoices.list(page_size=PAGE_SIZE).pages():
        pages += 1
        items += len(page.items)
    return pages, items


async def walk_raw(session: aiohttp.ClientSession, base_url: str, decoder: Any) -> tuple[int, int]:
    """The floor: aiohttp and a msgspec decoder, nothing else."""
    url = f"{base_url}/outgoing-invoices"
    params = {"page[size]": str(PAGE_SIZE)}
    pages = items = 0
    while True:
        async with session.get(url, params=params) as resp:
            resp.raise_for_status()
            body = await resp.read()
        page = decoder.decode(body)
        pages += 1
        items += len(page.data)
        if page.meta.next_cursor is None:
            return pages, items
        params = {"page[size]": str(PAGE_SIZE), "page[cursor]": page.meta.next_cursor}


async def walk_httpx(client: httpx.AsyncClient, base_url: str, model: Any) -> tuple[int, int]:
    """The common alternative: httpx and pydantic v2 models generated from the same description."""
    url = f"{base_url}/outgoing-invoices"
    params = {"page[size]": str(PAGE_SIZE)}
    pages = items = 0
    while True:
        resp = await client.get(url, params=params)
        resp.raise_for_status()
        page = model.model_validate_json(resp.content)
        pages += 1
        items += len(page.data)
        if page.meta.next_cursor is None:
            return pages, items
        params = {"page[size]": str(PAGE_SIZE), "page[cursor]": page.meta.next_cursor}


# -- a worker: one client in a process of its own ------------------------------------------------
async def _open(kind: str, base_url: str, token: str) -> tuple[Callable[[], Awaitable[tuple[int, int]]], Any]:
    """The walk of one client kind, and the object to close afterwards."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if kind == "sdk":
        from kanbert_async import KanbertClient

        kb = KanbertClient(token, base_url=base_url)
        return (lambda: walk_sdk(kb)), kb.aclose
    if kind == "raw":
        import aiohttp
        import msgspec

        from kanbert_async._generated.models import OutgoingInvoiceDataCursorPaginatedCollection

        decoder = msgspec.json.Decoder(OutgoingInvoiceDataCursorPaginatedCollection)
        session = aiohttp.ClientSession(headers=headers)
        return (lambda: walk_raw(session, base_url, decoder)), session.close
    import httpx

    model = pydantic_models.load(generate=False).OutgoingInvoiceDataCursorPaginatedCollection
    client = httpx.AsyncClient(headers=headers)
    return (lambda: walk_httpx(client, base_url, model)), client.aclose


def _worker(kind: str) -> int:
    """Walk on each ``walk`` line of stdin and answer with one JSON line; ``profile`` answers with a
    cProfile summary of one walk; end of input closes the client."""
    base_url, token = os.environ["KANBERT_BASE_URL"], os.environ["KANBERT_API_TOKEN"]
    with asyncio.Runner() as runner:
        walk, close = runner.run(_open(kind, base_url, token))
        print(json.dumps({"ready": True}), flush=True)
        try:
            for command in sys.stdin:
                if command.strip() == "profile":
                    print(json.dumps({"profile": profile(lambda: runner.run(walk()))}), flush=True)
                    continue
                faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                cpu = time.process_time()
                start = time.perf_counter()
                pages, items = runner.run(walk())
                elapsed = time.perf_counter() - start
                report = {
                    "pages": pages,
                    "items": items,
                    "elapsed": elapsed,
                    "cpu": time.process_time() - cpu,
                    "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults,
                }
                print(json.dumps(report), flush=True)
        finally:
            runner.run(close())
    return 0


class _Worker:
    """The parent's handle on a worker process."""

    def __init__(self, kind: str, sandbox: SandboxProcess, extra_env: dict[str, str] | None = None) -> None:
        env = dict(os.environ, KANBERT_BASE_URL=sandbox.base_url, KANBERT_API_TOKEN=sandbox.token)
        env.update(extra_env or {})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.request_path", "--worker", kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        self._stdin: IO[str] = self.process.stdin  # type: ignore[assignment]
        self._stdout: IO[str] = self.process.stdout  # type: ignore[assignment]
        self._read()

    def _read(self) -> dict[str, Any]:
        line = self._stdout.readline()
        if not line:
            raise RuntimeError(f"the worker exited with code {self.process.wait()}")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def ask(self, command: str) -> dict[str, Any]:
        self._stdin.write(command + "\n")
        self._stdin.flush()
        return self._read()

    def close(self) -> None:
        self._stdin.close()
        self.process.wait(timeout=30)
        self._stdout.close()


def _walkers(
    workers: dict[str, _Worker], reports: dict[str, list[dict[str, Any]]]
) -> dict[str, Callable[[], float]]:
    """One timed walk per call for each worker (pages/s), its report kept in ``reports``."""

    def walker(name: str) -> Callable[[], float]:
        def walk() -> float:
            report = workers[name].ask("walk")
            reports[name].append(report)
            # Every client must walk the same listing (archived invoices are not listed by default).
            walked = {(r[-1]["pages"], r[-1]["items"]) for r in reports.values() if r}
            assert len(walked) == 1, f"the clients disagree on the listing: {walked}"
            return float(report["pages"] / report["elapsed"])

        return walk

    return {name: walker(name) for name in workers}


def run(quick: bool = False) -> Result:
    """Interleaved walks of the same listing, one worker process per client; pages per second."""
    invoices = 1000 if quick else 3000
    pydantic_models.load()  # generated once here; the httpx worker imports the result
    with SandboxProcess(invoices=invoices, seed=1) as sandbox:
        workers = {name: _Worker(kind, sandbox) for name, kind in WORKERS.items()}
        reports: dict[str, list[dict[str, Any]]] = {name: [] for name in workers}

        try:
            figures = interleave(_walkers(workers, reports), rounds=3 if quick else 15, warmup=2)
            profiled = "" if _met(figures) else workers[SDK].ask("profile")["profile"]
        finally:
            for worker in workers.values():
                worker.close()
        allocator = "" if _met(figures) else _untrimmed_heap(sandbox, rounds=3 if quick else 9)
    for figure in figures.values():
        figure.unit = "pages/s"
    pages, items = reports[SDK][-1]["pages"], reports[SDK][-1]["items"]
    measured = {name: runs[-len(figures[name].samples) :] for name, runs in reports.items()}
    sdk = figures[SDK].median
    vs_raw = sdk / figures[RAW].median
    vs_httpx = sdk / figures[HTTPX].median
    return Result(
        title="2. Request path on loopback",
        figures=list(figures.values()),
        ratios={"kanbert-async / raw aiohttp": vs_raw, "kanbert-async / httpx + pydantic": vs_httpx},
        bars={
            "kanbert-async / raw aiohttp": f"≥ {RAW_BAR}×",
            "kanbert-async / httpx + pydantic": f"≥ {HTTPX_BAR}×",
        },
        met={
            "kanbert-async / raw aiohttp": vs_raw >= RAW_BAR,
            "kanbert-async / httpx + pydantic": vs_httpx >= HTTPX_BAR,
        },
        setup={
            "listing": f"{invoices} invoices ({items} listed; archived ones are not), "
            f"page[size]={PAGE_SIZE} → {pages} pages per walk, no includes",
            "sandbox": sandbox.command + " (its own process; no latency, no rate limit)",
            "clients": "each in a worker process of its own, importing only what it needs; the client is "
            "opened once and reused (warm connection pool); walks interleaved across the workers",
            "samples": "pages ÷ wall time of one whole walk, timed inside the worker",
            "pipelining": "kanbert-async sends the next page's request on the cursor the body names "
            "(kanbert_async/_core/cursor_hint.py) and decodes the page while the server works; the raw "
            "loop decodes, then sends",
        },
        notes=[_diagnostics(name, runs) for name, runs in measured.items()] + [allocator] * bool(allocator),
        profile=profiled,
    )


#: glibc returns free memory at the top of the heap to the OS once it exceeds this (128 KiB by
#: default); a page body freed before the next is read can cross it, and every page then faults
#: its memory in afresh. Raising it shows how much of a gap is the allocator's.
_NO_TRIM = {"MALLOC_TRIM_THRESHOLD_": str(256 * 1024 * 1024)}


def _untrimmed_heap(sandbox: SandboxProcess, rounds: int) -> str:
    """Diagnostic for a missed bar: SDK vs raw loop again, both with glibc's heap trimming off."""
    workers = {name: _Worker(WORKERS[name], sandbox, _NO_TRIM) for name in (SDK, RAW)}
    reports: dict[str, list[dict[str, Any]]] = {name: [] for name in workers}
    try:
        figures = interleave(_walkers(workers, reports), rounds=rounds, warmup=2)
    finally:
        for worker in workers.values():
            worker.close()
    faults = {
        n: statistics.median(r["faults"] / r["pages"] for r in runs[-rounds:]) for n, runs in reports.items()
    }
    for figure in figures.values():
        figure.unit = "pages/s"
    return (
        "diagnostic, not the figure: with glibc's heap trimming off (MALLOC_TRIM_THRESHOLD_=256 MiB) in "
        f"both workers, kanbert-async / raw aiohttp = {figures[SDK].median / figures[RAW].median:.2f}× "
        f"({figures[SDK].describe()} vs {figures[RAW].describe()}; minor page faults/page "
        f"{faults[SDK]:.0f} vs {faults[RAW]:.0f})"
    )


def _diagnostics(name: str, runs: list[dict[str, Any]]) -> str:
    cpu = statistics.median(r["cpu"] / r["pages"] for r in runs) * 1000
    faults = statistics.median(r["faults"] / r["pages"] for r in runs)
    return (
        f"{name}: client CPU {cpu:.2f} ms/page, {faults:.0f} minor page faults/page (medians of the worker)"
    )


def _met(figures: dict[str, Figure]) -> bool:
    sdk = figures[SDK].median
    return sdk >= RAW_BAR * figures[RAW].median and sdk >= HTTPX_BAR * figures[HTTPX].median


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.request_path")
    parser.add_argument("--worker", choices=sorted(WORKERS.values()), required=True)
    sys.exit(_worker(parser.parse_args().worker))
