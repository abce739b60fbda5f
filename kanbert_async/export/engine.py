"""The bulk export: a partitioned scan written to per-partition part files, committed page by page.

Nothing lost, nothing doubled, wherever the process dies:

1. Each partition appends its pages to its own part files (JSONL with the records exactly as sent,
   CSV rows per table) and records the file sizes after each page. PDFs are downloaded into the
   working directory under the record's id.
2. A page is committed — its part files fsynced, then the checkpoint (the partition's next cursor
   and those sizes) written atomically — only after every PDF of the page is on disk, and only
   after the partition's earlier pages were committed.
3. On ``--resume`` each unfinished partition's part files are cut back to the committed sizes
   (dropping half-written pages) and its walk continues from the committed cursor.
4. When every partition is done the parts are joined in plan order into the final files (Parquet
   is built from the joined JSONL), the PDFs get their names and move into ``pdfs/``, the
   manifest is written, and the working directory is removed. Every step of this is repeatable,
   so a run killed while finishing finishes on ``--resume``.

The partition plan is fixed at the start and stored, so a resumed export produces byte for byte
the files an uninterrupted one would.

``--since-last`` (see :mod:`.incremental`) walks the listing newest change first down to the
previous export's watermark, into a single partition of the same kind, and merges the result into
the finished files instead of joining parts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib
import io
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import msgspec

from .._client import KanbertClient
from .._core.errors import InvalidRequestError, KanbertError, first_error
from .._core.page import Page
from .._core.scan import PartitionRange
from .._version import __version__
from ..filter_dsl import parse_filter
from ..filters import Filter, encode_filter
from .dialects import CSV_DIALECTS, CsvDialect
from .durable import fsync_dir, read_json, write_atomic
from .entities import ENTITIES, Entity
from .flatten import column_types, record_id, row_for
from .parquet import BUILTIN_TYPES, ParquetTable, require_pyarrow
from .pdfnames import DEFAULT_TEMPLATE, PdfNames, id_file_name, template_fields
from .scope import ARCHIVED_FIELD, ARCHIVED_MODES, Archived, describe, enum_warnings, export_filter, mentions

__all__ = [
    "FORMATS",
    "ExportConfig",
    "ExportError",
    "ExportFailed",
    "ExportResult",
    "run_export",
    "stream_export",
]

WORK_DIR = ".kanbert-export"
STATE_FILE = "state.json"
MANIFEST = "manifest.json"
PDF_DIR = "pdfs"
#: The output formats, in the order their files are written; ``both`` means jsonl and csv.
FORMATS = ("jsonl", "csv", "parquet")
#: Identity keys that may differ between runs of one export: they shape no output (a cursor names
#: a position in the listing, not a page).
_RUN_ONLY_KEYS = frozenset({"page_size"})


class ExportError(KanbertError):
    """The export cannot start or continue; the message says why and what to do."""


class ExportFailed(ExportError):
    """The export started but could not complete (PDF downloads failed, the listing broke off);
    its progress is saved for ``--resume``."""


class _AlreadyFinished(Exception):
    """--resume found the same export already complete (a run killed during its final cleanup)."""


def parse_formats(text: str) -> tuple[str, ...]:
    """``jsonl``, ``csv``, ``parquet``, ``both`` (jsonl and csv) or a comma list, in canonical order."""
    parts = {p.strip() for p in text.split(",") if p.strip()}
    if "both" in parts:
        parts = (parts - {"both"}) | {"jsonl", "csv"}
    unknown = sorted(parts - set(FORMATS))
    if unknown or not parts:
        raise ValueError(f"{text!r}: choose jsonl, csv, parquet or both, or a comma list like jsonl,parquet")
    return tuple(f for f in FORMATS if f in parts)


@dataclass(frozen=True)
class ExportConfig:
    """What to export and how (the ``kanbert-async export`` options).

    ``format``: ``jsonl``, ``csv``, ``parquet``, ``both`` (jsonl and csv) or a comma list.
    ``archived``: ``with`` (default: archived records too), ``only`` or ``without``.
    ``csv_dialect``: ``rfc4180``, ``excel`` or ``excel-de`` (see :mod:`.dialects`).
    ``pdf_name``: a template of record fields, e.g. ``{invoice_number}`` (default: the id).
    ``since_last``: add only what changed since the export already in ``out``.
    """

    entity: str
    out: Path
    include: tuple[str, ...] = ("line_items", "discounts", "external_costs")
    filter: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    pdfs: bool = False
    format: str = "both"
    partitions: int = 8
    concurrency: int = 8
    page_size: int = 100
    resume: bool = False
    archived: Archived = "with"
    csv_dialect: str = "rfc4180"
    pdf_name: str = DEFAULT_TEMPLATE
    since_last: bool = False

    def formats(self) -> tuple[str, ...]:
        """The formats to write, in canonical order."""
        return parse_formats(self.format)

    def identity(self) -> dict[str, Any]:
        """The options that shape the output: a resumed export must match them exactly."""
        return {
            "entity": self.entity,
            "include": sorted(self.include),
            "filter": self.filter,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "archived": self.archived,
            "pdfs": self.pdfs,
            "pdf_name": self.pdf_name,
            "format": ",".join(self.formats()),
            "csv_dialect": self.csv_dialect,
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
    #: "full", or "since-last" for an increment merged into a finished export.
    mode: str = "full"
    generation: int = 1
    #: The newest ``updated_at`` when this run began: where the next --since-last stops.
    watermark: str | None = None
    #: For --since-last: the previous generation's watermark, where this run's walk stops.
    since_watermark: str | None = None
    #: For --since-last, once merging began: how many records were added and updated.
    changes: dict[str, int] | None = None


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
    #: What the filters left out, one phrase each (empty: every record of the listing).
    scope: list[str] = field(default_factory=list)
    #: Things the user should know: a filter value no record can have, a filter that matched nothing.
    warnings: list[str] = field(default_factory=list)
    generation: int = 1
    #: For --since-last: records added and updated by this run.
    changes: dict[str, int] | None = None


@dataclass(frozen=True)
class _Table:
    """One output table: the entity's records, or one relation's rows with the record's id first."""

    stem: str
    model: type[msgspec.Struct]
    relation: str | None
    columns: dict[str, Any]
    money: frozenset[str]

    @property
    def key(self) -> str:
        return "id" if self.relation is None else "invoice_id"


# -- checking the request -----------------------------------------------------------------------
@dataclass
class _Plan:
    """What the options mean for this listing: the filter to send, the tables, the warnings."""

    entity: Entity
    capabilities: Any
    tree: Filter | None
    tables: list[_Table]
    scope: list[str]
    warnings: list[str]
    archived: Archived | None


def _prepare(kb: KanbertClient, config: ExportConfig) -> _Plan:
    try:
        entity = ENTITIES[config.entity]
    except KeyError:
        raise ExportError(f"unknown entity {config.entity!r}; choose one of: {', '.join(ENTITIES)}") from None
    if config.pdfs and entity.pdf is None:
        raise ExportError(f"{entity.name} has no PDFs to export; drop --pdfs")
    if (config.since or config.until) and entity.date_field is None:
        raise ExportError(f"{entity.name} has no date field to filter on; drop --since/--until")
    if config.since and config.until and config.since > config.until:
        raise ExportError(f"--since {config.since} is after --until {config.until}: no date is in that range")
    if config.archived not in ARCHIVED_MODES:
        raise ExportError(f"--archived {config.archived!r}: choose with, only or without")
    if config.csv_dialect not in CSV_DIALECTS:
        raise ExportError(f"--csv-dialect {config.csv_dialect!r}: choose {', '.join(CSV_DIALECTS)}")
    try:
        formats = config.formats()
        template_fields(config.pdf_name)
    except ValueError as exc:
        option = "--format" if "jsonl" in str(exc) else "--pdf-name"
        raise ExportError(f"{option} {exc}") from None
    if "parquet" in formats:
        try:
            require_pyarrow()
        except ImportError as exc:
            raise ExportError(str(exc)) from None
    capabilities = entity.list(kb)().capabilities
    user = parse_filter(config.filter) if config.filter else None
    if capabilities is not None:
        try:
            capabilities.check_include(list(config.include))
        except InvalidRequestError as exc:
            raise ExportError(f"--include: {exc}") from None
        try:
            capabilities.check_filter(user)
        except InvalidRequestError as exc:
            raise ExportError(f"--filter: {exc}") from None
    if mentions(user, ARCHIVED_FIELD):
        raise ExportError("--filter: leave archived out of the filter and use --archived with|only|without")
    offers_archived = capabilities is not None and ARCHIVED_FIELD in capabilities.filter_fields
    if not offers_archived and config.archived != "with":
        raise ExportError(f"--archived {config.archived}: {entity.name} has no archived filter")
    archived = config.archived if offers_archived else None
    dates = (entity.date_field, config.since, config.until)
    return _Plan(
        entity=entity,
        capabilities=capabilities,
        tree=export_filter(user, *dates, archived=archived),
        tables=_tables(entity, config, capabilities),
        scope=describe(config.filter, *dates, archived=archived, records=entity.records),
        warnings=enum_warnings(user, capabilities),
        archived=archived,
    )


def _currency_fields(fields: Any) -> frozenset[str]:
    return frozenset(f.name for f in fields if f.type == "currency")


def _tables(entity: Entity, config: ExportConfig, capabilities: Any) -> list[_Table]:
    filter_fields = capabilities.filter_fields if capabilities is not None else {}
    tables = [
        _Table(
            entity.stem,
            entity.model,
            None,
            column_types(entity.model, skip=entity.children),
            _currency_fields(capabilities.fields if capabilities is not None else ()),
        )
    ]
    for relation in config.include:
        if relation in entity.children:
            model = entity.children[relation]
            spec = filter_fields.get(relation)
            tables.append(
                _Table(
                    relation,
                    model,
                    relation,
                    {"invoice_id": msgspec.inspect.StrType(), **column_types(model)},
                    _currency_fields(spec.sub_fields if spec is not None else ()),
                )
            )
    return tables


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
        self.files: dict[str, io.BufferedRandom] = {}
        for name in names:
            path = directory / name
            handle = path.open("r+b" if path.exists() else "w+b")
            # Drop whatever a killed run wrote after its last commit.
            handle.truncate(committed.get(name, 0))
            handle.seek(0, os.SEEK_END)
            self.files[name] = handle

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


def _copy(source: Path, out: IO[bytes], digest: Any) -> None:
    with source.open("rb") as piece:
        while chunk := piece.read(1 << 20):
            out.write(chunk)
            digest.update(chunk)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class _AtomicFile:
    """A final file written under a temporary name and renamed into place when complete."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.temp = target.with_name(f".{target.name}.tmp")
        self.digest = hashlib.sha256()
        self.handle = self.temp.open("wb")

    def write(self, data: bytes) -> None:
        self.handle.write(data)
        self.digest.update(data)

    def commit(self) -> str:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        os.replace(self.temp, self.target)
        return self.digest.hexdigest()


# -- the export ---------------------------------------------------------------------------------
class _Export:
    def __init__(
        self, kb: KanbertClient, config: ExportConfig, progress: Callable[[dict[str, Any]], None] | None
    ) -> None:
        self.kb = kb
        self.config = config
        self.plan = _prepare(kb, config)
        self.entity = self.plan.entity
        self.formats = config.formats()
        self.dialect: CsvDialect = CSV_DIALECTS[config.csv_dialect]
        self.out = config.out
        self.work = self.out / WORK_DIR
        self.progress = progress or (lambda _: None)
        self.jsonl = f"{self.entity.stem}.jsonl"
        self.csv_columns: dict[str, list[str]] = (
            {f"{t.stem}.csv": list(t.columns) for t in self.plan.tables} if "csv" in self.formats else {}
        )
        # The JSONL part is always written: Parquet, PDF names and --since-last are made from it.
        self.part_names = [self.jsonl, *self.csv_columns]
        self.state_lock = asyncio.Lock()
        self.pdf_slots = asyncio.Semaphore(config.concurrency)
        self.counters: dict[str, int] = {"pages": 0, "pdfs": 0}
        self.started = time.monotonic()
        self.previous: dict[str, Any] | None = None

    # -- directory and state ----------------------------------------------------------------
    def _read_manifest(self) -> dict[str, Any] | None:
        try:
            manifest = msgspec.json.decode((self.out / MANIFEST).read_bytes())
        except (OSError, msgspec.DecodeError):
            return None
        return manifest if isinstance(manifest, dict) and isinstance(manifest.get("identity"), dict) else None

    def _differing(self, identity: dict[str, Any], ignore: frozenset[str] = frozenset()) -> list[str]:
        mine = self.config.identity()
        return sorted(
            k for k in mine.keys() | identity.keys() if k not in ignore and mine.get(k) != identity.get(k)
        )

    def _open_state(self) -> _State:
        if self.out.exists() and not self.out.is_dir():
            raise ExportError(f"--out {self.out} is a file; choose a directory (new or empty)")
        state_path = self.work / STATE_FILE
        since_last = self.config.since_last
        if state_path.exists():
            return self._resume_state(state_path)
        manifest = self._read_manifest()
        if (self.out / MANIFEST).exists():
            if since_last:
                return self._next_generation(manifest)
            finished = manifest is not None and not self._differing(manifest["identity"], _RUN_ONLY_KEYS)
            if self.config.resume and finished:
                raise _AlreadyFinished
            raise ExportError(
                f"{self.out} already holds a finished export; add --since-last to bring it up to date, "
                "or choose an empty --out directory"
            )
        if since_last:
            raise ExportError(
                f"--since-last: {self.out} holds no finished export to continue; run a full export first "
                "(without --since-last)"
            )
        # A run killed before its first checkpoint leaves at most an empty working directory:
        # starting afresh is then exactly what resuming it means.
        leftovers = [p for p in self.out.iterdir() if p.name != WORK_DIR] if self.out.exists() else []
        if leftovers:
            raise ExportError(
                f"{self.out} is not empty and holds no export of kanbert-async; choose an empty or new "
                "--out directory (nothing in it was changed)"
            )
        return self._new_state(mode="full", generation=1)

    def _new_state(self, *, mode: str, generation: int, since_watermark: str | None = None) -> _State:
        return _State(
            identity=self.config.identity(),
            base_url=self.kb.base_url,
            started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            plan_field="",
            runs=1,
            mode=mode,
            generation=generation,
            since_watermark=since_watermark,
        )

    def _resume_state(self, state_path: Path) -> _State:
        incremental = "--since-last --resume"
        try:
            state: _State = read_json(state_path, _State)
        except (msgspec.DecodeError, msgspec.ValidationError, OSError) as exc:
            raise ExportError(f"cannot read the export state in {state_path}: {exc}") from None
        if not self.config.resume:
            again = incremental if state.mode == "since-last" else "--resume"
            raise ExportError(
                f"{self.out} already holds an unfinished export; add {again} to continue it, "
                "or choose an empty --out directory"
            )
        if state.mode == "since-last" and not self.config.since_last:
            raise ExportError(
                f"{self.out} holds an unfinished --since-last run; continue it with {incremental}"
            )
        if state.mode != "since-last" and self.config.since_last:
            raise ExportError(
                f"{self.out} holds an unfinished full export; finish it with --resume (without --since-last) "
                "before adding what changed"
            )
        differing = self._differing(state.identity, _RUN_ONLY_KEYS)
        if differing:
            raise ExportError(
                f"--resume: {self.out} holds a different export (it differs in: {', '.join(differing)}); "
                "rerun with the original options or choose another --out"
            )
        if state.base_url != self.kb.base_url:
            raise ExportError(
                f"--resume: {self.out} was exported from {state.base_url}, not {self.kb.base_url}"
            )
        if state.mode == "since-last":
            self.previous = self._read_manifest()
            if self.previous is None:
                raise ExportError(f"--since-last: the manifest in {self.out} is missing or unreadable")
        state.runs += 1
        return state

    def _next_generation(self, manifest: dict[str, Any] | None) -> _State:
        if manifest is None:
            raise ExportError(
                f"--since-last: cannot read {self.out / MANIFEST}; run a full export into a new --out"
            )
        differing = self._differing(manifest["identity"], _RUN_ONLY_KEYS)
        if differing:
            raise ExportError(
                f"--since-last: the export in {self.out} was made with other options (they differ in: "
                f"{', '.join(differing)}); rerun with its options, which manifest.json lists under identity"
            )
        if manifest.get("base_url") != self.kb.base_url:
            raise ExportError(
                f"--since-last: {self.out} was exported from {manifest.get('base_url')}, "
                f"not {self.kb.base_url}"
            )
        if self.plan.capabilities is None or "updated_at" not in self.plan.capabilities.sorts:
            raise ExportError(f"--since-last: {self.entity.name} cannot be sorted by updated_at")
        self.previous = manifest
        return self._new_state(
            mode="since-last",
            generation=int(manifest.get("generation", 1)) + 1,
            since_watermark=manifest.get("watermark"),
        )

    def _check_writable(self) -> None:
        try:
            (self.work / PDF_DIR).mkdir(parents=True, exist_ok=True)
            probe = self.work / ".probe"
            probe.write_bytes(b"")
            probe.unlink()
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

    def _list(self, **arguments: Any) -> Any:
        include = list(self.config.include) or None
        return self.entity.list(self.kb)(include=include, filter=self.plan.tree, **arguments)

    # -- running ------------------------------------------------------------------------------
    async def run(self) -> ExportResult:
        try:
            state = self._open_state()
        except _AlreadyFinished:
            return self._finished_result()
        self._check_writable()
        self._base_stats = (state.requests, state.retries, state.rate_limited)
        if state.mode == "since-last":
            from .incremental import changed_pages

            if not state.parts:
                state.parts = {"0": _PartState()}
                await self._save(state)
            pages: AsyncIterator[Page[Any]] = changed_pages(self._list, state, self.config.page_size)
            scan = None
        else:
            scan = await self._scan(state)
            pages = scan.pages()
        writers = {
            int(k): _PartWriter(self.work / "parts" / k, self.part_names, part.sizes)
            for k, part in state.parts.items()
            if not part.done
        }
        try:
            await self._consume(pages, writers, state)
        finally:
            for writer in writers.values():
                writer.close()
        if not all(part.done for part in state.parts.values()):
            raise ExportFailed("the listing ended before every partition finished")
        if state.mode == "since-last":
            from .incremental import merge

            return await merge(self, state)
        return await self._finish(state, scan.stats.duplicates if scan is not None else 0)

    async def _scan(self, state: _State) -> Any:
        pager = self._list(page_size=self.config.page_size).keep_raw()
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
            # The newest change before the first page is read: the next --since-last starts there.
            state.watermark = await self._newest_change()
            state.plan = [_range_to_json(r) for r in await scan.plan()]
            state.plan_field = caps_field
            state.parts = {str(i): _PartState() for i in range(len(state.plan))}
            await self._save(state)
        return scan

    async def _newest_change(self) -> str | None:
        capabilities = self.plan.capabilities
        if capabilities is None or "updated_at" not in capabilities.sorts:
            return None
        page = await self._list(sort=["-updated_at"], page_size=1).first_page()
        newest = getattr(page.items[0], "updated_at", None) if page.items else None
        return newest.isoformat() if isinstance(newest, dt.datetime) else None

    def _partition_field(self, pager: Any) -> str:
        capabilities = pager.capabilities
        preferred = [f.name for f in capabilities.partition_fields() if f.name in capabilities.sorts]
        if not preferred:
            raise ExportError(f"{self.entity.name} offers no date or amount field to partition on")
        return str(preferred[0])

    async def _consume(self, pages: Any, writers: dict[int, _PartWriter], state: _State) -> None:
        chains: dict[int, asyncio.Task[None]] = {}
        in_flight = asyncio.Semaphore(max(4, 2 * self.config.partitions))
        try:
            async with asyncio.TaskGroup() as group:
                async for page in pages:
                    await in_flight.acquire()
                    index = page.partition
                    sizes, counts = self._write(writers[index], page)
                    previous = chains.get(index)
                    chains[index] = group.create_task(
                        self._commit(page, writers[index], sizes, counts, previous, state, in_flight)
                    )
        except BaseExceptionGroup as failed:
            # The listing's or a commit's own error (a 422, a failed PDF), not the task group's wrapper.
            raise first_error(failed) from None

    def _write(self, writer: _PartWriter, page: Page[Any]) -> tuple[dict[str, int], dict[str, int]]:
        counts = {self.entity.stem: len(page.items)}
        assert page.raw is not None
        writer.append(self.jsonl, b"".join(bytes(raw) + b"\n" for raw in page.raw))
        builtins = [msgspec.to_builtins(item) for item in page.items] if self.csv_columns else []
        for relation in self.config.include:
            counts[relation] = sum(len(getattr(item, relation, None) or ()) for item in page.items)
        decimal = self.dialect.decimal
        for name, columns in self.csv_columns.items():
            stem = name.removesuffix(".csv")
            if stem == self.entity.stem:
                rows = [row_for(b, columns, decimal=decimal) for b in builtins]
            else:
                rows = [
                    [b["id"], *row_for(child, columns[1:], decimal=decimal)]
                    for b in builtins
                    for child in b.get(stem) or ()
                ]
            writer.append(name, self.dialect.encode(rows))
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
                size = await pdf(self.kb, item.id).save(self.work / PDF_DIR / id_file_name(item.id))
            self.counters["pdfs"] += 1
            return size

        failures = [
            r for r in await self.kb.map(save, items, concurrency=self.config.concurrency) if not r.ok
        ]
        if failures:
            first = failures[0]
            raise ExportFailed(
                f"{len(failures)} PDF download(s) failed, e.g. {self.entity.record} {first.item.id}: "
                f"{first.error}"
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
    def part_paths(self, name: str, state: _State) -> list[Path]:
        """The part files of ``name`` in plan order."""
        return [self.work / "parts" / key / name for key in sorted(state.parts, key=int)]

    def records(self, paths: list[Path]) -> Iterator[Any]:
        """The records of JSONL part files, decoded into the model."""
        decoder = msgspec.json.Decoder(self.entity.model)
        for path in paths:
            with path.open("rb") as lines:
                for line in lines:
                    yield decoder.decode(line)

    def parquet_tables(self, directory: Path) -> dict[str, ParquetTable]:
        """Open a Parquet writer per table; each writes ``.<stem>.parquet.tmp`` in ``directory``."""
        return {
            t.stem: ParquetTable(directory / f".{t.stem}.parquet.tmp", t.columns, t.money)
            for t in self.plan.tables
        }

    def add_parquet_rows(self, tables: dict[str, ParquetTable], records: Iterator[Any]) -> None:
        """Add each record's row, and its relations' rows, to the Parquet tables."""
        stem = self.entity.stem
        for record in records:
            builtins = msgspec.to_builtins(record, builtin_types=BUILTIN_TYPES)
            tables[stem].add(builtins)
            for table in self.plan.tables[1:]:
                for child in builtins.get(table.stem) or ():
                    tables[table.stem].add(child, prefix={"invoice_id": builtins["id"]})

    def commit_parquet(self, tables: dict[str, ParquetTable]) -> dict[str, str]:
        """Close the Parquet writers and rename their files into place; their sha256 by name."""
        files = {}
        for stem, table in tables.items():
            table.close()
            name = f"{stem}.parquet"
            temp = self.out / f".{name}.tmp"
            with temp.open("rb") as handle:
                os.fsync(handle.fileno())
            os.replace(temp, self.out / name)
            files[name] = _sha256(self.out / name)
        return files

    def pdf_names(self, paths: list[Path], keep: dict[str, str], notes: dict[str, str]) -> PdfNames:
        """Name the PDFs of the records in JSONL ``paths`` (``keep``: names given earlier)."""
        names = PdfNames(self.config.pdf_name, notes=dict(notes))
        if self.config.pdf_name == DEFAULT_TEMPLATE:
            records: Iterator[dict[str, Any]] = (
                {"id": record_id(line)} for path in paths for line in path.read_bytes().splitlines()
            )
        else:
            records = (msgspec.json.decode(line) for path in paths for line in path.read_bytes().splitlines())
        names.assign(records, keep)
        return names

    def move_pdfs(self, names: PdfNames, ids: set[str] | None = None) -> None:
        """Move downloaded PDFs (of ``ids``, default all) to their names in ``pdfs/`` (repeatable)."""
        target = self.out / PDF_DIR
        target.mkdir(exist_ok=True)
        for key, name in names.files.items():
            if ids is not None and key not in ids:
                continue
            source = self.work / PDF_DIR / id_file_name(key)
            if source.exists():
                os.replace(source, target / name)
        fsync_dir(target)

    async def _finish(self, state: _State, duplicates: int) -> ExportResult:
        files: dict[str, str] = {}
        jsonl_parts = self.part_paths(self.jsonl, state)
        if "jsonl" in self.formats:
            final = _AtomicFile(self.out / self.jsonl)
            for path in jsonl_parts:
                _copy(path, final.handle, final.digest)
            files[self.jsonl] = final.commit()
        for name, columns in self.csv_columns.items():
            final = _AtomicFile(self.out / name)
            final.write(self.dialect.preamble() + self.dialect.encode([columns]))
            for path in self.part_paths(name, state):
                _copy(path, final.handle, final.digest)
            files[name] = final.commit()
        if "parquet" in self.formats:
            tables = self.parquet_tables(self.out)
            self.add_parquet_rows(tables, self.records(jsonl_parts))
            files.update(self.commit_parquet(tables))
        counts: dict[str, int] = {}
        for part in state.parts.values():
            for key, value in part.counts.items():
                counts[key] = counts.get(key, 0) + value
        names = None
        if self.config.pdfs:
            names = self.pdf_names(jsonl_parts, {}, {})
            self.move_pdfs(names)
            counts["pdfs"] = len(names.files)
            for name in sorted(names.files.values()):
                files[f"{PDF_DIR}/{name}"] = _sha256(self.out / PDF_DIR / name)
        await self._save(state)
        history = [self.generation_entry(state, counts, None)]
        return self.write_manifest(state, counts, files, names, history, duplicates)

    def generation_entry(
        self, state: _State, counts: dict[str, int], changes: dict[str, int] | None
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
            "records": counts.get(self.entity.stem, 0),
            "requests": state.requests,
        }

    def write_manifest(
        self,
        state: _State,
        counts: dict[str, int],
        files: dict[str, str],
        names: PdfNames | None,
        history: list[dict[str, Any]],
        duplicates: int,
        changes: dict[str, int] | None = None,
    ) -> ExportResult:
        """Write the manifest, remove the working directory, and say what the export produced."""
        warnings = list(self.plan.warnings)
        if counts.get(self.entity.stem, 0) == 0:
            what = "the filters matched" if self.plan.scope else "the listing holds"
            warnings.append(f"no {self.entity.records}: {what} none")
        manifest = {
            "sdk": f"kanbert-async {__version__}",
            "identity": state.identity,
            "entity": self.entity.name,
            "base_url": state.base_url,
            "generation": state.generation,
            "watermark": state.watermark,
            "filter": self.config.filter,
            "filter_sent": encode_filter(self.plan.tree),
            "archived": self.plan.archived,
            "scope": self.plan.scope,
            "warnings": warnings,
            "since": state.identity["since"],
            "until": state.identity["until"],
            "include": state.identity["include"],
            "format": list(self.formats),
            "csv_dialect": self.dialect.name if self.csv_columns else None,
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
            "parquet_columns": (
                {f"{t.stem}.parquet": list(t.columns) for t in self.plan.tables}
                if "parquet" in self.formats
                else {}
            ),
            "pdf_names": (
                {"template": names.template, "files": names.files, "notes": names.notes} if names else None
            ),
            "generations": history,
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
            elapsed=time.monotonic() - self.started,
            requests=state.requests,
            retries=state.retries,
            rate_limited=state.rate_limited,
            duplicates=duplicates,
            scope=self.plan.scope,
            warnings=warnings,
            generation=state.generation,
            changes=changes,
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
            scope=manifest.get("scope", []),
            warnings=manifest.get("warnings", []),
            generation=manifest.get("generation", 1),
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


def _check_numbers(config: ExportConfig) -> None:
    if config.partitions < 1 or config.concurrency < 1 or config.page_size < 1:
        raise InvalidRequestError("--partitions, --concurrency and --page-size must be at least 1")


async def run_export(
    kb: KanbertClient, config: ExportConfig, progress: Callable[[dict[str, Any]], None] | None = None
) -> ExportResult:
    """Export ``config.entity`` into ``config.out`` (see the module docstring for the guarantees)."""
    _check_numbers(config)
    return await _Export(kb, config, progress).run()


async def stream_export(kb: KanbertClient, config: ExportConfig, out: IO[bytes]) -> ExportResult:
    """Write the records as JSON Lines to ``out`` as they arrive (``--out -``): no files, no PDFs,
    no state — each record exactly once, in completion order."""
    _check_numbers(config)
    if config.pdfs or config.resume or config.since_last:
        raise ExportError("--out - streams JSON Lines only: drop --pdfs, --resume and --since-last")
    if config.formats() != ("jsonl",):
        raise ExportError("--out - streams JSON Lines only: drop --format or pass --format jsonl")
    plan = _prepare(kb, dataclasses.replace(config, format="jsonl"))
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
