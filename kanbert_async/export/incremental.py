"""``--since-last``: bring a finished export up to date with what changed since it was made.

``updated_at`` is sortable but not filterable, so the walk lists the records newest change first
(``sort=-updated_at``) and stops at the first one older than the previous export's watermark —
the newest ``updated_at`` the listing showed when that export began. Records changed while an
export runs therefore carry a later ``updated_at`` than its watermark and are picked up by the
next one; records at the watermark itself are fetched again, which the merge makes harmless.

The merge replaces each changed record's rows (its own, and its line items', discounts' and
external costs') with the new ones, in every format, so every record is in the files exactly
once; a changed record's PDF is downloaded again. Merging is repeatable: a run killed while
merging merges again on ``--since-last --resume`` to the same result.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from .._core.page import Page
from .config import ExportError
from .dialects import read_rows
from .durable import AtomicFile
from .flatten import record_id
from .manifest import generation_entry, write_manifest
from .output import PDF_DIR, Output
from .parquet import copy_rows_except
from .state import Checkpoint, State

__all__ = ["changed_pages", "merge"]


async def changed_pages(
    list_records: Callable[..., Any], state: State, page_size: int
) -> AsyncIterator[Page[Any]]:
    """Pages of the records changed at or after ``state.since_watermark``, newest first, as
    partition 0; sets ``state.watermark`` from the first page (the newest change now)."""
    part = state.parts["0"]
    since = dt.datetime.fromisoformat(state.since_watermark) if state.since_watermark else None
    pager = list_records(sort=["-updated_at"], page_size=page_size, start_cursor=part.cursor).keep_raw()
    pages = pager.pages()
    seen: set[str] = set()
    try:
        async for page in pages:
            if state.watermark is None:
                newest = page.items[0].updated_at if page.items else None
                state.watermark = newest.isoformat() if newest is not None else state.since_watermark
            keep: list[int] = []
            stop = False
            for position, item in enumerate(page.items):
                changed = item.updated_at
                if since is not None and (changed is None or changed < since):
                    stop = True
                    break
                if item.id not in seen:
                    seen.add(item.id)
                    keep.append(position)
            subset = page.subset(keep, next_cursor=None if stop else page.next_cursor)
            yield dataclasses.replace(subset, partition=0)
            if stop:
                return
    finally:
        await pages.aclose()


def _jsonl_lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as lines:
        for line in lines:
            yield line.rstrip(b"\n")


def _existing(output: Output, changed: set[str]) -> int:
    """How many of the ``changed`` ids the finished export already holds."""
    out, stem = output.out, output.entity.stem
    wanted = changed
    if "jsonl" in output.formats:
        ids: Iterator[str] = (record_id(line) for line in _jsonl_lines(out / output.jsonl))
    elif "csv" in output.formats:
        rows = read_rows(out / f"{stem}.csv", output.dialect)
        key = next(rows).index("id")
        ids = (row[key] for row in rows)
        wanted = _id_cells(output, changed)
    else:
        import pyarrow.parquet as pq

        ids = iter(pq.read_table(out / f"{stem}.parquet", columns=["id"]).column("id").to_pylist())
    return sum(1 for i in ids if i in wanted)


def _id_cells(output: Output, ids: set[str]) -> set[str]:
    """The ids as the CSV cells that hold them (the dialect may have guarded one against formulas)."""
    return {output.dialect.cell(i) for i in ids}


def _merge_jsonl(output: Output, new: Path, changed: set[str], files: dict[str, str]) -> dict[str, int]:
    """Old lines of unchanged records, then the new lines; returns the rows of every table."""
    relations = [t.stem for t in output.plan.tables[1:]]
    skeleton = msgspec.defstruct(
        "Skeleton", [("id", str), *((r, list[msgspec.Raw] | None, None) for r in relations)]
    )
    decode = msgspec.json.Decoder(skeleton).decode
    counts = dict.fromkeys([output.entity.stem, *relations], 0)
    final = AtomicFile(output.out / output.jsonl)
    for source, replaced in ((output.out / output.jsonl, changed), (new, set())):
        for line in _jsonl_lines(source):
            record: Any = decode(line)
            if record.id in replaced:
                continue
            final.write(line + b"\n")
            counts[output.entity.stem] += 1
            for relation in relations:
                counts[relation] += len(getattr(record, relation) or ())
    files[output.jsonl] = final.commit()
    return counts


def _merge_csv(output: Output, state: State, changed: set[str], files: dict[str, str]) -> dict[str, int]:
    counts = {}
    dialect = output.dialect
    changed_cells = _id_cells(output, changed)
    for name, columns in output.csv_columns.items():
        rows = read_rows(output.out / name, dialect)
        if next(rows, None) != columns:
            raise ExportError(
                f"--since-last: {name} has other columns than this version of kanbert-async writes; "
                "run a full export into a new --out"
            )
        key = columns.index("id" if name == f"{output.entity.stem}.csv" else "invoice_id")
        final = AtomicFile(output.out / name)
        final.write(output.csv_header(columns))
        kept = 0
        for row in rows:
            if row[key] not in changed_cells:
                final.write(dialect.encode([row]))
                kept += 1
        (new,) = output.part_paths(name, state.parts)
        final.write_from(new)
        files[name] = final.commit()
        counts[name.removesuffix(".csv")] = kept + sum(1 for _ in read_rows(new, dialect))
    return counts


def _merge_parquet(output: Output, new: Path, changed: set[str], files: dict[str, str]) -> dict[str, int]:
    tables = output.parquet_tables(output.out)
    for table in output.plan.tables:
        copy_rows_except(output.out / f"{table.stem}.parquet", tables[table.stem], table.key, changed)
    output.add_parquet_rows(tables, output.records([new]))
    counts = {stem: table.rows for stem, table in tables.items()}
    files.update(output.commit_parquet(tables))
    return counts


async def merge(output: Output, checkpoint: Checkpoint, previous: dict[str, Any]) -> dict[str, Any]:
    """Merge the changed records into the finished files and write the next manifest generation
    (``previous``: the manifest of the generation before); returns the new manifest."""
    state = checkpoint.state
    (new,) = output.part_paths(output.jsonl, state.parts)
    changed = {record_id(line) for line in _jsonl_lines(new)}
    if state.changes is None:
        # Counted before any file is replaced: a second merge after a kill sees merged files.
        updated = _existing(output, changed)
        state.changes = {"added": len(changed) - updated, "updated": updated}
        await checkpoint.save()
    files = dict(previous.get("files", {}))
    counts: dict[str, int] = {}
    for merged in (
        _merge_parquet(output, new, changed, files) if "parquet" in output.formats else {},
        _merge_csv(output, state, changed, files) if output.csv_columns else {},
        _merge_jsonl(output, new, changed, files) if "jsonl" in output.formats else {},
    ):
        counts.update(merged)
    names = None
    if output.config.pdfs:
        given = previous.get("pdf_names") or {}
        before: dict[str, str] = dict(given.get("files", {}))
        names = output.pdf_names([new], before, given.get("notes", {}))
        targets = set(names.files.values())
        for changed_id in changed:
            old = before.get(changed_id)
            if old is not None and old != names.files[changed_id] and old not in targets:
                (output.out / PDF_DIR / old).unlink(missing_ok=True)
                files.pop(f"{PDF_DIR}/{old}", None)
        output.move_pdfs(names, changed)
        files.update(output.pdf_digests(names.files[changed_id] for changed_id in changed))
        counts["pdfs"] = len(names.files)
    files = dict(sorted(files.items()))
    await checkpoint.save()
    history = [*previous.get("generations", []), generation_entry(output, state, counts, state.changes)]
    return write_manifest(output, state, counts, files, names, history, 0)
