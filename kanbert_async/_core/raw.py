"""Raw responses: ``kb.outgoing_invoices.with_raw_response.get(id)`` → a :class:`RawResponse`.

Each generated resource has a ``with_raw_response`` view with the same methods; each returns the
status, headers, request id, time taken and retries of the call alongside the parsed result and
the body as sent. A list method gives its first page's (:class:`~.page.Page`), a download its bytes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar

import msgspec

from .adapt import Adapted, View
from .reporting import Capture, ResponseInfo, capturing

if TYPE_CHECKING:
    from .download import BinaryResponse
    from .page import Page
    from .pager import AsyncPager

__all__ = ["RawResponse", "RawView", "raw", "raw_download", "raw_pager"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RawResponse(Generic[T]):
    """A call's response as it came, and its parsed result (``parsed``, or ``parse()``).

    ``status`` (``status_code``), ``headers``, ``request_id``, ``elapsed`` (seconds, retries and
    waits included), ``retries``, ``attempts``, ``content`` (the body's bytes; ``json()`` decodes them
    as plain JSON, fields this SDK's models do not know included).
    """

    response: ResponseInfo
    parsed: T
    content: bytes = field(repr=False)

    @property
    def status(self) -> int:
        """The HTTP status."""
        return self.response.status

    @property
    def status_code(self) -> int:
        """The HTTP status, by the name httpx and Stainless users type."""
        return self.response.status

    @property
    def headers(self) -> Mapping[str, str]:
        """The response headers (case-insensitive)."""
        return self.response.headers

    @property
    def request_id(self) -> str | None:
        """The server's ``X-Request-Id``."""
        return self.response.request_id

    @property
    def elapsed(self) -> float:
        """Seconds from the call's start to its final response."""
        return self.response.elapsed

    @property
    def retries(self) -> int:
        """Retries the call took."""
        return self.response.retries

    @property
    def attempts(self) -> int:
        """Requests the call sent."""
        return self.response.attempts

    def parse(self) -> T:
        """The parsed result (as Stainless's ``parse()``)."""
        return self.parsed

    def json(self) -> Any:
        """The body decoded as plain JSON (dicts, lists, strings, numbers)."""
        return msgspec.json.decode(self.content)


def captured(capture: Capture, parsed: T) -> RawResponse[T]:
    """The raw response a finished :func:`~.reporting.capturing` block recorded."""
    assert capture.info is not None, "the call finished without a response"
    return RawResponse(capture.info, parsed, capture.content)


class RawView(View[T]):
    """Base of the generated ``…WithRawResponse`` classes: a resource's methods, returning raw responses."""


async def _call(view: Any, call: Callable[[], Awaitable[Any]]) -> RawResponse[Any]:
    with capturing() as capture:
        parsed = await call()
    return captured(capture, parsed)


async def _first_page(view: Any, call: Callable[[], AsyncPager[Any]]) -> RawResponse[Page[Any]]:
    with capturing() as capture:
        page = await call().first_page()
    return captured(capture, page)


async def _download(view: Any, call: Callable[[], BinaryResponse]) -> RawResponse[bytes]:
    with capturing() as capture:
        data = await call().read()
    return captured(capture, data)


def raw(fn: Callable[Concatenate[Any, P], Awaitable[R]]) -> Adapted[P, Awaitable[RawResponse[R]]]:
    """``fn``'s raw form: the same arguments, a :class:`RawResponse` of its result."""
    return Adapted(fn, _call)


def raw_pager(
    fn: Callable[Concatenate[Any, P], AsyncPager[T]],
) -> Adapted[P, Awaitable[RawResponse[Page[T]]]]:
    """A list method's raw form: the first page, as a :class:`RawResponse`."""
    return Adapted(fn, _first_page)


def raw_download(
    fn: Callable[Concatenate[Any, P], BinaryResponse],
) -> Adapted[P, Awaitable[RawResponse[bytes]]]:
    """A download's raw form: its bytes, as a :class:`RawResponse`."""
    return Adapted(fn, _download)
