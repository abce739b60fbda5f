"""Listings of the blocking client: :class:`SyncPager` (an iterator), :class:`SyncPage`, :class:`SyncScan`.

Each page is fetched on the client's loop thread (with the async pager's prefetch still running
there while the caller works), then its items are handed out in the calling thread: one hand-over
per page, not per item.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar

from .._core.capabilities import Capabilities
from .._core.page import Page, PageIterator
from .._core.pager import AsyncPager
from .._core.reporting import ResponseInfo
from .._core.scan import PartitionedScan, PartitionRange, ScanStats
from .portal import Portal

__all__ = ["SyncPage", "SyncPager", "SyncScan"]

T = TypeVar("T")


class SyncPage(Generic[T]):
    """One page of a listing (blocking): ``items``, ``has_next_page()``, ``next_page()``; the rest as
    :class:`~kanbert_async.Page` has it."""

    __slots__ = ("_page", "_portal")

    def __init__(self, page: Page[T], portal: Portal) -> None:
        self._page = page
        self._portal = portal

    def __repr__(self) -> str:
        return f"<SyncPage {len(self.items)} items next_cursor={self.next_cursor!r}>"

    @property
    def page(self) -> Page[T]:
        """The page as the async client has it."""
        return self._page

    @property
    def items(self) -> list[T]:
        """The page's items."""
        return self._page.items

    @property
    def cursor(self) -> str | None:
        """The cursor that fetched this page (None: the first)."""
        return self._page.cursor

    @property
    def next_cursor(self) -> str | None:
        """The cursor of the page after this one (None: this is the last)."""
        return self._page.next_cursor

    @property
    def meta(self) -> Any:
        """The page's ``meta`` as the server sent it."""
        return self._page.meta

    @property
    def raw(self) -> list[Any] | None:
        """With ``keep_raw()``: each item's JSON exactly as sent."""
        return self._page.raw

    @property
    def partition(self) -> int | None:
        """In a partitioned scan: the partition the page belongs to."""
        return self._page.partition

    @property
    def response(self) -> ResponseInfo | None:
        """Status, headers, request id, time and retries of the request that fetched the page."""
        return self._page.response

    @property
    def request_id(self) -> str | None:
        """The ``X-Request-Id`` of the page's response."""
        return self._page.request_id

    @property
    def is_last(self) -> bool:
        """No page follows this one."""
        return self._page.is_last

    def has_next_page(self) -> bool:
        """Whether a page follows this one."""
        return self._page.has_next_page()

    def next_page(self) -> SyncPage[T]:
        """Fetch the page after this one (raises :class:`~kanbert_async.PaginationError` on the last)."""
        return SyncPage(self._portal.run(self._page.next_page()), self._portal)


_DONE: Any = object()


async def _next(pages: PageIterator[Any]) -> Any:
    try:
        return await pages.__anext__()
    except StopAsyncIteration:
        return _DONE


def _blocking_pages(pages: PageIterator[T], portal: Portal) -> Iterator[SyncPage[T]]:
    finished = False
    try:
        while True:
            page = portal.run(_next(pages))
            if page is _DONE:
                finished = True
                return
            yield SyncPage(page, portal)
    finally:
        if not finished and not portal.closed:
            portal.run(pages.aclose())  # stopped early: cancel the prefetch on its own loop


def _items(pages: Iterator[SyncPage[T]]) -> Iterator[T]:
    for page in pages:
        yield from page.items


class SyncPager(Generic[T]):
    """A listing of the blocking client: iterate for items, ``pages()`` for pages.

    - ``for item in pager`` — every item; ``for page in pager.pages()`` — pages.
    - ``pager.first_page()`` — the first page; then ``page.has_next_page()``, ``page.next_page()``.
    - ``pager.to_list()``, ``pager.keep_raw()``, ``pager.cursor``, ``pager.partitioned(...)`` as
      :class:`~kanbert_async.AsyncPager` has them.
    """

    def __init__(self, pager: AsyncPager[T], portal: Portal) -> None:
        self._pager = pager
        self._portal = portal

    def __repr__(self) -> str:
        return f"<SyncPager {self._pager.operation} cursor={self.cursor!r}>"

    @property
    def operation(self) -> str:
        """The list operation's id."""
        return self._pager.operation

    @property
    def capabilities(self) -> Capabilities | None:
        """What the operation accepts in sort, include and filter."""
        return self._pager.capabilities

    @property
    def cursor(self) -> str | None:
        """The cursor to resume from after the last page handed out (None: complete)."""
        return self._pager.cursor

    def keep_raw(self) -> SyncPager[T]:
        """Also hand out each item's JSON exactly as sent (``page.raw``)."""
        self._pager.keep_raw()
        return self

    def first_page(self) -> SyncPage[T]:
        """Only the first page."""
        return SyncPage(self._portal.run(self._pager.first_page()), self._portal)

    def pages(self) -> Iterator[SyncPage[T]]:
        """Pages in order; leaving the loop early cancels any prefetch in flight."""
        return _blocking_pages(self._pager.pages(), self._portal)

    def __iter__(self) -> Iterator[T]:
        return _items(self.pages())

    def to_list(self) -> list[T]:
        """Every item in a list (mind the memory for large listings)."""
        return list(self)

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
    ) -> SyncScan[T]:
        """The listing as ``parts`` concurrent ranges of ``by`` (see :meth:`AsyncPager.partitioned`)."""
        scan = self._pager.partitioned(
            by, parts, ranges=ranges, concurrency=concurrency, split=split, resume=resume, skip=skip
        )
        return SyncScan(scan, self._portal)


class SyncScan(Generic[T]):
    """A partitioned scan of the blocking client: iterate for items (each once, in completion order)."""

    def __init__(self, scan: PartitionedScan[T], portal: Portal) -> None:
        self._scan = scan
        self._portal = portal

    @property
    def stats(self) -> ScanStats:
        """Pages, items, splits and duplicates dropped, so far."""
        return self._scan.stats

    def plan(self) -> list[PartitionRange]:
        """The partitions' ranges (probing the data once)."""
        return self._portal.run(self._scan.plan())

    def pages(self) -> Iterator[SyncPage[T]]:
        """Pages from all partitions as they arrive."""
        return _blocking_pages(self._scan.pages(), self._portal)

    def __iter__(self) -> Iterator[T]:
        return _items(self.pages())
