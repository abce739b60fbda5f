"""What a caller may learn about its calls: :class:`Stats` so far, and of one that succeeded its
:class:`ResponseInfo`, and where that is kept.

The transport's reporting layer builds one :class:`ResponseInfo` per successful call (status,
headers, request id, time taken, retries) and hands it to whoever asked: the page it belongs to,
``kb.last_response`` (the last call of the current task, see :class:`LastResponse`), and a raw
response being captured (:func:`capturing`, for ``with_raw_response``).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from .retry import get_header

__all__ = ["Capture", "LastResponse", "ResponseInfo", "Stats", "capturing", "current_capture"]


@dataclass(slots=True)
class Stats:
    """What a client has done so far: for progress displays, manifests and tests."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    refreshes: int = 0
    #: Creates whose outcome was unknown, found to have happened (returned, not sent again).
    duplicates_avoided: int = 0
    #: Times a shared rate-limit store (Redis) failed and the client went on pacing itself alone.
    rate_limit_store_fallbacks: int = 0


@dataclass(frozen=True, slots=True)
class ResponseInfo:
    """How a call ended: the final response's ``status`` and ``headers``, and the call around it.

    ``elapsed`` is the seconds from the call's start to its final response (retries, backoff and
    rate-limit waits included); ``retries`` the retries it took; ``attempts`` the requests it sent
    (retries and a resend after a token refresh included).
    """

    status: int
    headers: Mapping[str, str] = field(repr=False)
    operation: str
    method: str
    url: str = field(repr=False)
    elapsed: float
    retries: int
    attempts: int

    @property
    def status_code(self) -> int:
        """The HTTP status, by the name httpx and Stainless users type."""
        return self.status

    @property
    def request_id(self) -> str | None:
        """The server's ``X-Request-Id``: quote it to Kanbert's support."""
        return get_header(self.headers, "X-Request-Id")


@dataclass(slots=True)
class Capture:
    """Where the reporting layer leaves the info and body of a call a raw response wraps."""

    info: ResponseInfo | None = None
    content: bytes = b""


_capture: contextvars.ContextVar[Capture | None] = contextvars.ContextVar("kanbert_capture", default=None)


@contextlib.contextmanager
def capturing() -> Iterator[Capture]:
    """Record the calls made in this block (the last one wins: the one whose result the caller gets)."""
    capture = Capture()
    token = _capture.set(capture)
    try:
        yield capture
    finally:
        _capture.reset(token)


def current_capture() -> Capture | None:
    """The capture of the innermost :func:`capturing` block of this task, if any."""
    return _capture.get()


class LastResponse:
    """The last successful call of the current task through one client (and its ``with_options`` copies).

    Kept per task (a context variable), so concurrent tasks never see each other's calls; a page
    fetched ahead by a pager's background task does not count (its page carries its own
    ``page.response``).
    """

    __slots__ = ("_var",)

    def __init__(self) -> None:
        # One variable per connection pool: created with a client, not per call.
        self._var: contextvars.ContextVar[ResponseInfo | None] = contextvars.ContextVar(
            "kanbert_last_response", default=None
        )

    def get(self) -> ResponseInfo | None:
        """The info of this task's last successful call, or None."""
        return self._var.get()

    def set(self, info: ResponseInfo) -> None:
        """Record ``info`` as this task's last call."""
        self._var.set(info)
