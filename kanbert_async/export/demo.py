"""``kanbert-async demo`` / ``make demo``: the main job end to end against a bundled sandbox.

Starts a sandbox with a few thousand invoices, some latency, a rate limit and a few injected
faults; exports every invoice — archived ones included — with line items, discounts, external
costs and PDFs to JSONL and CSV; checks the export against the sandbox's own data; stops the
sandbox; prints a summary. ``--out`` must be new, empty, or an earlier demo's export: the demo
replaces only what an export of kanbert-async wrote there.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

import msgspec

from .._client import KanbertClient
from ..sandbox import Sandbox
from .config import ExportConfig, ExportError, ExportFailed
from .directory import clear_own_export
from .engine import run_export
from .pdfnames import id_file_name
from .progress import Progress

__all__ = ["run_demo"]

#: A bad but survivable day: latency, a rate limit, and a sprinkle of failures the SDK must absorb.
DEMO_CONDITIONS = {
    "latency": 0.02,
    "jitter": 0.02,
    "rate_limit": "6000/min",
    "error_rate": 0.01,
    "drop_rate": 0.005,
    "drop_mid_body_rate": 0.005,
}


class DemoCheckFailed(ExportFailed):
    """The export does not match the sandbox's data."""


def _verify(out: Path, expected_ids: set[str]) -> int:
    """Every sandbox invoice exactly once in the JSONL and its PDF present; returns how many."""
    seen: list[str] = []
    with (out / "invoices.jsonl").open("rb") as lines:
        for line in lines:
            seen.append(msgspec.json.decode(line, type=dict[str, object])["id"])  # type: ignore[arg-type]
    if len(seen) != len(set(seen)):
        raise DemoCheckFailed("demo check failed: an invoice appears twice in invoices.jsonl")
    if set(seen) != expected_ids:
        missing = len(expected_ids - set(seen))
        raise DemoCheckFailed(f"demo check failed: {missing} invoices missing from invoices.jsonl")
    missing_pdfs = [i for i in expected_ids if not (out / "pdfs" / id_file_name(i)).is_file()]
    if missing_pdfs:
        raise DemoCheckFailed(f"demo check failed: {len(missing_pdfs)} PDFs missing")
    return len(seen)


def _prepare_out(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {out} is a file; choose a directory for the demo's export")
    if not clear_own_export(out):
        raise ExportError(
            f"--out {out} holds files that are not an export of kanbert-async; the demo deletes only "
            "its own exports, so choose a new or empty directory (nothing was changed)"
        )


async def run_demo(out: Path, *, invoices: int = 2000, seed: int = 1) -> int:
    """Run the demo; returns the process exit code."""
    await asyncio.to_thread(_prepare_out, out)
    print(
        f"Starting a sandbox Kanbert API with {invoices} invoices (seed {seed}) and a bad day:",
        file=sys.stderr,
    )
    print("  " + ", ".join(f"{k}={v}" for k, v in DEMO_CONDITIONS.items()), file=sys.stderr)
    started = time.monotonic()
    async with Sandbox(invoices=invoices, seed=seed, **DEMO_CONDITIONS) as sandbox:
        everything = sandbox.store.invoices(archived="with")
        expected = {invoice.id for invoice in everything}
        archived = sum(1 for invoice in everything if invoice.deleted_at is not None)
        config = ExportConfig(entity="outgoing-invoices", out=out, pdfs=True, format="both", concurrency=16)
        progress = Progress()
        async with KanbertClient(sandbox.token, base_url=sandbox.base_url) as kb:
            try:
                result = await run_export(kb, config, progress)
            finally:
                progress.close()
        checked = await asyncio.to_thread(_verify, out, expected)
    elapsed = time.monotonic() - started
    counts = "\n".join(f"  {name:<16} {count}" for name, count in result.counts.items())
    print(
        f"\nDemo export finished in {elapsed:.1f}s (export {result.elapsed:.1f}s).\n"
        f"{counts}\n"
        f"  requests         {result.requests}\n"
        f"  retries          {result.retries}\n"
        f"  429s             {result.rate_limited}\n"
        f"Checked: all {checked} sandbox invoices ({archived} of them archived) exported exactly once, "
        "every PDF present.\n"
        f"Files: {out}/ (manifest.json lists them with sha256)"
    )
    return 0
