"""The bulk export: a partitioned scan written to per-partition part files, committed page by page.

Nothing lost, nothing doubled, wherever the process dies:

1. Each partition appends its pages to its own part files (JSONL with the records exactly as sent,
   CSV rows per entity) and records the file sizes after each page.
2. A page is committed — its part files fsynced, then the checkpoint (the partition's next cursor
   and those sizes) written atomically — only after every PDF of the page is on disk, and only
   after the partition's earlier pages were committed.
3. On ``--resume`` each unfinished partition's part files are cut back to the committed sizes
   (dropping half-written pages) and its walk continues from the committed cursor.
4. When every partition is done the parts are joined in plan order into the final files, the
   manifest is written, and the working directory is removed.

The partition plan is fixed at the start and stored, so a resumed export produces byte for byte
the files an uninterrupted one would.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import hashlib
import io
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

import msgspec

from .._client import KanbertClient
from .._core.errors import InvalidRequestError, KanbertError
from .._core.page import Page
from .._core.scan import PartitionRange
from .._version import __version__
from ..filter_dsl import parse_filter
from ..filters import F, Filter, and_, encode_filter
from .durable import fsync_dir, read_json, write_atomic
from .entities import ENTITIES, Entity
from .flatten import columns_for, row_for

__all__ = ["ExportConfig", "ExportError", "ExportResult", "run_export"]

WORK_DIR = ".kanbert-export"
STATE_FILE = "state.json"
MANIFEST = "manifest.json"
Format = Literal["jsonl", "csv", "both"]


class ExportError(KanbertError):
    """The export cannot start or continue; the message says why and what to do."""


class _AlreadyFinished(Exception):
    """--resume found the same export already complete (a run killed during its final cleanup)."""


@dataclass(frozen=True)
class ExportConfig:
    """What to export and how (the ``kanbert-async export`` options)."""

    entity: str
    out: Path
    include: tuple[str, ...] = ("line_items", "discounts", "external_costs")
    filter: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    pdfs: bool = False
    format: Format = "both"
    partitions: int = 8
    concurrency: int = 8
    page_size: int = 100
    resume: bool = False

    def identity(self) -> dict[str, Any]:
        """The options that shape the output: a resumed export must match them exactly."""
        return {
            "entity": self.entity,
            "include": sorted(self.include),
            "filter": self.filter,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "pdfs": self.pdfs,
            "format": self.format,
            "page_size": self.page_size,
        }


class _PartState(msgspec.Struct):
    cursor: str | None = None
    done: bool = False
    sizes: dict[str, int] = {}
    counts: dict[str, int] = {}


class _State(msgspec.Struct):
    identity: dict[str, Any]
    base_url: str
    started_at: str
    plan_field: str
    plan: list[dict[str, Any]] = []
    parts: dict[str, _PartState] = {}
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    runs: int = 0


@dataclass
class ExportResult:
    """What an export produced."""

    out: Path
    counts: dict[str, int]
    files: dict[str, str]
    elapsed: float
    requests: int
    retries: int
    rate_limited: int
    duplicates: int = 0


# -- planning -----------------------------------------------------------------------------------
def _entity(config: ExportConfig) -> Entity:
    try:
        entity = ENTITIES[config.entity]
    except KeyError:
        raise ExportError(f"unknown entity {config.entity!r}; choose one of: {', '.join(ENTITIES)}") from None
    if config.pdfs and entity.pdf is None:
        raise ExportError(f"{entity.name} has no PDFs to export; drop --pdfs")
    if (config.since or config.until) and entity.date_field is None:
        raise ExportError(f"{entity.name} has no date field to filter on; drop --since/--until")
    return entity


def _filter(config: ExportConfig, entity: Entity) -> Filter | None:
    tree: Filter | None = parse_filter(config.filter) if config.filter else None
    if config.since is not None:
        assert entity.date_field is not None
        tree = _and(tree, F(entity.date_field) >= config.since)
    if config.until is not None:
        assert entity.date_field is not None
        tree = _and(tree, F(entity.date_field) <= config.until)
    return tree


def _and(a: Filter | None, b: Filter) -> Filter:
    combined = and_(a, b)
    assert combined is not None and not isinstance(combined, str)
    return combined


def _range_to_json(r: PartitionRange) -> dict[str, Any]:
    def encode(value: Any) -> Any:
        return value.isoformat() if isinstance(value, dt.date) else value

    return {"low": encode(r.low), "high": encode(r.high), "nulls": r.nulls}


def _range_from_json(data: dict[str, Any]) -> PartitionRange:
    def decode(value: Any) -> Any:
        if isinstance(value, str):
            return dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)
        return value

    return PartitionRange(decode(data["low"]), decode(data["high"]), data["nulls"])


# -- part files ---------------------------------------------------------------------------------
class _PartWriter:
    """The output files of one partition, appended page by page."""

    def __init__(self, directory: Path, names: list[str], committed: dict[str, int]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.files: dict[str, io.BufferedWriter] = {}
        for name in names:
            path = directory / name
            handle = path.open("r+b" if path.exists() else "w+b")
            # Drop whatever a killed run wrote after its last commit.
            handle.truncate(committed.get(name, 0))
            handle.seek(0, os.SEEK_END)
            self.files[name] = handle  # type: ignore[assignment]

    def append(self, name: str, data: bytes) -> None:
        self.files[name].write(data)

    def sizes(self) -> dict[str, int]:
        return {name: handle.tell() for name, handle in self.files.items()}

    def sync(self) -> None:
        for handle in self.files.values():
            handle.flush()
            os.fsync(handle.fileno())

    def close(self) -> None:
        for handle in self.files.values():
            handle.close()


def _csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()


# -- the export ---------------------------------------------------------------------------------
class _Export:
    def __init__(
        self, kb: KanbertClient, config: ExportConfig, progress: Callable[[dict[str, Any]], None] | None
    ) -> None:
        self.kb = kb
        self.config = config
        self.entity = _entity(config)
        self.out = config.out
        self.work = self.out / WORK_DIR
        self.progress = progress or (lambda _: None)
        self.csv_columns: dict[str, list[str]] = {}
        if config.format in ("csv", "both"):
            self.csv_columns[f"{self.entity.stem}.csv"] = columns_for(
                self.entity.model, skip=self.entity.children
            )
            for relation in config.include:
                if relation in self.entity.children:
                    model = self.entity.children[relation]
                    self.csv_columns[f"{relation}.csv"] = ["invoice_id", *columns_for(model)]
        self.names = ([f"{self.entity.stem}.jsonl"] if config.format in ("jsonl", "both") else []) + list(
            self.csv_columns
        )
        self.state_lock = asyncio.Lock()
        self.pdf_slots = asyncio.Semaphore(config.concurrency)
        self.counters: dict[str, int] = {"pages": 0, "pdfs": 0}
        self.started = time.monotonic()

    # -- directory and state ----------------------------------------------------------------
    def _open_state(self) -> _State:
        state_path = self.work / STATE_FILE
        identity = self.config.identity()
        if state_path.exists():
            if not self.config.resume:
                raise ExportError(
                    f"{self.out} already holds an unfinished export; pass --resume to continue it, "
                    "or choose an empty --out directory"
                )
            try:
                state: _State = read_json(state_path, _State)
            except (msgspec.DecodeError, msgspec.ValidationError, OSError) as exc:
                raise ExportError(f"cannot read the export state in {state_path}: {exc}") from None
            if state.identity != identity:
                differing = sorted(k for k in identity if identity[k] != state.identity.get(k))
                raise ExportError(
                    f"--resume: {self.out} holds a different export (it differs in: {', '.join(differing)}); "
                    "rerun with the original options or choose another --out"
                )
            if state.base_url != self.kb.base_url:
                raise ExportError(
                    f"--resume: {self.out} was exported from {state.base_url}, not {self.kb.base_url}"
                )
            state.runs += 1
            return state
        if (self.out / MANIFEST).exists():
            if self.config.resume and self._finished_identity() == identity:
                raise _AlreadyFinished
            raise ExportError(f"{self.out} already holds a finished export; choose an empty --out directory")
        # A run killed before its first checkpoint leaves at most an empty working directory:
        # starting afresh is then exactly what resuming it means.
        leftovers = (
            [p for p in self.out.iterdir() if p.name not in {WORK_DIR, "pdfs"}] if self.out.exists() else []
        )
        if leftovers:
            raise ExportError(f"{self.out} is not empty; choose an empty or new --out directory")
        return _State(
            identity=identity,
            base_url=self.kb.base_url,
            started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            plan_field="",
            runs=1,
        )

    def _finished_identity(self) -> dict[str, Any] | None:
        try:
            manifest = msgspec.json.decode((self.out / MANIFEST).read_bytes())
        except (OSError, msgspec.DecodeError):
            return None
        identity = manifest.get("identity") if isinstance(manifest, dict) else None
        return identity if isinstance(identity, dict) else None

    def _check_writable(self) -> None:
        try:
            self.work.mkdir(parents=True, exist_ok=True)
            probe = self.work / ".probe"
            probe.write_bytes(b"")
            probe.unlink()
            if self.config.pdfs:
                (self.out / "pdfs").mkdir(exist_ok=True)
        except OSError as exc:
            raise ExportError(f"cannot write to --out {self.out}: {exc.strerror or exc}") from None

    async def _save(self, state: _State) -> None:
        stats = self.kb.stats
        state.requests, state.retries, state.rate_limited = (
            self._base_stats[0] + stats.requests,
            self._base_stats[1] + stats.retries,
            self._base_stats[2] + stats.rate_limited,
        )
        await asyncio.to_thread(write_atomic, self.work / STATE_FILE, msgspec.json.encode(state))

    # -- running ------------------------------------------------------------------------------
    async def run(self) -> ExportResult:
        try:
            state = self._open_state()
        except _AlreadyFinished:
            return self._finished_result()
        self._check_writable()
        self._base_stats = (state.requests, state.retries, state.rate_limited)
        tree = _filter(self.config, self.entity)
        pager = self.entity.list(self.kb)(
            include=list(self.config.include) or None, filter=tree, page_size=self.config.page_size
        ).keep_raw()
        caps_field = self._partition_field(pager)
        done = {int(k) for k, part in state.parts.items() if part.done}
        scan = pager.partitioned(
            by=caps_field,
            parts=self.config.partitions,
            ranges=[_range_from_json(r) for r in state.plan] or None,
            split=False,
            resume={int(k): part.cursor for k, part in state.parts.items() if part.cursor and not part.done},
            skip=done,
        )
        if not state.plan:
            state.plan = [_range_to_json(r) for r in await scan.plan()]
            state.plan_field = caps_field
            state.parts = {str(i): _PartState() for i in range(len(state.plan))}
            await self._save(state)
        self._plan = [_range_from_json(r) for r in state.plan]
        writers = {
            int(k): _PartWriter(self.work / "parts" / k, self.names, part.sizes)
            for k, part in state.parts.items()
            if not part.done
        }
        try:
            await self._consume(scan.pages(), writers, state)
        finally:
            for writer in writers.values():
                writer.close()
        return await self._finish(state, scan.stats.duplicates)

    def _partition_field(self, pager: Any) -> str:
        capabilities = pager.capabilities
        preferred = [f.name for f in capabilities.partition_fields() if f.name in capabilities.sorts]
        if not preferred:
            raise ExportError(f"{self.entity.name} offers no date or amount field to partition on")
        return str(preferred[0])

    async def _consume(self, pages: Any, writers: dict[int, _PartWriter], state: _State) -> None:
        chains: dict[int, asyncio.Task[None]] = {}
        in_flight = asyncio.Semaphore(max(4, 2 * self.config.partitions))
        async with asyncio.TaskGroup() as group:
            async for page in pages:
                await in_flight.acquire()
                index = page.partition
                sizes, counts = self._write(writers[index], page)
                previous = chains.get(index)
                chains[index] = group.create_task(
                    self._commit(page, writers[index], sizes, counts, previous, state, in_flight)
                )

    def _write(self, writer: _PartWriter, page: Page[Any]) -> tuple[dict[str, int], dict[str, int]]:
        counts = {self.entity.stem: len(page.items)}
        if f"{self.entity.stem}.jsonl" in writer.files:
            assert page.raw is not None
            writer.append(f"{self.entity.stem}.jsonl", b"".join(bytes(raw) + b"\n" for raw in page.raw))
        builtins = [msgspec.to_builtins(item) for item in page.items] if self.csv_columns else []
        for relation in self.config.include:
            counts[relation] = sum(len(getattr(item, relation, None) or ()) for item in page.items)
        for name, columns in self.csv_columns.items():
            stem = name.removesuffix(".csv")
            if stem == self.entity.stem:
                rows = [row_for(b, columns) for b in builtins]
            else:
                rows = [
                    [b["id"], *row_for(child, columns[1:])] for b in builtins for child in b.get(stem) or ()
                ]
            writer.append(name, _csv_bytes(rows))
        return writer.sizes(), counts

    async def _commit(
        self,
        page: Page[Any],
        writer: _PartWriter,
        sizes: dict[str, int],
        counts: dict[str, int],
        previous: asyncio.Task[None] | None,
        state: _State,
        in_flight: asyncio.Semaphore,
    ) -> None:
        try:
            if self.config.pdfs:
                await self._save_pdfs(page.items)
            if previous is not None:
                await previous  # a partition's pages commit in order
            async with self.state_lock:
                # fsyncs can take long on slow disks; keep the event loop (and the scan) running.
                await asyncio.to_thread(writer.sync)
                part = state.parts[str(page.partition)]
                part.cursor = page.next_cursor
                part.done = page.next_cursor is None
                part.sizes = sizes
                for key, value in counts.items():
                    part.counts[key] = part.counts.get(key, 0) + value
                await self._save(state)
                self.counters["pages"] += 1
                self._report(state)
        finally:
            in_flight.release()

    async def _save_pdfs(self, items: list[Any]) -> None:
        assert self.entity.pdf is not None
        pdf = self.entity.pdf

        async def save(item: Any) -> int:
            async with self.pdf_slots:
                size = await pdf(self.kb, item.id).save(self.out / "pdfs" / _pdf_name(item.id))
            self.counters["pdfs"] += 1
            return size

        failures = [
            r for r in await self.kb.map(save, items, concurrency=self.config.concurrency) if not r.ok
        ]
        if failures:
            first = failures[0]
            raise ExportError(
                f"{len(failures)} PDF download(s) failed, e.g. invoice {first.item.id}: {first.error}. "
                "Rerun with --resume to continue where the export stopped."
            ) from first.error

    def _report(self, state: _State) -> None:
        done_items = sum(p.counts.get(self.entity.stem, 0) for p in state.parts.values())
        finished = [p.counts.get(self.entity.stem, 0) for p in state.parts.values() if p.done]
        stats = self.kb.stats
        self.progress(
            {
                "items": done_items,
                "pdfs": self.counters["pdfs"],
                "pages": self.counters["pages"],
                "partitions_done": len(finished),
                "partitions": len(state.parts),
                "fraction": _fraction(done_items, finished, len(state.parts)),
                "elapsed": time.monotonic() - self.started,
                "requests": stats.requests,
                "retries": stats.retries,
                "rate_limited": stats.rate_limited,
            }
        )

    # -- finishing ----------------------------------------------------------------------------
    async def _finish(self, state: _State, duplicates: int) -> ExportResult:
        if not all(part.done for part in state.parts.values()):
            raise ExportError("the listing ended before every partition finished; rerun with --resume")
        files: dict[str, str] = {}
        order = sorted(state.parts, key=int)
        for name in self.names:
            digest = hashlib.sha256()
            target = self.out / name
            temp = target.with_name(f".{name}.tmp")
            with temp.open("wb") as out:
                if name in self.csv_columns:
                    header = _csv_bytes([self.csv_columns[name]])
                    out.write(header)
                    digest.update(header)
                for key in order:
                    with (self.work / "parts" / key / name).open("rb") as piece:
                        while chunk := piece.read(1 << 20):
                            out.write(chunk)
                            digest.update(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
            files[name] = digest.hexdigest()
        counts: dict[str, int] = {}
        for part in state.parts.values():
            for key, value in part.counts.items():
                counts[key] = counts.get(key, 0) + value
        if self.config.pdfs:
            pdf_dir = self.out / "pdfs"
            for leftover in pdf_dir.glob(".*.part"):
                leftover.unlink()
            pdfs = sorted(pdf_dir.glob("*.pdf"))
            counts["pdfs"] = len(pdfs)
            for path in pdfs:
                files[f"pdfs/{path.name}"] = hashlib.sha256(path.read_bytes()).hexdigest()
        await self._save(state)
        elapsed = time.monotonic() - self.started
        manifest = {
            "sdk": f"kanbert-async {__version__}",
            "identity": state.identity,
            "entity": self.entity.name,
            "base_url": state.base_url,
            "filter": self.config.filter,
            "filter_sent": encode_filter(_filter(self.config, self.entity)),
            "since": state.identity["since"],
            "until": state.identity["until"],
            "include": state.identity["include"],
            "format": self.config.format,
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
            "csv_columns": self.csv_columns,
            "files": files,
        }
        write_atomic(self.out / MANIFEST, msgspec.json.format(msgspec.json.encode(manifest), indent=2))
        # The state goes first: without it the export counts as finished, whatever else of the
        # working directory a kill leaves behind.
        (self.work / STATE_FILE).unlink()
        fsync_dir(self.work)
        shutil.rmtree(self.work)
        fsync_dir(self.out)
        return ExportResult(
            out=self.out,
            counts=counts,
            files=files,
            elapsed=elapsed,
            requests=state.requests,
            retries=state.retries,
            rate_limited=state.rate_limited,
            duplicates=duplicates,
        )

    def _finished_result(self) -> ExportResult:
        shutil.rmtree(self.work, ignore_errors=True)
        manifest = msgspec.json.decode((self.out / MANIFEST).read_bytes())
        return ExportResult(
            out=self.out,
            counts=manifest["counts"],
            files=manifest["files"],
            elapsed=0.0,
            requests=manifest["requests"],
            retries=manifest["retries"],
            rate_limited=manifest["rate_limited_429"],
            duplicates=manifest["duplicates_dropped"],
        )


def _fraction(done_items: int, finished: list[int], partitions: int) -> float:
    """Share of the export done, for the ETA. A cursor listing has no total; the finished
    partitions' sizes estimate the others' (the plan cut the field's span evenly)."""
    if not finished or partitions == 0:
        return 0.0
    if len(finished) == partitions:
        return 1.0
    estimated_total = max(done_items, sum(finished) / len(finished) * partitions)
    return min(0.99, done_items / estimated_total) if estimated_total else 0.0


def _pdf_name(invoice_id: str) -> str:
    """A file name for any id: characters that could leave the directory are percent-encoded."""
    return quote(invoice_id, safe="-_.").replace(".", "%2E", 1 if invoice_id.startswith(".") else 0) + ".pdf"


async def run_export(
    kb: KanbertClient, config: ExportConfig, progress: Callable[[dict[str, Any]], None] | None = None
) -> ExportResult:
    """Export ``config.entity`` into ``config.out`` (see the module docstring for the guarantees)."""
    if config.partitions < 1 or config.concurrency < 1 or config.page_size < 1:
        raise InvalidRequestError("--partitions, --concurrency and --page-size must be at least 1")
    return await _Export(kb, config, progress).run()
