"""The single-chain pager: one cursor chain, its next page fetched while the caller works.

A Kanbert list names its next page in each response, so a plain loop pays one round trip per page,
one after another. :class:`AsyncPager` overlaps the next fetch with the caller's work (prefetch)
and cancels it cleanly when the caller stops; :meth:`AsyncPager.partitioned` turns the same
listing into a concurrent scan (:mod:`.scan`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Coroutine, Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .errors import InvalidRequestError
from .page import CursorGuard, Items, Page, PageSource
from .scan import PartitionedScan, PartitionRange

if TYPE_CHECKING:
    from .capabilities import Capabilities
    from .list_args import ListArgs

__all__ = ["AsyncPager"]

T = TypeVar("T")


class AsyncPager(Generic[T]):
    """A cursor-paginated listing.

    - ``async for item in pager`` — every item; ``async for page in pager.pages()`` — pages.
    - ``page = await pager`` (or ``await pager.first_page()``) — the first page; then
      ``page.has_next_page()``, ``await page.next_page()``; ``await pager.to_list()``.
    - ``pager.keep_raw()`` — also each item's JSON exactly as sent (``page.raw``), e.g. to keep
      fields this SDK's models do not know yet.
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
        source: PageSource[T],
        args: ListArgs,
        *,
        operation: str,
        capabilities: Capabilities | None = None,
        start_cursor: str | None = None,
        max_items: int | None = None,
        max_pages: int | None = None,
        prefetch: int = 1,
    ) -> None:
        if prefetch < 0:
            raise InvalidRequestError(f"{operation}: prefetch must be >= 0, not {prefetch}")
        self._source = source
        self._args = args
        # Checked and encoded now, once: a typo fails at the call, and no page encodes it again.
        self._prepared = source.prepare(args)
        self._raw = False
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
        self._raw = True
        return self

    def __await__(self) -> Generator[Any, None, Page[T]]:
        return self.first_page().__await__()

    async def first_page(self) -> Page[T]:
        """Only the first page (honours ``start_cursor``)."""
        page = await self._source.fetch(self._prepared, self._start_cursor, raw=self._raw)
        return page.subset(list(range(len(page.items)))[: self._max_items])

    def pages(self) -> _PagerPages[T]:
        """Pages in order; breaking out (or cancelling) cancels any prefetch in flight."""
        if self._started:
            raise InvalidRequestError(
                f"{self._operation}: a pager can be iterated once; call the list method again"
            )
        self._started = True
        chain = _Chain(self._source, self._prepared, self._raw)
        stream = _PageStream(chain, self._start_cursor, self._prefetch, self._operation)
        return _PagerPages(self, stream)

    def __aiter__(self) -> Items[T]:
        return Items(self.pages())

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
        items = Items(self.pages())
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
            self._source,
            self._args,
            raw=self._raw,
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
    chain: _Chain,
    cursor: str | None,
    guard: CursorGuard,
    queue: asyncio.Queue[Page[Any] | BaseException | None],
    permits: asyncio.Semaphore,
) -> None:
    """Fetch pages ahead into ``queue``; a permit per request bounds how far ahead (see _PageStream).

    When a permit is free as a response arrives, the next request leaves on the cursor the body
    seems to name, before this page is decoded: the server works while we decode. A hint the
    decoded page does not confirm is discarded and the right request sent.
    """
    ahead: asyncio.Task[Any] | None = None
    try:
        await permits.acquire()
        response = await chain.request(cursor)
        while True:
            # No free permit (the caller is still on an earlier page): no request ahead, so no hint.
            hint = None if permits.locked() else chain.hint(response)
            if hint is not None and hint != cursor:
                await permits.acquire()  # free: returns at once
                ahead = asyncio.get_running_loop().create_task(chain.request(hint))
                await asyncio.sleep(0)  # the request goes on the wire now, not after the decode
            page = chain.page(cursor, response)
            guard.check(page)
            queue.put_nowait(page)
            cursor = page.next_cursor
            if ahead is not None and hint != cursor:
                await _discard(ahead)
                ahead = None
                permits.release()
            if cursor is None:
                queue.put_nowait(None)
                return
            if ahead is None:
                await permits.acquire()
                response = await chain.request(cursor)
            else:
                response, ahead = await ahead, None
    except asyncio.CancelledError:
        raise
    except BaseException as exc:  # handed to the consumer, which raises it in its own task
        queue.put_nowait(exc)
    finally:
        if ahead is not None:
            await _discard(ahead)


async def _discard(task: asyncio.Task[Any]) -> None:
    """Cancel a task no page needs (a request ahead, the prefetch) and wait until it is gone, its
    connection released; an error it ended with is taken, not logged as lost."""
    if not task.done():
        task.cancel()
        await asyncio.wait((task,))
    if not task.cancelled():
        task.exception()


@dataclass(frozen=True, slots=True)
class _Chain:
    """One listing's cursor chain on its source: request a page, guess its successor, decode it."""

    source: PageSource[Any]
    prepared: Any
    raw: bool

    def request(self, cursor: str | None) -> Coroutine[Any, Any, Any]:
        return self.source.request(self.prepared, cursor)

    def hint(self, response: Any) -> str | None:
        return self.source.next_cursor_hint(response)

    def page(self, cursor: str | None, response: Any) -> Page[Any]:
        return self.source.page(self.prepared, cursor, response, raw=self.raw)

    async def fetch(self, cursor: str | None) -> Page[Any]:
        return await self.source.fetch(self.prepared, cursor, raw=self.raw)


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


class _PageStream:
    """Pages of one cursor chain, fetched ahead by a background task.

    The task may have sent up to ``depth`` requests beyond the pages the caller asked for: with
    ``depth`` 1, the page after the one in the caller's hands is fetched while it works on it
    (and, while the caller waits, the request after the one it waits for may leave early).
    """

    def __init__(self, chain: _Chain, cursor: str | None, depth: int, operation: str) -> None:
        self._chain = chain
        self._cursor = cursor
        self._depth = depth
        self._guard = CursorGuard(operation)
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
                _produce(self._chain, self._cursor, self._guard, self._queue, self._permits)
            )
        assert self._queue is not None and self._permits is not None
        self._permits.release()  # one more page asked for: one more request may leave
        result = await self._queue.get()
        if result is None:
            self._done = True
            raise StopAsyncIteration
        if isinstance(result, BaseException):
            self._done = True
            raise result
        return result

    async def _next_inline(self) -> Page[Any]:
        page = await self._chain.fetch(self._cursor)
        self._guard.check(page)
        self._cursor = page.next_cursor
        if page.next_cursor is None:
            self._done = True
        return page

    async def aclose(self) -> None:
        """Cancel the prefetch in flight and wait for it, so no task or connection is left behind."""
        self._done = True
        task, self._task = self._task, None
        if task is not None:
            await _discard(task)

    def __del__(self) -> None:
        # `break` out of `async for` drops the iterator without awaiting aclose(); cancel right away.
        if self._task is not None and not self._task.done():
            self._task.cancel()
