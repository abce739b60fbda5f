"""``--out -``: the records as JSON Lines on a stream as they arrive, for ``jq`` or a loader —
no files, no PDFs, no state; each record exactly once, in completion order."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from pathlib import Path
from typing import IO

from .._client import KanbertClient
from .config import ExportConfig, ExportError, ExportResult, check_numbers
from .plan import prepare

__all__ = ["stream_export"]


async def stream_export(kb: KanbertClient, config: ExportConfig, out: IO[bytes]) -> ExportResult:
    """Write the records as JSON Lines to ``out`` as they arrive (``--out -``): no files, no PDFs,
    no state — each record exactly once, in completion order."""
    check_numbers(config)
    if config.pdfs or config.resume or config.since_last:
        raise ExportError("--out - streams JSON Lines only: drop --pdfs, --resume and --since-last")
    if config.formats() != ("jsonl",):
        raise ExportError("--out - streams JSON Lines only: drop --format or pass --format jsonl")
    plan = prepare(kb, dataclasses.replace(config, format="jsonl"))
    started = time.monotonic()
    include = list(config.include) or None
    pager = plan.entity.list(kb)(include=include, filter=plan.tree, page_size=config.page_size).keep_raw()
    capabilities = pager.capabilities
    if capabilities is None:
        raise ExportError(f"{plan.entity.name} documents no filter table to partition on")
    fields = [f.name for f in capabilities.partition_fields() if f.name in capabilities.sorts]
    scan = pager.partitioned(by=fields[0], parts=config.partitions)
    counts = {plan.entity.stem: 0, **{r: 0 for r in config.include}}
    async for page in scan.pages():
        assert page.raw is not None
        await asyncio.to_thread(out.write, b"".join(bytes(raw) + b"\n" for raw in page.raw))
        counts[plan.entity.stem] += len(page.items)
        for relation in config.include:
            counts[relation] += sum(len(getattr(item, relation, None) or ()) for item in page.items)
    await asyncio.to_thread(out.flush)
    stats = kb.stats
    warnings = list(plan.warnings)
    if counts[plan.entity.stem] == 0:
        warnings.append(
            f"no {plan.entity.records}: {'the filters matched' if plan.scope else 'the listing holds'} none"
        )
    return ExportResult(
        out=Path("-"),
        counts=counts,
        files={},
        elapsed=time.monotonic() - started,
        requests=stats.requests,
        retries=stats.retries,
        rate_limited=stats.rate_limited,
        duplicates=scan.stats.duplicates,
        scope=plan.scope,
        warnings=warnings,
    )
