"""The blocking forms of the async client's methods, exactly typed (see :mod:`kanbert_async._core.adapt`).

Codegen writes the blocking resources as one line per method (``get = blocking(OutgoingInvoices.get)``):
the same parameters, the result waited for on the client's loop thread — a model, a
:class:`~.pager.SyncPager`, a :class:`~.download.SyncBinaryResponse`, or their raw responses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Concatenate, ParamSpec, TypeVar

from .._core.adapt import Adapted, View
from .._core.download import BinaryResponse
from .._core.pager import AsyncPager
from .._core.raw import RawResponse, captured
from .._core.reporting import capturing
from .download import SyncBinaryResponse
from .pager import SyncPage, SyncPager
from .portal import Portal

__all__ = [
    "SyncView",
    "blocking",
    "blocking_download",
    "blocking_pager",
    "blocking_raw",
    "blocking_raw_download",
    "blocking_raw_pager",
]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
TargetT = TypeVar("TargetT")


class SyncView(View[TargetT]):
    """Base of the generated blocking resources: an async resource and the loop thread to run it on."""

    __slots__ = ("portal",)

    def __init__(self, target: TargetT, portal: Portal) -> None:
        super().__init__(target)
        self.portal = portal


def _wait(view: SyncView[Any], call: Callable[[], Awaitable[Any]]) -> Any:
    async def run() -> Any:
        return await call()

    return view.portal.run(run())


def _pager(view: SyncView[Any], call: Callable[[], AsyncPager[Any]]) -> SyncPager[Any]:
    return SyncPager(call(), view.portal)


def _download(view: SyncView[Any], call: Callable[[], BinaryResponse]) -> SyncBinaryResponse:
    return SyncBinaryResponse(call(), view.portal)


def _raw(view: SyncView[Any], call: Callable[[], Awaitable[Any]]) -> RawResponse[Any]:
    async def run() -> RawResponse[Any]:
        with capturing() as capture:
            parsed = await call()
        return captured(capture, parsed)

    return view.portal.run(run())


def _raw_page(view: SyncView[Any], call: Callable[[], AsyncPager[Any]]) -> RawResponse[SyncPage[Any]]:
    async def run() -> RawResponse[SyncPage[Any]]:
        with capturing() as capture:
            page = await call().first_page()
        return captured(capture, SyncPage(page, view.portal))

    return view.portal.run(run())


def _raw_download(view: SyncView[Any], call: Callable[[], BinaryResponse]) -> RawResponse[bytes]:
    return _raw(view, lambda: call().read())


def blocking(fn: Callable[Concatenate[Any, P], Awaitable[R]]) -> Adapted[P, R]:
    """``fn`` blocking: the same arguments, its result."""
    return Adapted(fn, _wait)


def blocking_pager(fn: Callable[Concatenate[Any, P], AsyncPager[T]]) -> Adapted[P, SyncPager[T]]:
    """A list method blocking: the same arguments, a :class:`SyncPager`."""
    return Adapted(fn, _pager)


def blocking_download(fn: Callable[Concatenate[Any, P], BinaryResponse]) -> Adapted[P, SyncBinaryResponse]:
    """A download blocking: the same arguments, a :class:`SyncBinaryResponse`."""
    return Adapted(fn, _download)


def blocking_raw(fn: Callable[Concatenate[Any, P], Awaitable[R]]) -> Adapted[P, RawResponse[R]]:
    """``fn`` blocking, as a :class:`~kanbert_async.RawResponse` of its result."""
    return Adapted(fn, _raw)


def blocking_raw_pager(
    fn: Callable[Concatenate[Any, P], AsyncPager[T]],
) -> Adapted[P, RawResponse[SyncPage[T]]]:
    """A list method blocking, as a :class:`~kanbert_async.RawResponse` of its first page."""
    return Adapted(fn, _raw_page)


def blocking_raw_download(
    fn: Callable[Concatenate[Any, P], BinaryResponse],
) -> Adapted[P, RawResponse[bytes]]:
    """A download blocking, as a :class:`~kanbert_async.RawResponse` of its bytes."""
    return Adapted(fn, _raw_download)
