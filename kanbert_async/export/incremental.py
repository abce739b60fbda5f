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
from typing import TYPE_CHECKING, Any

import msgspec

from .._core.page import Page
from .dialects import read_rows
from .flatten import record_id
from .parquet import copy_rows_except

if TYPE_CHECKING:
    from .engine import ExportResult, _Export, _State

__all__ = ["changed_pages", "merge"]


async def changed_pages(
    list_records: Callable[..., Any], state: _State, page_size: int
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


def _existing(ex: _Export, changed: set[str]) -> int:
    """How many of the ``changed`` ids the finished export already holds."""
    out, stem = ex.out, ex.entity.stem
    if "jsonl" in ex.formats:
        ids: Iterator[str] = (record_id(line) for line in _jsonl_lines(out / ex.jsonl))
    elif "csv" in ex.formats:
        rows = read_rows(out / f"{stem}.csv", ex.dialect)
        key = next(rows).index("id")
        ids = (row[key] for row in rows)
    else:
        import pyarrow.parquet as pq

        ids = iter(pq.read_table(out / f"{stem}.parquet", columns=["id"]).column("id").to_pylist())
    return sum(1 for i in ids if i in changed)


def _merge_jsonl(ex: _Export, new: Path, changed: set[str], files: dict[str, str]) -> dict[str, int]:
    """Old lines of unchanged records, then the new lines; returns the rows of every table."""
    from .engine import _AtomicFile

    relations = [t.stem for t in ex.plan.tables[1:]]
    skeleton = msgspec.defstruct(
        "Skeleton", [("id", str), *((r, list[msgspec.Raw] | None, None) for r in relations)]
    )
    decode = msgspec.json.Decoder(skeleton).decode
    counts = dict.fromkeys([ex.entity.stem, *relations], 0)
    final = _AtomicFile(ex.out / ex.jsonl)
    for source, replaced in ((ex.out / ex.jsonl, changed), (new, set())):
        for line in _jsonl_lines(source):
            record: Any = decode(line)
            if record.id in replaced:
                continue
            final.write(line + b"\n")
            counts[ex.entity.stem] += 1
            for relation in relations:
                counts[relation] += len(getattr(record, relation) or ())
    files[ex.jsonl] = final.commit()
    return counts


def _merge_csv(ex: _Export, state: _State, changed: set[str], files: dict[str, str]) -> dict[str, int]:
    from .engine import ExportError, _AtomicFile, _copy

    counts = {}
    for name, columns in ex.csv_columns.items():
        rows = read_rows(ex.out / name, ex.dialect)
        if next(rows, None) != columns:
            raise ExportError(
                f"--since-last: {name} has other columns than this version of kanbert-async writes; "
                "run a full export into a new --out"
            )
        key = columns.index("id" if name == f"{ex.entity.stem}.csv" else "invoice_id")
        final = _AtomicFile(ex.out / name)
        final.write(ex.dialect.preamble() + ex.dialect.encode([columns]))
        kept = 0
        for row in rows:
            if row[key] not in changed:
                final.write(ex.dialect.encode([row]))
                kept += 1
        (new,) = ex.part_paths(name, state)
        _copy(new, final.handle, final.digest)
        files[name] = final.commit()
        counts[name.removesuffix(".csv")] = kept + sum(1 for _ in read_rows(new, ex.dialect))
    return counts


def _merge_parquet(ex: _Export, new: Path, changed: set[str], files: dict[str, str]) -> dict[str, int]:
    tables = ex.parquet_tables(ex.out)
    for table in ex.plan.tables:
        copy_rows_except(ex.out / f"{table.stem}.parquet", tables[table.stem], table.key, changed)
    ex.add_parquet_rows(tables, ex.records([new]))
    counts = {stem: table.rows for stem, table in tables.items()}
    files.update(ex.commit_parquet(tables))
    return counts


async def merge(ex: _Export, state: _State) -> ExportResult:
    """Merge the changed records into the finished files and write the next manifest generation."""
    from .engine import PDF_DIR, _sha256

    previous = ex.previous
    assert previous is not None
    (new,) = ex.part_paths(ex.jsonl, state)
    changed = {record_id(line) for line in _jsonl_lines(new)}
    if state.changes is None:
        # Counted before any file is replaced: a second merge after a kill sees merged files.
        updated = _existing(ex, changed)
        state.changes = {"added": len(changed) - updated, "updated": updated}
        await ex._save(state)
    files = dict(previous.get("files", {}))
    counts: dict[str, int] = {}
    for merged in (
        _merge_parquet(ex, new, changed, files) if "parquet" in ex.formats else {},
        _merge_csv(ex, state, changed, files) if ex.csv_columns else {},
        _merge_jsonl(ex, new, changed, files) if "jsonl" in ex.formats else {},
    ):
        counts.update(merged)
    names = None
    if ex.config.pdfs:
        given = previous.get("pdf_names") or {}
        before: dict[str, str] = dict(given.get("files", {}))
        names = ex.pdf_names([new], before, given.get("notes", {}))
        targets = set(names.files.values())
        for changed_id in changed:
            old = before.get(changed_id)
            if old is not None and old != names.files[changed_id] and old not in targets:
                (ex.out / PDF_DIR / old).unlink(missing_ok=True)
                files.pop(f"{PDF_DIR}/{old}", None)
        ex.move_pdfs(names, changed)
        for changed_id in changed:
            name = names.files[changed_id]
            files[f"{PDF_DIR}/{name}"] = _sha256(ex.out / PDF_DIR / name)
        counts["pdfs"] = len(names.files)
    files = dict(sorted(files.items()))
    await ex._save(state)
    history = [*previous.get("generations", []), ex.generation_entry(state, counts, state.changes)]
    return ex.write_manifest(state, counts, files, names, history, 0, state.changes)
