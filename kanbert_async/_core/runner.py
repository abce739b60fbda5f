"""The :class:`Runner`: how a client runs an :class:`~.operation.Operation` — a call, a listing, a download.

Generated resources reach it through the client's ``_runner()`` (see :mod:`.resource`); the
client's own ``request`` and ``paginate`` build an operation for a path the description does not
(yet) have and run it here too, so both go through the same auth, retries, rate limiter, errors
and pagers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from .decode import decode_response
from .duplicates import duplicate_check_for
from .encoding import flatten_query

if TYPE_CHECKING:  # listings and downloads load what they need when first used
    from .download import BinaryResponse
    from .list_args import ListArgs
    from .operation import Operation, RequestOptions
    from .pager import AsyncPager
    from .transport import Transport

__all__ = ["Runner"]

T = TypeVar("T")


class Runner:
    """The :class:`~.resource.OperationRunner` over one transport."""

    __slots__ = ("_transport",)

    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def _url(
        self,
        operation: Operation[Any],
        path: Mapping[str, Any] | None,
        query: Mapping[str, Any] | None,
        args: ListArgs | None,
    ) -> str:
        if args is None:
            return self._transport.url_for(operation, path, flatten_query(query or {}))
        caps = operation.capabilities
        if caps is None:
            from .capabilities import Capabilities  # only for an operation without a filter table

            caps = Capabilities.undocumented(operation.id)
        return self._transport.url_for(operation, path, args.encode(caps, operation.page_size_param))

    async def call(
        self,
        operation: Operation[T],
        *,
        path: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        args: ListArgs | None = None,
        body: Mapping[str, Any] | None = None,
        options: RequestOptions | None = None,
    ) -> T:
        """Run ``operation`` and decode its JSON response.

        Query parameters come as ``query`` or, for an operation with list parameters (sort,
        include, filter, computed fields), as ``args``. An operation without a ``response`` type,
        and a 204 No Content, return None.
        """
        response = await self._transport.send(
            operation,
            self._url(operation, path, query, args),
            body=body,
            options=options,
            find_existing=duplicate_check_for(self._transport, operation, body),
        )
        if operation.response is None or response.status == 204:
            return None  # type: ignore[return-value]  # T admits None for such operations
        result: T = decode_response(operation, response.body)
        return result

    def paginate(
        self,
        operation: Operation[T],
        *,
        path: Mapping[str, Any] | None = None,
        args: ListArgs | None = None,
        start_cursor: str | None = None,
        max_items: int | None = None,
        max_pages: int | None = None,
        prefetch: int = 1,
        options: RequestOptions | None = None,
    ) -> AsyncPager[T]:
        """A pager over a list operation; ``args`` are checked now."""
        from .list_args import ListArgs
        from .list_source import ListSource
        from .pager import AsyncPager

        return AsyncPager(
            ListSource(self._transport, operation, path, options),
            args or ListArgs(),
            operation=operation.id,
            capabilities=operation.capabilities,
            start_cursor=start_cursor,
            max_items=max_items,
            max_pages=max_pages,
            prefetch=prefetch,
        )

    def download(
        self,
        operation: Operation[Any],
        *,
        path: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        args: ListArgs | None = None,
        options: RequestOptions | None = None,
    ) -> BinaryResponse:
        """A binary response to read, stream or save."""
        from .download import BinaryResponse

        return BinaryResponse(self._transport, operation, self._url(operation, path, query, args), options)
