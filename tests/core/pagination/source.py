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

    def __init__(self, fetch: Fetch[T], hint: Callable[[Page[T]], str | None] | None = None) -> None:
        self._fetch = fetch
        self._hint = hint
        self.prepared: list[ListArgs] = []
        #: ("request" | "decode", cursor) in the order they happened.
        self.events: list[tuple[str, str | None]] = []

    def prepare(self, args: ListArgs) -> ListArgs:
        self.prepared.append(args)
        return args

    async def fetch(self, prepared: Any, cursor: str | None, *, raw: bool = False) -> Page[T]:
        return await self._fetch(prepared, cursor)

    # The chain's two halves: the "response" is the page itself; its hint is right unless `hint` says.
    async def request(self, prepared: Any, cursor: str | None) -> Page[T]:
        self.events.append(("request", cursor))
        return await self._fetch(prepared, cursor)

    def next_cursor_hint(self, response: Page[T]) -> str | None:
        return response.next_cursor if self._hint is None else self._hint(response)

    def page(self, prepared: Any, cursor: str | None, response: Page[T], *, raw: bool = False) -> Page[T]:
        self.events.append(("decode", cursor))
        return response
