"""The pages of one list operation: its arguments encoded once into a URL, each page fetched and decoded.

The client hands a :class:`ListSource` to every pager it makes; the pager (and a scan, per
partition) asks it to :meth:`~ListSource.prepare` a :class:`~.list_args.ListArgs` once, then
fetches page after page by cursor.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from .capabilities import Capabilities
from .cursor_hint import next_cursor_hint
from .decode import decode_page
from .encoding import query_string

if TYPE_CHECKING:
    from .exchange import Response
    from .list_args import ListArgs
    from .operation import Operation, RequestOptions
    from .page import Page
    from .transport import Transport

__all__ = ["ListSource"]

T = TypeVar("T")


class ListSource(Generic[T]):
    """A :class:`~.page.PageSource` over one list operation (and its path parameters)."""

    __slots__ = ("_last_body", "_operation", "_options", "_transport", "_url")

    def __init__(
        self,
        transport: Transport,
        operation: Operation[T],
        path: Mapping[str, Any] | None,
        options: RequestOptions | None,
    ) -> None:
        self._transport = transport
        self._operation = operation
        self._options = options
        self._url = transport.url_for(operation, path)
        # The last body is let go only when the next one has arrived. Freed just before the next
        # read, a page-sized block at the top of glibc's heap is trimmed and faulted back in for
        # every page: ~150 extra page faults and a fifth more CPU per page (BENCHMARKS.md, bench 2).
        # Holding one body per listing costs less than its decoded page.
        self._last_body = b""

    def prepare(self, args: ListArgs) -> str:
        """The URL of the listing's first page, its arguments checked against the operation."""
        operation = self._operation
        caps = operation.capabilities or Capabilities.undocumented(operation.id)
        pairs = args.encode(caps, operation.page_size_param)
        return self._url + "?" + query_string(pairs) if pairs else self._url

    async def request(self, prepared: str, cursor: str | None) -> Response:
        """The response for the page at ``cursor`` of the listing ``prepared`` names, not yet decoded."""
        url = prepared
        if cursor is not None:
            pair = query_string(((self._operation.cursor_param, cursor),))
            url = f"{prepared}&{pair}" if "?" in prepared else f"{prepared}?{pair}"
        return await self._transport.send(self._operation, url, options=self._options)

    def next_cursor_hint(self, response: Response) -> str | None:
        """The next page's cursor as the undecoded body seems to name it (see :mod:`.cursor_hint`)."""
        return next_cursor_hint(self._operation, response.body)

    def page(self, prepared: str, cursor: str | None, response: Response, *, raw: bool = False) -> Page[T]:
        """The page a :meth:`request` answered, decoded."""
        page = decode_page(self._operation, response.body, cursor, raw=raw)
        self._last_body = response.body
        # The page knows its response, and how to fetch the next one (page.next_page()).
        return replace(page, response=response.info, fetch=functools.partial(self.fetch, prepared, raw=raw))

    async def fetch(self, prepared: str, cursor: str | None, *, raw: bool = False) -> Page[T]:
        """The page at ``cursor`` of the listing ``prepared`` names (None: the first page)."""
        return self.page(prepared, cursor, await self.request(prepared, cursor), raw=raw)
