"""An in-memory page source for pagers and scans: a fetch function over the listing's arguments."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from kanbert_async._core.list_args import ListArgs
from kanbert_async._core.page import Page

T = TypeVar("T")

#: Fetches one page of a listing: (its arguments, cursor) → page.
Fetch = Callable[[ListArgs, str | None], Awaitable[Page[T]]]


class FakeSource(Generic[T]):
    """A :class:`~kanbert_async._core.page.PageSource` whose prepared listing is its arguments as given."""

    def __init__(self, fetch: Fetch[T]) -> None:
        self._fetch = fetch
        self.prepared: list[ListArgs] = []

    def prepare(self, args: ListArgs) -> ListArgs:
        self.prepared.append(args)
        return args

    async def fetch(self, prepared: Any, cursor: str | None, *, raw: bool = False) -> Page[T]:
        return await self._fetch(prepared, cursor)
