"""The exception hierarchy of kanbert-async.

Every error raised by the SDK derives from :class:`KanbertError`. Messages say what happened, to
which operation, and what to do about it. No error ever carries a credential: request headers are
stored without ``Authorization`` and URLs never contain tokens.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import msgspec

from .ratelimit import RateLimitInfo
from .redact import redact_headers

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "InvalidRequestError",
    "KanbertError",
    "NotFoundError",
    "PaginationError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseDecodeError",
    "UnprocessableEntityError",
    "status_error",
]


class KanbertError(Exception):
    """Base class of every error raised by kanbert-async."""


class InvalidRequestError(KanbertError, ValueError):
    """A call was refused before anything was sent: an argument the operation does not accept.

    Example: an unknown ``include`` relation, a filter on a field the endpoint does not offer, an
    upload larger than the API's limit.
    """


class PaginationError(KanbertError):
    """A listing cannot go on: the server's pagination misbehaved (a cursor repeated, so the listing
    stopped safely), or ``page.next_page()`` was asked for on the last page."""


class APIConnectionError(KanbertError):
    """The request did not complete: the connection failed, dropped, or the server was unreachable."""

    def __init__(self, message: str, *, method: str = "", url: str = "") -> None:
        super().__init__(message)
        self.method = method
        self.url = url


class APITimeoutError(APIConnectionError):
    """The request timed out (connect or total timeout)."""


class ResponseDecodeError(KanbertError):
    """A response body did not match the schema the operation documents."""

    def __init__(self, message: str, *, operation: str, path: str | None = None) -> None:
        super().__init__(message)
        self.operation = operation
        self.path = path


class APIStatusError(KanbertError):
    """The API answered with a non-success HTTP status.

    Attributes: ``status`` (also as ``status_code``), ``message`` (the server's own message, when
    it sent one), ``request_id``, ``body`` (the decoded JSON body, or the raw text), ``headers``
    (response headers, credentials removed), ``method``, ``url``, ``operation``, ``retry_after``
    (the wait in seconds the server asked for, e.g. a 503's ``Retry-After`` during maintenance),
    ``attempts`` (requests sent for this call, retries included) and ``rate_limit`` (the client's
    :class:`~kanbert_async.RateLimitInfo` when the call failed).
    """

    #: What a person can do about this kind of error; subclasses override it.
    hint: str = "Check the request against the API reference."

    def __init__(
        self,
        message: str,
        *,
        status: int,
        request_id: str | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        method: str = "",
        url: str = "",
        operation: str = "",
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.retry_after = retry_after
        self.message = message
        self.request_id = request_id
        self.body = body
        self.headers = redact_headers(headers or {})
        self.method = method
        self.url = url
        self.operation = operation
        #: Requests sent for this call (retries and a resend after a token refresh included).
        self.attempts = 1
        #: What the server last said about the rate limit when the call failed.
        self.rate_limit = RateLimitInfo()
        super().__init__(self._render())

    @property
    def status_code(self) -> int:
        """The HTTP status (the name Stainless, githubkit and httpx users type)."""
        return self.status

    def _render(self) -> str:
        where = self.operation or f"{self.method} {self.url}".strip()
        text = f"{where}: HTTP {self.status}"
        if self.message:
            text += f" — {self.message.rstrip('.')}"
        text += f". {self.hint}"
        if self.retry_after is not None:
            text += f" The server asked to wait {self.retry_after:.1f}s."
        if self.request_id:
            text += f" (request id {self.request_id})"
        return text


class BadRequestError(APIStatusError):
    """HTTP 400: the API rejected a filter, sort or include."""

    hint = "Check the filter, sort and include values against the operation's documented fields."


class AuthenticationError(APIStatusError):
    """HTTP 401: the token is missing, wrong, or expired."""

    hint = "Check the API token (KANBERT_API_TOKEN) or re-authorize the OAuth app."


class PermissionDeniedError(APIStatusError):
    """HTTP 403: the token lacks a scope the operation needs."""

    hint = "Grant the token the scope this operation requires (Settings → Apps & API)."

    def __init__(self, message: str, *, required_scopes: tuple[str, ...] = (), **kw: Any) -> None:
        #: The scopes the operation documents as required.
        self.required_scopes = required_scopes
        if required_scopes:
            self.hint = (
                f"The operation requires the scope(s) {', '.join(required_scopes)}; grant them to the "
                "token (Settings → Apps & API)."
            )
        super().__init__(message, **kw)


class NotFoundError(APIStatusError):
    """HTTP 404: no such record (or route)."""

    hint = "Check the id, and find_by/origin if you looked it up by external id."


class ConflictError(APIStatusError):
    """HTTP 409: the request conflicts with the record's current state."""

    hint = "Reload the record and retry with its current state."


class UnprocessableEntityError(APIStatusError):
    """HTTP 422: validation failed; ``errors`` maps each field to its messages."""

    hint = "Fix the fields listed in .errors and send again."

    def __init__(self, message: str, *, errors: dict[str, list[str]] | None = None, **kw: Any) -> None:
        self.errors: dict[str, list[str]] = errors or {}
        super().__init__(message, **kw)

    def _render(self) -> str:
        text = super()._render()
        if self.errors:
            fields = "; ".join(f"{k}: {' '.join(v)}" for k, v in sorted(self.errors.items()))
            text += f" Fields: {fields}"
        return text


class RateLimitError(APIStatusError):
    """HTTP 429: rate limited; ``retry_after`` is the server's requested wait in seconds (if known)."""

    hint = "Slow down or raise the retry budget; the SDK already waited as long as it was allowed."


class InternalServerError(APIStatusError):
    """HTTP 5xx: the server failed."""

    hint = "The request may be retried later; if it persists, contact Kanbert support with the request id."


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def _laravel_fields(decoded: Any) -> tuple[str, dict[str, list[str]]]:
    """``message`` and ``errors`` of a Laravel error body, tolerating any other JSON shape."""
    if not isinstance(decoded, dict):
        return "", {}
    message = decoded.get("message")
    raw_errors = decoded.get("errors")
    errors: dict[str, list[str]] = {}
    if isinstance(raw_errors, dict):
        for field, messages in raw_errors.items():
            items = messages if isinstance(messages, list) else [messages]
            errors[str(field)] = [str(item) for item in items]
    return (message if isinstance(message, str) else ""), errors


def status_error(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    method: str,
    url: str,
    operation: str = "",
    retry_after: float | None = None,
    scopes: tuple[str, ...] = (),
) -> APIStatusError:
    """Build the status-specific error for a failed response (Laravel's ``{message, errors}`` body)."""
    # Decoded once, as whatever JSON it is: gateways and older endpoints send other shapes than
    # Laravel's, and those must stay inspectable as JSON rather than fall back to text.
    decoded: Any = None
    if body:
        try:
            decoded = msgspec.json.decode(body)
        except msgspec.DecodeError:
            decoded = body.decode("utf-8", "replace")[:2000]
    message, errors = _laravel_fields(decoded)
    request_id = headers.get("X-Request-Id") or headers.get("x-request-id")
    common: dict[str, Any] = {
        "status": status,
        "request_id": request_id,
        "body": decoded,
        "headers": headers,
        "method": method,
        "url": url,
        "operation": operation,
        "retry_after": retry_after,
    }
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = InternalServerError if status >= 500 else APIStatusError
    if cls is UnprocessableEntityError:
        return UnprocessableEntityError(message, errors=errors, **common)
    if cls is PermissionDeniedError:
        return PermissionDeniedError(message, required_scopes=scopes, **common)
    return cls(message, **common)


def first_error(exc: BaseException) -> BaseException:
    """The error a caller should see from a failed task group: its first leaf that is not a
    cancellation (walkers cancelled because a sibling failed are a consequence, not the cause).

    Example: ``raise first_error(group) from None`` instead of an ``ExceptionGroup`` of identical 422s.
    """
    while isinstance(exc, BaseExceptionGroup):
        causes = [e for e in exc.exceptions if not isinstance(e, asyncio.CancelledError)]
        exc = (causes or list(exc.exceptions))[0]
    return exc
