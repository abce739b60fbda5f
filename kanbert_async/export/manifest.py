"""The manifest (``manifest.json``) that completes an export: what was asked, what was written
(every file with its sha256), what the filters left out, and one line per generation.

Writing it is the commit of a finished run: the working directory is removed only after it,
its state file first, so a run killed in between finishes on ``--resume``.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import msgspec

from .._version import __version__
from ..filters import encode_filter
from .config import ExportResult
from .durable import fsync_dir, write_atomic
from .output import MANIFEST, STATE_FILE, Output
from .pdfnames import PdfNames
from .state import State

__all__ = ["generation_entry", "result_from", "write_manifest"]


def generation_entry(
    output: Output, state: State, counts: dict[str, int], changes: dict[str, int] | None
) -> dict[str, Any]:
    """This run's line in the manifest's list of generations."""
    return {
        "generation": state.generation,
        "mode": state.mode,
        "started_at": state.started_at,
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "watermark": state.watermark,
        "since_watermark": state.since_watermark,
        "changes": changes,
        "records": counts.get(output.entity.stem, 0),
        "requests": state.requests,
    }


def write_manifest(
    output: Output,
    state: State,
    counts: dict[str, int],
    files: dict[str, str],
    names: PdfNames | None,
    history: list[dict[str, Any]],
    duplicates: int,
) -> dict[str, Any]:
    """Write the manifest and remove the working directory; returns the manifest."""
    plan, formats = output.plan, output.formats
    warnings = list(plan.warnings)
    if counts.get(output.entity.stem, 0) == 0:
        what = "the filters matched" if plan.scope else "the listing holds"
        warnings.append(f"no {output.entity.records}: {what} none")
    manifest = {
        "sdk": f"kanbert-async {__version__}",
        "identity": state.identity,
        "entity": output.entity.name,
        "base_url": state.base_url,
        "generation": state.generation,
        "watermark": state.watermark,
        "filter": output.config.filter,
        "filter_sent": encode_filter(plan.tree),
        "archived": plan.archived,
        "scope": plan.scope,
        "warnings": warnings,
        "since": state.identity["since"],
        "until": state.identity["until"],
        "include": state.identity["include"],
        "format": list(formats),
        "csv_dialect": output.dialect.name if output.csv_columns else None,
        "csv_formula_guard": output.dialect.formula_guard() if output.csv_columns else None,
        "started_at": state.started_at,
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "runs": state.runs,
        "partition_field": state.plan_field,
        "partitions": state.plan,
        "counts": counts,
        "requests": state.requests,
        "retries": state.retries,
        "rate_limited_429": state.rate_limited,
        "duplicates_dropped": duplicates,
        "csv_columns": output.csv_columns,
        "parquet_columns": (
            {f"{t.stem}.parquet": list(t.columns) for t in plan.tables} if "parquet" in formats else {}
        ),
        "pdf_names": (
            {"template": names.template, "files": names.files, "notes": names.notes} if names else None
        ),
        "generations": history,
        "files": files,
    }
    write_atomic(output.out / MANIFEST, msgspec.json.format(msgspec.json.encode(manifest), indent=2))
    # The state goes first: without it the export counts as finished, whatever else of the
    # working directory a kill leaves behind.
    (output.work / STATE_FILE).unlink()
    fsync_dir(output.work)
    shutil.rmtree(output.work)
    fsync_dir(output.out)
    return manifest


def result_from(
    out: Path, manifest: dict[str, Any], *, elapsed: float, changes: dict[str, int] | None = None
) -> ExportResult:
    """What the export in ``out`` produced, as its manifest records it."""
    return ExportResult(
        out=out,
        counts=manifest["counts"],
        files=manifest["files"],
        elapsed=elapsed,
        requests=manifest["requests"],
        retries=manifest["retries"],
        rate_limited=manifest["rate_limited_429"],
        duplicates=manifest["duplicates_dropped"],
        scope=manifest.get("scope", []),
        warnings=manifest.get("warnings", []),
        generation=manifest.get("generation", 1),
        changes=changes,
    )
