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
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from .._client import KanbertClient
from .._core.errors import first_error
from .._core.page import Page
from .config import ExportConfig, ExportError, ExportFailed, ExportResult, check_numbers
from .durable import PartWriter
from .incremental import changed_pages, merge
from .manifest import generation_entry, result_from, write_manifest
from .output import PDF_DIR, Output
from .plan import prepare
from .state import AlreadyFinished, Checkpoint, PartState, State, open_state, range_from_json, range_to_json

__all__ = ["run_export"]


class _Export:
    """One run of an export: the listing walked, its pages written and committed, the end."""

    def __init__(
        self, kb: KanbertClient, config: ExportConfig, progress: Callable[[dict[str, Any]], None] | None
    ) -> None:
        self.kb = kb
        self.config = config
        self.plan = prepare(kb, config)
        self.entity = self.plan.entity
        self.output = Output(config, self.plan)
        self.progress = progress or (lambda _: None)
        self.state_lock = asyncio.Lock()
        self.pdf_slots = asyncio.Semaphore(config.concurrency)
        self.counters: dict[str, int] = {"pages": 0, "pdfs": 0}
        self.started = time.monotonic()

    def _check_writable(self) -> None:
        work = self.output.work
        try:
            (work / PDF_DIR).mkdir(parents=True, exist_ok=True)
            probe = work / ".probe"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise ExportError(f"cannot write to --out {self.output.out}: {exc.strerror or exc}") from None

    def _list(self, **arguments: Any) -> Any:
        include = list(self.config.include) or None
        return self.entity.list(self.kb)(include=include, filter=self.plan.tree, **arguments)

    # -- running ------------------------------------------------------------------------------
    async def run(self) -> ExportResult:
        try:
            state, previous = open_state(self.output, self.kb.base_url)
        except AlreadyFinished as finished:
            return result_from(self.output.out, finished.manifest, elapsed=0.0)
        self._check_writable()
        checkpoint = Checkpoint(self.output, self.kb, state)
        if state.mode == "since-last":
            if not state.parts:
                state.parts = {"0": PartState()}
                await checkpoint.save()
            pages: AsyncIterator[Page[Any]] = changed_pages(self._list, state, self.config.page_size)
            scan = None
        else:
            scan = await self._scan(checkpoint)
            pages = scan.pages()
        writers = {
            int(k): PartWriter(self.output.work / "parts" / k, self.output.part_names, part.sizes)
            for k, part in state.parts.items()
            if not part.done
        }
        try:
            await self._consume(pages, writers, checkpoint)
        finally:
            for writer in writers.values():
                writer.close()
        if not all(part.done for part in state.parts.values()):
            raise ExportFailed("the listing ended before every partition finished")
        if state.mode == "since-last":
            assert previous is not None
            manifest = await merge(self.output, checkpoint, previous)
        else:
            manifest = await self._finish(checkpoint, scan.stats.duplicates if scan is not None else 0)
        return result_from(
            self.output.out, manifest, elapsed=time.monotonic() - self.started, changes=state.changes
        )

    async def _scan(self, checkpoint: Checkpoint) -> Any:
        state = checkpoint.state
        pager = self._list(page_size=self.config.page_size).keep_raw()
        caps_field = self._partition_field(pager)
        done = {int(k) for k, part in state.parts.items() if part.done}
        scan = pager.partitioned(
            by=caps_field,
            parts=self.config.partitions,
            ranges=[range_from_json(r) for r in state.plan] or None,
            split=False,
            resume={int(k): part.cursor for k, part in state.parts.items() if part.cursor and not part.done},
            skip=done,
        )
        if not state.plan:
            # The newest change before the first page is read: the next --since-last starts there.
            state.watermark = await self._newest_change()
            state.plan = [range_to_json(r) for r in await scan.plan()]
            state.plan_field = caps_field
            state.parts = {str(i): PartState() for i in range(len(state.plan))}
            await checkpoint.save()
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

    async def _consume(self, pages: Any, writers: dict[int, PartWriter], checkpoint: Checkpoint) -> None:
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
                        self._commit(page, writers[index], sizes, counts, previous, checkpoint, in_flight)
                    )
        except BaseExceptionGroup as failed:
            # The listing's or a commit's own error (a 422, a failed PDF), not the task group's wrapper.
            raise first_error(failed) from None

    def _write(self, writer: PartWriter, page: Page[Any]) -> tuple[dict[str, int], dict[str, int]]:
        parts, counts = self.output.page_parts(page)
        for name, data in parts.items():
            writer.append(name, data)
        return writer.sizes(), counts

    async def _commit(
        self,
        page: Page[Any],
        writer: PartWriter,
        sizes: dict[str, int],
        counts: dict[str, int],
        previous: asyncio.Task[None] | None,
        checkpoint: Checkpoint,
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
                state = checkpoint.state
                part = state.parts[str(page.partition)]
                part.cursor = page.next_cursor
                part.done = page.next_cursor is None
                part.sizes = sizes
                for key, value in counts.items():
                    part.counts[key] = part.counts.get(key, 0) + value
                await checkpoint.save()
                self.counters["pages"] += 1
                self._report(state)
        finally:
            in_flight.release()

    async def _save_pdfs(self, items: list[Any]) -> None:
        assert self.entity.pdf is not None
        pdf = self.entity.pdf

        async def save(item: Any) -> int:
            target = self.output.downloaded_pdf(item.id)
            if self.config.resume and target.is_file():
                # Saved whole by the run this one resumes (a save is an atomic rename), though its
                # page was not committed yet: not fetched again.
                size = target.stat().st_size
            else:
                async with self.pdf_slots:
                    size = await pdf(self.kb, item.id).save(target)
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

    def _report(self, state: State) -> None:
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
    async def _finish(self, checkpoint: Checkpoint, duplicates: int) -> dict[str, Any]:
        state, output = checkpoint.state, self.output
        files = output.join_parts(state.parts)
        counts: dict[str, int] = {}
        for part in state.parts.values():
            for key, value in part.counts.items():
                counts[key] = counts.get(key, 0) + value
        names = None
        if self.config.pdfs:
            names = output.pdf_names(output.part_paths(output.jsonl, state.parts), {}, {})
            output.move_pdfs(names)
            counts["pdfs"] = len(names.files)
            files.update(output.pdf_digests(sorted(names.files.values())))
        await checkpoint.save()
        history = [generation_entry(output, state, counts, None)]
        return write_manifest(output, state, counts, files, names, history, duplicates)


def _fraction(done_items: int, finished: list[int], partitions: int) -> float:
    """Share of the export done, for the ETA. A cursor listing has no total; the finished
    partitions' sizes estimate the others' (the plan cut the field's span evenly)."""
    if not finished or partitions == 0:
        return 0.0
    if len(finished) == partitions:
        return 1.0
    estimated_total = max(done_items, sum(finished) / len(finished) * partitions)
    return min(0.99, done_items / estimated_total) if estimated_total else 0.0


async def run_export(
    kb: KanbertClient, config: ExportConfig, progress: Callable[[dict[str, Any]], None] | None = None
) -> ExportResult:
    """Export ``config.entity`` into ``config.out`` (see the module docstring for the guarantees)."""
    check_numbers(config)
    return await _Export(kb, config, progress).run()
