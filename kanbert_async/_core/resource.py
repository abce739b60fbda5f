"""The one narrow interface between generated stubs and the core: :class:`OperationRunner`, and
:class:`Resource`, the base of every generated resource class."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from .download import BinaryResponse
    from .list_args import ListArgs
    from .operation import Operation, RequestOptions
    from .pager import AsyncPager

__all__ = ["OperationRunner", "Resource"]

T = TypeVar("T")


class OperationRunner(Protocol):
    """What generated resources need from the client: three ways to run an operation."""

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
        """Send the request and decode the JSON response into ``operation.response``."""
        ...

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
        """A pager over a cursor-paginated list operation."""
        ...

    def download(
        self,
        operation: Operation[Any],
        *,
        path: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        args: ListArgs | None = None,
        options: RequestOptions | None = None,
    ) -> BinaryResponse:
        """A binary response, to be streamed, saved or read."""
        ...


class Resource:
    """A group of operations (``client.outgoing_invoices``); runs them through the client."""

    __slots__ = ("_api",)

    def __init__(self, api: OperationRunner) -> None:
        self._api = api

    def __repr__(self) -> str:
        return f"<{type(self).__name__} resource>"
