"""One call as the transport's layers see it: the prepared :class:`Request`, an attempt's :class:`Outcome`.

The transport prepares a :class:`Request` once per call (URL, headers, encoded body, timeout,
retry policy) and hands it down its layers (see :mod:`.transport`); each attempt comes back up
as an :class:`Outcome`. :func:`failure_error` turns the last outcome of a call that will not be
retried into the exception the caller sees.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from yarl import URL

from .encoding import query_string
from .errors import APIConnectionError, APITimeoutError, InvalidRequestError, KanbertError, status_error
from .reporting import ResponseInfo
from .retry import IDEMPOTENT_METHODS, Failure, RetryPolicy

if TYPE_CHECKING:
    from .multipart import Spooled
    from .operation import Operation

__all__ = [
    "BodyReader",
    "Outcome",
    "Request",
    "Response",
    "failure_error",
    "response_info",
    "with_body_fields",
    "with_query",
]


@dataclass(frozen=True, slots=True)
class Response:
    """A complete response: status, headers (case-insensitive) and the body bytes."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    #: The call's summary, set on the response :meth:`Transport.send <.transport.Transport.send>` returns.
    info: ResponseInfo | None = None


#: Reads a successful response's body in its own way (a download saved to a file); returns the
#: bytes to keep in the :class:`Response` (empty when written elsewhere).
BodyReader = Callable[[aiohttp.ClientResponse], Awaitable[bytes]]


@dataclass(slots=True)
class Request:
    """One call, prepared once: what goes on the wire, and the call's state across attempts."""

    operation: Operation[Any]
    #: The absolute, already-encoded URL (as text for messages, as a yarl URL for aiohttp).
    url: str
    wire_url: URL
    #: Every header but Authorization, which the wire layer sets per attempt. Kept out of the repr,
    #: as is the token: error trackers record frame locals (this object) with their reprs.
    headers: dict[str, str] = field(repr=False)
    timeout: aiohttp.ClientTimeout
    policy: RetryPolicy
    #: Unix time the call began: the retry deadline counts from here.
    started_at: float
    #: A JSON or url-encoded body, encoded once; or the form fields and spooled files of a multipart body.
    content: bytes | None = field(default=None, repr=False)
    form: Mapping[str, Any] | None = field(default=None, repr=False)
    files: Mapping[str, Spooled] | None = None
    #: Hand back the live response of a success instead of reading its body (a download stream).
    stream: bool = False
    #: Reads a success's body instead of ``read()`` (a download saved to a file); retried with the call.
    reader: BodyReader | None = None
    #: After an ambiguous failure of a create: the record if the create had happened, else None.
    find_existing: Callable[[], Awaitable[Response | None]] | None = None
    retries: int = 0
    #: Requests sent so far (retries and a resend after a refresh included).
    attempts: int = 0
    refreshed: bool = False
    authorization: str = field(default="", repr=False)


@dataclass(slots=True)
class Outcome:
    """How one attempt ended: a response (complete; or live, on the way up or when streamed), or a
    failure with no response at all."""

    response: Response | None = None
    live: aiohttp.ClientResponse | None = None
    failure: Failure | None = None
    error: BaseException | None = None
    #: After a 429: how long the client's rate limiter now holds every request back.
    held_for: float = 0.0
    #: A duplicate check proved the create did not happen, so sending it again cannot duplicate it.
    resend_safe: bool = False

    @property
    def status(self) -> int | None:
        """The HTTP status, or None when no response arrived."""
        if self.response is not None:
            return self.response.status
        return self.live.status if self.live is not None else None

    @property
    def ambiguous(self) -> bool:
        """The request may or may not have taken effect on the server."""
        if self.failure is not None:
            return self.failure is not Failure.CONNECT
        status = self.status
        return status is not None and status >= 500


_WHAT_FAILED = {
    Failure.TIMEOUT: "timed out",
    Failure.CONNECTION_LOST: "lost the connection before the response arrived",
    Failure.BODY_BROKE_OFF: "broke off mid-body",
}


def failure_error(request: Request, outcome: Outcome, server_wait: float | None) -> KanbertError:
    """The exception for a call whose last attempt failed and will not be retried."""
    operation = request.operation
    response = outcome.response
    if response is not None:
        return status_error(
            response.status,
            response.body,
            response.headers,
            method=operation.method,
            url=request.url,
            operation=operation.id,
            retry_after=server_wait,
            scopes=operation.scopes,
        )
    error, failure = outcome.error, outcome.failure
    detail = f"{type(error).__name__}: {error}" if error is not None and str(error) else type(error).__name__
    what = _WHAT_FAILED.get(failure, "could not reach the server") if failure else "failed"
    tries = f"{request.retries + 1} attempts" if request.retries else "1 attempt"
    if failure is not Failure.CONNECT and operation.method not in IDEMPOTENT_METHODS:
        # Not resent: the server may have acted on it, and a second send could do it twice.
        hint = "The server may or may not have acted on it; check before sending it again"
        if operation.duplicate_check is not None:
            hint += f" (pass {operation.duplicate_check.key_field} and the SDK checks for you)"
        hint += "."
    else:
        hint = "Check the network and KANBERT_BASE_URL, or raise timeout/max_retries."
    message = f"{operation.id}: {operation.method} {request.url} {what} ({detail}; {tries}). {hint}"
    exc: APIConnectionError
    if failure is Failure.TIMEOUT:
        exc = APITimeoutError(message, method=operation.method, url=request.url)
    else:
        exc = APIConnectionError(message, method=operation.method, url=request.url)
    # aiohttp's connection errors carry no request headers, so chaining them leaks no token.
    exc.__cause__ = error
    return exc


def response_info(request: Request, outcome: Outcome, elapsed: float) -> ResponseInfo:
    """What the caller learns of a call that succeeded with ``outcome`` after ``elapsed`` seconds."""
    status = outcome.status
    assert status is not None
    response, live = outcome.response, outcome.live
    headers: Mapping[str, str] = response.headers if response is not None else {}
    if live is not None:  # a download stream: the response is still being read
        headers = live.headers
    return ResponseInfo(
        status=status,
        headers=headers,
        operation=request.operation.id,
        method=request.operation.method,
        url=request.url,
        elapsed=elapsed,
        retries=request.retries,
        attempts=request.attempts,
    )


def with_query(url: str, pairs: Sequence[tuple[str, str]], *, keep_given: bool = False) -> str:
    """``url`` with ``pairs`` added to its query; with ``keep_given``, not those whose name it has."""
    if keep_given:
        given = {name for name, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
        pairs = [(k, v) for k, v in pairs if k not in given]
    if not pairs:
        return url
    return url + ("&" if "?" in url else "?") + query_string(pairs)


def with_body_fields(
    operation: Operation[Any], body: Mapping[str, Any] | None, extra: Mapping[str, Any]
) -> Mapping[str, Any]:
    """The body with ``extra_body``'s fields merged over it; refused for an operation without a body."""
    if operation.body is None:
        raise InvalidRequestError(
            f"{operation.id}: extra_body was given, but {operation.method} {operation.path} sends no body; "
            "use extra_query for query parameters"
        )
    return {**(body or {}), **extra}
