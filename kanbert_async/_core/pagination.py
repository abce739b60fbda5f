"""Cursor pagers: page-ahead prefetch, safe cancellation, and partitioned concurrent scans.

A Kanbert list names its next page in each response, so a plain loop pays one round trip per page,
one after another. :class:`AsyncPager` overlaps the next fetch with the caller's work (prefetch),
and :meth:`AsyncPager.partitioned` splits the listing into disjoint filter ranges on a sortable
field and walks the cursor chains concurrently — every record exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import logging
import math
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .capabilities import Capabilities, FilterField
from .errors import InvalidRequestError, PaginationError
from .filters.builder import F
from .filters.encode import and_
from .filters.tree import Filter

__all__ = ["AsyncPager", "Page", "PageFetcher", "PartitionRange", "PartitionedScan", "ScanStats"]

T = TypeVar("T")
logger = logging.getLogger("kanbert_async")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing: its items, the cursor that fetched it and the one after it."""

    items: list[T]
    cursor: str | None
    next_cursor: str | None
    meta: Any = None
    #: In a partitioned scan: the index of the partition (in :meth:`PartitionedScan.plan`) it belongs to.
    partition: int | None = None
    #: With :meth:`AsyncPager.keep_raw`: each item's JSON exactly as the server sent it.
    raw: list[Any] | None = None

    def subset(self, keep: list[int], *, next_cursor: str | object | None = ...) -> Page[T]:
        """The same page with only the items at positions ``keep`` (raw JSON kept aligned)."""
        return Page(
            [self.items[i] for i in keep],
            self.cursor,
            self.next_cursor if next_cursor is ... else next_cursor,  # type: ignore[arg-type]
            self.meta,
            self.partition,
            None if self.raw is None else [self.raw[i] for i in keep],
        )

    @property
    def is_last(self) -> bool:
        """No page follows this one."""
        return self.next_cursor is None


#: Fetches one page: (query arguments, cursor) → page. The client supplies it; the query arguments
#: are the list operation's raw arguments (sort, include, filter, page_size, ...).
PageFetcher = Callable[[Mapping[str, Any], str | None], Awaitable[Page[T]]]


def _item_key(item: Any) -> Any:
    return getattr(item, "id", None)


class _CursorGuard:
    """Stops a chain whose server repeats a cursor or a page instead of looping forever."""

    def __init__(self, operation: str) -> None:
        self._operation = operation
        self._seen: set[str] = set()
        self._last_keys: tuple[Any, ...] | None = None

    def check(self, page: Page[Any]) -> None:
        items = page.items
        # Ids are unique within a listing: the same length, first and last id is the same page.
        keys = (len(items), _item_key(items[0]), _item_key(items[-1])) if items else ()
        if keys and keys == self._last_keys and None not in keys:
            raise PaginationError(
                f"{self._operation}: the server returned the same page twice (cursor {page.cursor!r}); "
                "stopped instead of looping. Items so far were delivered once."
            )
        self._last_keys = keys
        if page.next_cursor is not None:
            if page.next_cursor in self._seen or page.next_cursor == page.cursor:
                raise PaginationError(
                    f"{self._operation}: the server returned cursor {page.next_cursor!r} a second time; "
                    "stopped instead of looping. Items so far were delivered once."
                )
            self._seen.add(page.next_cursor)


class AsyncPager(Generic[T]):
    """A cursor-paginated listing.

    - ``async for item in pager`` — every item; ``async for page in pager.pages()`` — pages.
    - ``await pager.first_page()``; ``await pager.to_list()``.
    - ``pager.cursor`` — after each page: the cursor to resume from once that page is processed
      (``start_cursor=`` on a new call continues there). None when the listing is complete.
    - ``prefetch=n`` fetches up to ``n`` pages ahead while the caller works (0 disables).
    - ``pager.partitioned(by=..., parts=...)`` — a concurrent scan of the same listing.

    Example::

        async for invoice in kb.outgoing_invoices.list(include=["line_items"], page_size=100):
            ...
    """

    def __init__(
        self,
        fetch: PageFetcher[T],
        query: Mapping[str, Any],
        *,
        operation: str,
        capabilities: Capabilities | None = None,
        start_cursor: str | None = None,
        max_items: int | None = None,
        max_pages: int | None = None,
        prefetch: int = 1,
        fetch_raw: PageFetcher[T] | None = None,
    ) -> None:
        if prefetch < 0:
            raise InvalidRequestError(f"{operation}: prefetch must be >= 0, not {prefetch}")
        self._fetch = fetch
        self._fetch_raw = fetch_raw
        self._query = dict(query)
        self._operation = operation
        self._capabilities = capabilities
        self._start_cursor = start_cursor
        self._max_items = max_items
        self._max_pages = max_pages
        self._prefetch = prefetch
        self._started = False
        #: The cursor to resume from after the last page handed to the caller.
        self.cursor: str | None = start_cursor

    def __repr__(self) -> str:
        return f"<AsyncPager {self._operation} cursor={self.cursor!r}>"

    @property
    def operation(self) -> str:
        """The list operation's id, e.g. ``outgoingInvoices.index``."""
        return self._operation

    @property
    def capabilities(self) -> Capabilities | None:
        """What the operation accepts in sort, include and filter (None if undocumented)."""
        return self._capabilities

    def keep_raw(self) -> AsyncPager[T]:
        """Also hand out each item's JSON exactly as sent (``page.raw``), e.g. to archive it verbatim.

        Each item is still decoded once; the raw bytes are spans of the response, not a copy.
        """
        if self._fetch_raw is None:
            raise InvalidRequestError(f"{self._operation}: this pager cannot keep raw JSON")
        self._fetch = self._fetch_raw
        return self

    async def first_page(self) -> Page[T]:
        """Only the first page (honours ``start_cursor``)."""
        page = await self._fetch(self._query, self._start_cursor)
        return page.subset(list(range(len(page.items)))[: self._max_items])

    def pages(self) -> _PagerPages[T]:
        """Pages in order; breaking out (or cancelling) cancels any prefetch in flight."""
        if self._started:
            raise InvalidRequestError(
                f"{self._operation}: a pager can be iterated once; call the list method again"
            )
        self._started = True
        stream = _PageStream(self._fetch, self._query, self._start_cursor, self._prefetch, self._operation)
        return _PagerPages(self, stream)

    def __aiter__(self) -> _Items[T]:
        return _Items(self.pages())

    def _limit(self, page: Page[T], count: int) -> tuple[Page[T], bool]:
        """Apply max_items/max_pages to the ``count``-th page; also whether the listing stops here."""
        stop = self._max_pages is not None and count >= self._max_pages
        if self._max_items is not None:
            page = page.subset(list(range(min(len(page.items), self._max_items))))
            self._max_items -= len(page.items)
            stop = stop or self._max_items <= 0
        self.cursor = page.next_cursor
        return page, stop

    async def to_list(self) -> list[T]:
        """Every item in a list (mind the memory for large listings)."""
        items = _Items(self.pages())
        try:
            return [item async for item in items]
        finally:
            await items.aclose()

    def partitioned(
        self,
        by: str,
        parts: int = 8,
        *,
        ranges: Sequence[PartitionRange | tuple[Any, Any]] | None = None,
        concurrency: int | None = None,
        split: bool = True,
        resume: Mapping[int, str] | None = None,
        skip: Collection[int] = (),
    ) -> PartitionedScan[T]:
        """Walk the listing as ``parts`` disjoint ranges of field ``by``, concurrently.

        ``by`` must be a date, datetime or currency field that the operation both filters (``lt``,
        ``gte``) and sorts on. Ranges come from the data (its min and max); explicit ``ranges`` —
        :class:`PartitionRange` or ``(low, high)`` pairs, half-open, None for an open end — replace
        them. Records whose ``by`` is null get a partition of their own. A partition that turns out
        larger than the rest is split while it runs (``split=False`` disables). The caller's own
        filter is combined with each partition's range. Items arrive in completion order, each
        exactly once; every page says which partition it came from (``page.partition``).

        To checkpoint and resume a scan: persist ``await scan.plan()`` and, per partition, the
        ``next_cursor`` of its last processed page; later pass ``ranges=`` the plan, ``split=False``,
        ``resume={index: cursor}`` and ``skip=`` the finished partitions.

        Example::

            scan = kb.outgoing_invoices.list(page_size=100).partitioned(by="date_of_invoice", parts=8)
            async for invoice in scan:
                ...
            print(scan.stats)
        """
        if self._started:
            raise InvalidRequestError(f"{self._operation}: this pager was already iterated")
        if self._capabilities is None:
            raise InvalidRequestError(
                f"{self._operation}: this operation documents no filter table to partition on"
            )
        self._started = True
        return PartitionedScan(
            self._fetch,
            self._query,
            operation=self._operation,
            capabilities=self._capabilities,
            by=by,
            parts=parts,
            ranges=ranges,
            concurrency=concurrency or parts,
            split=split,
            max_items=self._max_items,
            resume=resume or {},
            skip=frozenset(skip),
        )


async def _produce(
    fetch: PageFetcher[Any],
    query: Mapping[str, Any],
    cursor: str | None,
    guard: _CursorGuard,
    queue: asyncio.Queue[Page[Any] | BaseException | None],
    permits: asyncio.Semaphore,
) -> None:
    """Fetch pages ahead into ``queue``; a permit per page fetched but not yet taken bounds memory."""
    try:
        while True:
            await permits.acquire()
            page = await fetch(query, cursor)
            guard.check(page)
            queue.put_nowait(page)
            cursor = page.next_cursor
            if cursor is None:
                queue.put_nowait(None)
                return
    except asyncio.CancelledError:
        raise
    except BaseException as exc:  # handed to the consumer, which raises it in its own task
        queue.put_nowait(exc)


class _PagerPages(Generic[T]):
    """The page iterator of an :class:`AsyncPager` (a class, not an async generator, so dropping it
    on ``break`` cancels the prefetch at once instead of leaving a finaliser task behind)."""

    def __init__(self, pager: AsyncPager[T], stream: _PageStream) -> None:
        self._pager = pager
        self._stream = stream
        self._count = 0
        self._stopped = False

    def __aiter__(self) -> _PagerPages[T]:
        return self

    async def __anext__(self) -> Page[T]:
        if self._stopped:
            raise StopAsyncIteration
        try:
            page = await self._stream.__anext__()
        except BaseException:
            await self._stream.aclose()
            raise
        self._count += 1
        page, self._stopped = self._pager._limit(page, self._count)
        if self._stopped:
            await self._stream.aclose()
        return page

    async def aclose(self) -> None:
        """Stop early: cancel and await any prefetch in flight."""
        self._stopped = True
        await self._stream.aclose()


class _Items(Generic[T]):
    """Items of a page iterator, one by one."""

    def __init__(self, pages: _PagerPages[T] | _ScanPages[T]) -> None:
        self._pages = pages
        self._current: list[T] = []
        self._index = 0

    def __aiter__(self) -> _Items[T]:
        return self

    async def __anext__(self) -> T:
        while self._index >= len(self._current):
            self._current = (await self._pages.__anext__()).items
            self._index = 0
        item = self._current[self._index]
        self._index += 1
        return item

    async def aclose(self) -> None:
        """Stop early, cancelling fetches in flight."""
        await self._pages.aclose()


class _PageStream:
    """Pages of one cursor chain, with up to ``depth`` pages fetched ahead by a background task."""

    def __init__(
        self,
        fetch: PageFetcher[Any],
        query: Mapping[str, Any],
        cursor: str | None,
        depth: int,
        operation: str,
    ) -> None:
        self._fetch = fetch
        self._query = query
        self._cursor = cursor
        self._depth = depth
        self._guard = _CursorGuard(operation)
        self._done = False
        self._task: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue[Page[Any] | BaseException | None] | None = None
        self._permits: asyncio.Semaphore | None = None

    def __aiter__(self) -> _PageStream:
        return self

    async def __anext__(self) -> Page[Any]:
        if self._done:
            raise StopAsyncIteration
        if self._depth == 0:
            return await self._next_inline()
        if self._task is None:
            self._queue = asyncio.Queue()
            self._permits = asyncio.Semaphore(self._depth)
            # The task gets the pieces it needs, not `self`: a task referring back to this stream
            # would keep it alive, and __del__ could never cancel the task on `break`.
            self._task = asyncio.get_running_loop().create_task(
                _produce(self._fetch, self._query, self._cursor, self._guard, self._queue, self._permits)
            )
        assert self._queue is not None and self._permits is not None
        result = await self._queue.get()
        if isinstance(result, Page):
            self._permits.release()
        if result is None:
            self._done = True
            raise StopAsyncIteration
        if isinstance(result, BaseException):
            self._done = True
            raise result
        return result

    async def _next_inline(self) -> Page[Any]:
        page = await self._fetch(self._query, self._cursor)
        self._guard.check(page)
        self._cursor = page.next_cursor
        if page.next_cursor is None:
            self._done = True
        return page

    async def aclose(self) -> None:
        """Cancel the prefetch in flight and wait for it, so no task or connection is left behind."""
        self._done = True
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def __del__(self) -> None:
        # `break` out of `async for` drops the iterator without awaiting aclose(); cancel right away.
        if self._task is not None and not self._task.done():
            self._task.cancel()


# -- partitioned scans ----------------------------------------------------------------------------
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
        fetch: PageFetcher[T],
        query: Mapping[str, Any],
        *,
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
        self._fetch = fetch
        self._query = dict(query)
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
        self._seen: set[Any] = set()
        self._span_high: float | None = None
        self._next_index = 0
        #: Counters, updated as the scan runs.
        self.stats = ScanStats()

    @staticmethod
    def _partition_field(capabilities: Capabilities, by: str, operation: str) -> FilterField:
        # Walkers sort by the field (see _query_for), so it must be sortable as well as rangeable.
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
    def _query_for(self, partition: _Partition) -> dict[str, Any]:
        """The caller's query narrowed to one partition: an ``and`` of their filter and the range."""
        query = dict(self._query)
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
        query["filter"] = and_(query.get("filter"), condition)
        # Ascending by the partition field, so a running partition can be split at a value above
        # everything it has yielded (see _steal).
        query["sort"] = [self._by]
        return query

    async def _probe(self, descending: bool) -> float | None:
        query = dict(self._query)
        query["filter"] = and_(query.get("filter"), F(self._by).is_not_null())
        query["sort"] = [f"-{self._by}" if descending else self._by]
        query["page[size]"] = 1
        query.pop("include", None)
        page = await self._fetch(query, None)
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
    def __aiter__(self) -> _Items[T]:
        return _Items(self.pages())

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
            if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
                exc = exc.exceptions[0]
            await queue.put(exc)

    def _dedupe(self, items: list[T]) -> list[int]:
        """Positions of the items not seen before; a record moved between partitions mid-scan
        (its field changed) would otherwise arrive twice."""
        fresh = []
        for position, item in enumerate(items):
            key = _item_key(item)
            if key is None:
                fresh.append(position)
            elif key in self._seen:
                self.stats.duplicates += 1
                logger.info(
                    "%s: dropped a duplicate of %r (it moved between partitions)", self._operation, key
                )
            else:
                self._seen.add(key)
                fresh.append(position)
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
        query = self._query_for(partition)
        guard = _CursorGuard(self._operation)
        cursor = partition.start_cursor
        while True:
            page = await self._fetch(query, cursor)
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
