"""The partitioned scan: one listing walked as disjoint ranges of a field, concurrently, each record once.

:meth:`~.pager.AsyncPager.partitioned` builds one. The scan probes the field's min and max, cuts
the span into ranges, narrows the caller's :class:`~.list_args.ListArgs` to each range
(:meth:`~.list_args.ListArgs.narrowed`: their filter ``and`` the range, sorted by the field), and
walks the cursor chains with a pool of workers. A partition that turns out larger than the rest
is split while it runs: an idle worker takes its upper half (see :meth:`PartitionedScan._steal`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .capabilities import Capabilities, FilterField
from .errors import InvalidRequestError, first_error
from .filters.builder import F
from .filters.tree import Filter
from .list_args import ListArgs
from .page import CursorGuard, Items, Page, PageSource, SeenKeys, item_key

__all__ = ["PartitionRange", "PartitionedScan", "ScanStats"]

T = TypeVar("T")
logger = logging.getLogger("kanbert_async")


@dataclass(slots=True)
class ScanStats:
    """What a partitioned scan did: for progress displays and manifests."""

    pages: int = 0
    items: int = 0
    duplicates: int = 0
    partitions: int = 0
    splits: int = 0


class _Axis:
    """Numbers for a partition field's values, so ranges can be cut and split evenly."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def to_number(self, value: Any) -> float:
        if self.kind == "date":
            if isinstance(value, dt.datetime):
                value = value.date()
            if isinstance(value, str):
                value = dt.date.fromisoformat(value[:10])
            return float(value.toordinal())
        if self.kind == "datetime":
            if isinstance(value, str):
                value = dt.datetime.fromisoformat(value)
            if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
                value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
            if value.tzinfo is None:
                value = value.replace(tzinfo=dt.UTC)
            return float(math.floor(value.timestamp()))
        return float(value)

    def from_number(self, number: float) -> Any:
        if self.kind == "date":
            return dt.date.fromordinal(int(number))
        if self.kind == "datetime":
            return dt.datetime.fromtimestamp(int(number), tz=dt.UTC)
        return round(number, 2) if self.kind == "currency" else number

    @property
    def step(self) -> float:
        """The smallest distance between two boundaries (a day, a second, a cent)."""
        return {"date": 1.0, "datetime": 1.0, "currency": 0.01}.get(self.kind, 1e-9)

    def ceil(self, number: float) -> float:
        """The first representable boundary at or after ``number``."""
        step = self.step
        return math.ceil(round(number / step, 6)) * step


@dataclass(frozen=True, slots=True)
class PartitionRange:
    """One partition of a scan: values in ``[low, high)`` (None = open end), or the records whose
    field is null (``nulls=True``). ``low``/``high`` are dates, datetimes or numbers."""

    low: Any = None
    high: Any = None
    nulls: bool = False


#: How often an idle walker looks for a running partition to split.
_STEAL_RETRY = 0.05


@dataclass(slots=True)
class _Partition:
    """A half-open range [low, high) of the partition field (None = open end), or the null bucket."""

    low: float | None
    high: float | None
    nulls: bool = False
    index: int = 0
    start_cursor: str | None = None
    #: Set when the partition is split while running: items at or above this value belong to another.
    stop_at: float | None = None
    position: float | None = None
    done: bool = False


class PartitionedScan(Generic[T]):
    """Concurrent cursor chains over disjoint ranges of one field; see :meth:`AsyncPager.partitioned`."""

    def __init__(
        self,
        source: PageSource[T],
        args: ListArgs,
        *,
        raw: bool = False,
        operation: str,
        capabilities: Capabilities,
        by: str,
        parts: int,
        ranges: Sequence[PartitionRange | tuple[Any, Any]] | None,
        concurrency: int,
        split: bool,
        max_items: int | None = None,
        resume: Mapping[int, str] | None = None,
        skip: frozenset[int] = frozenset(),
    ) -> None:
        if parts < 1 or concurrency < 1:
            raise InvalidRequestError(f"{operation}: parts and concurrency must be >= 1")
        self._field = self._partition_field(capabilities, by, operation)
        self._source = source
        self._args = args
        self._raw = raw
        self._operation = operation
        self._by = by
        self._parts = parts
        self._ranges = [
            r if isinstance(r, PartitionRange) else PartitionRange(*r) for r in ranges or ()
        ] or None
        self._resume = dict(resume or {})
        self._skip = skip
        self._planned: list[PartitionRange] | None = None
        self._concurrency = concurrency
        self._split = split
        self._max_items = max_items
        self._axis = _Axis("datetime" if self._field.type == "datetime" else self._field.type)
        self._seen = SeenKeys()
        self._span_high: float | None = None
        self._next_index = 0
        #: Counters, updated as the scan runs.
        self.stats = ScanStats()

    @staticmethod
    def _partition_field(capabilities: Capabilities, by: str, operation: str) -> FilterField:
        # Walkers sort by the field (see _args_for), so it must be sortable as well as rangeable.
        candidates = {f.name: f for f in capabilities.partition_fields() if f.name in capabilities.sorts}
        if by not in candidates:
            allowed = ", ".join(sorted(candidates)) or "none"
            raise InvalidRequestError(
                f"{operation}: cannot partition on {by!r}; it must be a date, datetime or currency field the "
                f"operation filters with lt/gte and sorts on. Allowed: {allowed}"
            )
        return candidates[by]

    def __repr__(self) -> str:
        return f"<PartitionedScan {self._operation} by={self._by} parts={self._parts}>"

    # -- planning ---------------------------------------------------------------------------
    def _args_for(self, partition: _Partition) -> ListArgs:
        """The caller's arguments narrowed to one partition: an ``and`` of their filter and the range."""
        field_ = F(self._by)
        condition: Filter | None
        if partition.nulls:
            condition = field_.is_null()
        else:
            bounds = []
            if partition.low is not None:
                bounds.append(field_.gte(self._axis.from_number(partition.low)))
            if partition.high is not None:
                bounds.append(field_.lt(self._axis.from_number(partition.high)))
            condition = None if not bounds else bounds[0] if len(bounds) == 1 else bounds[0] & bounds[1]
        # Ascending by the partition field, so a running partition can be split at a value above
        # everything it has yielded (see _steal).
        return self._args.narrowed(condition, sort=[self._by])

    async def _probe(self, descending: bool) -> float | None:
        """The field's lowest (or highest) value in the listing: one record, no includes."""
        sort = [f"-{self._by}" if descending else self._by]
        probe = dataclasses.replace(
            self._args.narrowed(F(self._by).is_not_null(), sort=sort), page_size=1, include=None
        )
        page = await self._source.fetch(self._source.prepare(probe), None)
        self.stats.pages += 1
        if not page.items:
            return None
        return self._axis.to_number(_field_value(page.items[0], self._by))

    async def plan(self) -> list[PartitionRange]:
        """The partitions this scan walks (probing the field's min and max on first call)."""
        if self._planned is None:
            self._planned = self._ranges if self._ranges is not None else await self._plan_from_data()
        return list(self._planned)

    async def _plan_from_data(self) -> list[PartitionRange]:
        ranges: list[PartitionRange] = []
        # Both ends at once: the probes are independent, and the scan waits on the slower one.
        low, high = await asyncio.gather(self._probe(False), self._probe(True))
        if low is not None and high is not None:
            self._span_high = high
            cuts = sorted(
                {self._axis.ceil(low + (high - low) * i / self._parts) for i in range(1, self._parts)}
            )
            cuts = [c for c in cuts if low < c <= high]
            edges: list[float | None] = [None, *cuts, None]
            ranges = [
                PartitionRange(
                    None if a is None else self._axis.from_number(a),
                    None if b is None else self._axis.from_number(b),
                )
                for a, b in itertools.pairwise(edges)
            ]
        if self._nullable():
            ranges.append(PartitionRange(nulls=True))
        return ranges

    async def _partitions(self) -> list[_Partition]:
        """The plan as running partitions, minus skipped ones, each from its resume cursor."""
        partitions = []
        for index, r in enumerate(await self.plan()):
            if index in self._skip:
                continue
            partitions.append(
                _Partition(
                    None if r.low is None else self._axis.to_number(r.low),
                    None if r.high is None else self._axis.to_number(r.high),
                    nulls=r.nulls,
                    index=index,
                    start_cursor=self._resume.get(index),
                )
            )
        return partitions

    def _nullable(self) -> bool:
        return "isnull" in self._field.operators

    # -- running ----------------------------------------------------------------------------
    def __aiter__(self) -> Items[T]:
        return Items(self.pages())

    def pages(self) -> _ScanPages[T]:
        """Pages from all partitions as they arrive (each item once; duplicates dropped and counted)."""
        return _ScanPages(self)

    async def _run(self, queue: asyncio.Queue[Page[T] | BaseException | None]) -> None:
        """Plan the partitions, then walk them with ``concurrency`` workers; None on the queue ends it."""
        try:
            pending = await self._partitions()
            self._next_index = len(await self.plan())
            self.stats.partitions = len(pending)
            active: list[_Partition] = []

            async def worker() -> None:
                while True:
                    partition = pending.pop(0) if pending else (self._steal(active) if self._split else None)
                    if partition is None:
                        if not self._split or not active:
                            return
                        # Nothing to split yet (partitions not far enough along): look again soon
                        # rather than leave the rest of the listing to fewer walkers.
                        await asyncio.sleep(_STEAL_RETRY)
                        continue
                    active.append(partition)
                    try:
                        await self._walk(partition, queue)
                    finally:
                        active.remove(partition)

            async with asyncio.TaskGroup() as group:
                for _ in range(min(self._concurrency, max(len(pending), 1))):
                    group.create_task(worker())
            await queue.put(None)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            # Every walker meets the same refusal (a page size the server rejects, a lost token):
            # the caller gets that API error, not an ExceptionGroup of copies.
            await queue.put(first_error(exc))

    def _dedupe(self, items: list[T]) -> list[int]:
        """Positions of the items not seen before; a record moved between partitions mid-scan
        (its field changed) would otherwise arrive twice."""
        fresh = []
        for position, item in enumerate(items):
            key = item_key(item)
            if key is None or self._seen.add(key):
                fresh.append(position)
            else:
                self.stats.duplicates += 1
                logger.info(
                    "%s: dropped a duplicate of %r (it moved between partitions)", self._operation, key
                )
        return fresh

    def _steal(self, active: list[_Partition]) -> _Partition | None:
        """Split the running partition with the most span left; the idle worker takes the upper half."""
        best: tuple[float, _Partition] | None = None
        for partition in active:
            if partition.nulls or partition.done or partition.position is None:
                continue
            high = partition.stop_at if partition.stop_at is not None else partition.high
            if high is None:
                high = self._span_high
            if high is None:
                continue
            span = high - partition.position
            if span > 2 * self._axis.step and (best is None or span > best[0]):
                best = (span, partition)
        if best is None:
            return None
        span, victim = best
        assert victim.position is not None
        # The cut must lie above every value the victim may still yield at its current position.
        cut = self._axis.ceil(victim.position + max(span / 2, self._axis.step))
        old_high = victim.stop_at if victim.stop_at is not None else victim.high
        if old_high is not None and cut >= old_high:
            return None
        victim.stop_at = cut
        self.stats.splits += 1
        self.stats.partitions += 1
        self._next_index += 1
        return _Partition(cut, old_high, index=self._next_index - 1)

    async def _walk(
        self, partition: _Partition, queue: asyncio.Queue[Page[T] | BaseException | None]
    ) -> None:
        prepared = self._source.prepare(self._args_for(partition))
        guard = CursorGuard(self._operation)
        cursor = partition.start_cursor
        while True:
            page = await self._source.fetch(prepared, cursor, raw=self._raw)
            guard.check(page)
            self.stats.pages += 1
            items = page.items
            if items and not partition.nulls:
                partition.position = self._axis.to_number(_field_value(items[-1], self._by))
            page = Page(items, page.cursor, page.next_cursor, page.meta, partition.index, page.raw)
            if partition.stop_at is not None and not partition.nulls:
                stop = partition.stop_at
                keep = [
                    n for n, i in enumerate(items) if self._axis.to_number(_field_value(i, self._by)) < stop
                ]
                if len(keep) < len(items):
                    await queue.put(page.subset(keep, next_cursor=None))
                    partition.done = True
                    return
            await queue.put(page)
            if page.next_cursor is None:
                partition.done = True
                return
            cursor = page.next_cursor


def _field_value(item: Any, dotted: str) -> Any:
    value = item
    for part in dotted.split("."):
        value = getattr(value, part, None) if not isinstance(value, Mapping) else value.get(part)
    return value


class _ScanPages(Generic[T]):
    """The page iterator of a :class:`PartitionedScan`; dropping or closing it cancels every walker."""

    def __init__(self, scan: PartitionedScan[T]) -> None:
        self._scan = scan
        self._queue: asyncio.Queue[Page[T] | BaseException | None] = asyncio.Queue(maxsize=scan._concurrency)
        self._runner: asyncio.Task[None] | None = None
        self._delivered = 0
        self._done = False

    def __aiter__(self) -> _ScanPages[T]:
        return self

    async def __anext__(self) -> Page[T]:
        if self._done:
            raise StopAsyncIteration
        if self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(self._scan._run(self._queue))
        try:
            result = await self._queue.get()
        except BaseException:
            await self.aclose()
            raise
        if result is None:
            self._done = True
            raise StopAsyncIteration
        if isinstance(result, BaseException):
            await self.aclose()
            raise result
        scan = self._scan
        fresh = scan._dedupe(result.items)
        if scan._max_items is not None:
            fresh = fresh[: scan._max_items - self._delivered]
            if self._delivered + len(fresh) >= scan._max_items:
                await self.aclose()
        self._delivered += len(fresh)
        scan.stats.items += len(fresh)
        return result.subset(fresh)

    async def aclose(self) -> None:
        """Stop the scan: cancel every partition walker and wait for them."""
        self._done = True
        runner, self._runner = self._runner, None
        if runner is not None and not runner.done():
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner

    def __del__(self) -> None:
        if self._runner is not None and not self._runner.done():
            self._runner.cancel()
