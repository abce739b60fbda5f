"""What every listing shares: a :class:`Page`, the :class:`PageSource` pages come from, loop guards.

The single-chain pager (:mod:`.pager`) and the partitioned scan (:mod:`.scan`) both fetch pages
from a :class:`PageSource` (the client, for a list operation), guard each cursor chain with a
:class:`CursorGuard`, and hand out items with :class:`Items`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from .errors import PaginationError

if TYPE_CHECKING:
    from .list_args import ListArgs
    from .reporting import ResponseInfo

__all__ = ["CursorGuard", "FetchPage", "Items", "Page", "PageIterator", "PageSource", "SeenKeys", "item_key"]

T = TypeVar("T")


#: Fetches the page at a cursor of the same listing (what :meth:`Page.next_page` calls).
FetchPage = Callable[[str], Awaitable["Page[Any]"]]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing: its items, the cursor that fetched it and the one after it.

    ``page = await kb.outgoing_invoices.list()`` gives the first; ``page.has_next_page()`` and
    ``await page.next_page()`` walk on by hand (a pager's ``async for`` does it for you, fetching
    ahead). ``page.response`` says how the request went (``page.request_id``).
    """

    items: list[T]
    cursor: str | None
    next_cursor: str | None
    meta: Any = None
    #: In a partitioned scan: the index of the partition (in :meth:`PartitionedScan.plan`) it belongs to.
    partition: int | None = None
    #: With :meth:`AsyncPager.keep_raw`: each item's JSON exactly as the server sent it.
    raw: list[Any] | None = None
    #: Status, headers, request id, time and retries of the request that fetched the page.
    response: ResponseInfo | None = field(default=None, repr=False, compare=False)
    fetch: FetchPage | None = field(default=None, repr=False, compare=False)

    def subset(self, keep: list[int], *, next_cursor: str | object | None = ...) -> Page[T]:
        """The same page with only the items at positions ``keep`` (raw JSON kept aligned)."""
        return replace(
            self,
            items=[self.items[i] for i in keep],
            next_cursor=self.next_cursor if next_cursor is ... else next_cursor,  # type: ignore[arg-type]
            raw=None if self.raw is None else [self.raw[i] for i in keep],
        )

    @property
    def is_last(self) -> bool:
        """No page follows this one."""
        return self.next_cursor is None

    def has_next_page(self) -> bool:
        """Whether a page follows this one (and can be fetched with :meth:`next_page`)."""
        return self.next_cursor is not None and self.fetch is not None

    async def next_page(self) -> Page[T]:
        """Fetch the page after this one, with the listing's arguments (a pager's ``max_items`` and
        ``max_pages`` do not apply). Raises :class:`PaginationError` on the last page."""
        if self.next_cursor is None or self.fetch is None:
            raise PaginationError("this is the last page of the listing; check page.has_next_page() first")
        return await self.fetch(self.next_cursor)

    @property
    def request_id(self) -> str | None:
        """The ``X-Request-Id`` of the response this page came in."""
        return self.response.request_id if self.response is not None else None


class PageSource(Protocol[T]):
    """Where a listing's pages come from; the client supplies one per list operation."""

    def prepare(self, args: ListArgs) -> Any:
        """Check and encode a listing's arguments, once per listing (or per partition of a scan).

        Raises :class:`~kanbert_async.errors.InvalidRequestError` for arguments the operation refuses.
        """
        ...

    async def fetch(self, prepared: Any, cursor: str | None, *, raw: bool = False) -> Page[T]:
        """The page at ``cursor`` (None: the first) of a prepared listing; ``raw`` keeps each item's JSON."""
        ...

    # A cursor chain's two halves, so the next request can leave before this page is decoded.
    async def request(self, prepared: Any, cursor: str | None) -> Any:
        """The response for the page at ``cursor``, not yet decoded."""
        ...

    def next_cursor_hint(self, response: Any) -> str | None:
        """A guess at the next page's cursor from the undecoded response (None: no guess)."""
        ...

    def page(self, prepared: Any, cursor: str | None, response: Any, *, raw: bool = False) -> Page[T]:
        """The page a :meth:`request` answered, decoded."""
        ...


class PageIterator(Protocol[T]):
    """Pages one after another, stoppable early (the pager's and the scan's page iterators)."""

    async def __anext__(self) -> Page[T]:
        """The next page."""
        ...

    async def aclose(self) -> None:
        """Stop early, cancelling fetches in flight."""
        ...


def item_key(item: Any) -> Any:
    return getattr(item, "id", None)


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class SeenKeys:
    """The item keys a listing has handed out, to tell an item seen before (a scan keeps every one).

    A key spelled as a canonical UUID (lowercase hex and dashes, as the sandbox and many APIs write
    ids) is kept as its 128-bit number: about half the memory of the string, which an export of a
    million records feels. Only that one spelling is converted, so two different keys never meet as
    one number; every other key is kept as it is.
    """

    def __init__(self) -> None:
        self._uuids: set[int] = set()
        self._others: set[Any] = set()

    def __len__(self) -> int:
        return len(self._uuids) + len(self._others)

    def add(self, key: Any) -> bool:
        """Remember ``key``; whether it is new."""
        if isinstance(key, str) and len(key) == 36 and _CANONICAL_UUID.fullmatch(key):
            seen, kept = self._uuids, int(key.replace("-", ""), 16)
        else:
            seen, kept = self._others, key
        if kept in seen:
            return False
        seen.add(kept)
        return True


class CursorGuard:
    """Stops a chain whose server repeats a cursor or a page instead of looping forever."""

    def __init__(self, operation: str) -> None:
        self._operation = operation
        self._seen: set[str] = set()
        self._last_keys: tuple[Any, ...] | None = None

    def check(self, page: Page[Any]) -> None:
        items = page.items
        # Ids are unique within a listing: the same length, first and last id is the same page.
        keys = (len(items), item_key(items[0]), item_key(items[-1])) if items else ()
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


class Items(Generic[T]):
    """Items of a page iterator, one by one."""

    def __init__(self, pages: PageIterator[T]) -> None:
        self._pages = pages
        self._current: list[T] = []
        self._index = 0

    def __aiter__(self) -> Items[T]:
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
