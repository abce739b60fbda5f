"""Failures in the command's words: one line for each (flags like ``--max-retries``, not the SDK's
arguments), the exit code it ends with, and where a failed export left its progress."""

from __future__ import annotations

import argparse
import socket
import ssl
from pathlib import Path
from urllib.parse import urlsplit

from .._core.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    InvalidRequestError,
    KanbertError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    UnprocessableEntityError,
)
from .._core.filters.tree import FilterError
from .options import base_url

__all__ = [
    "EXIT_BROKEN_PIPE",
    "EXIT_CODES",
    "EXIT_FAILURE",
    "EXIT_INPUT",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "UsageError",
    "caret",
    "explain",
    "saved_progress",
]

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_INPUT = 2
EXIT_INTERRUPTED = 130
#: A reader closed our stdout (``kanbert-async export --out - | head``): what SIGPIPE would exit with.
EXIT_BROKEN_PIPE = 141

EXIT_CODES = """exit codes:
  0    done (warnings, e.g. a filter that matched nothing, go to stderr)
  1    the API or the network failed, or a file could not be written
  2    bad input: an option, a filter, a token or an --out directory
  130  interrupted (Ctrl-C or SIGTERM)"""


class UsageError(Exception):
    """Bad input found after parsing (option combinations, a missing token): one line, exit 2."""


def _network_reason(exc: BaseException) -> str:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            return "the host name could not be resolved"
        if isinstance(current, ConnectionRefusedError):
            return "nothing accepts connections on that port"
        if isinstance(current, ssl.SSLCertVerificationError):
            return "its TLS certificate could not be verified"
        if isinstance(current, ssl.SSLError):
            return "the TLS handshake failed"
        if isinstance(current, TimeoutError | APITimeoutError):
            return "it did not answer in time"
        current = getattr(current, "os_error", None) or current.__cause__ or current.__context__
    return "the connection failed or dropped"


def _api_hint(exc: APIStatusError, args: argparse.Namespace | None) -> str:
    if isinstance(exc, UnprocessableEntityError) and any("page" in k for k in exc.errors):
        return f"Lower --page-size (it is {getattr(args, 'page_size', '?')})."
    if isinstance(exc, RateLimitError):
        return "Lower --rate-limit or raise --max-retries."
    if exc.status == 400:
        return "Check --filter and --include."
    if exc.status >= 500:
        return "The server failed; try again later." + (
            f" (request id {exc.request_id})" if exc.request_id else ""
        )
    return ""


def explain(exc: BaseException, args: argparse.Namespace | None) -> tuple[str, int]:
    """The one line a person reads, and the exit code."""
    from ..export import ExportError, ExportFailed

    if isinstance(exc, ExportFailed):
        return str(exc), EXIT_FAILURE
    if isinstance(exc, UsageError | ExportError):
        return str(exc), EXIT_INPUT
    if isinstance(exc, PermissionDeniedError):
        scopes = ", ".join(exc.required_scopes) or "the one this listing needs"
        return (
            f"the token may not do this (HTTP 403, {exc.operation}): grant it the scope {scopes}",
            EXIT_FAILURE,
        )
    if isinstance(exc, AuthenticationError):
        return "the API token was refused (HTTP 401); check --token or KANBERT_API_TOKEN", EXIT_FAILURE
    url = base_url(args)
    if isinstance(exc, NotFoundError) and exc.operation.endswith(".index"):
        hint = "Kanbert's API lives under /api/v1"
        if not urlsplit(url).path.rstrip("/").endswith("/api/v1"):
            hint += f": try --base-url {url.rstrip('/')}/api/v1"
        return (
            f"{url} answered 404 to the listing ({exc.operation}); is it a Kanbert API? {hint}",
            EXIT_FAILURE,
        )
    if isinstance(exc, APIStatusError):
        text = f"{exc.operation or exc.method}: HTTP {exc.status}"
        if exc.message:
            text += f" — {exc.message.rstrip('.')}"
        return f"{text}. {_api_hint(exc, args)}".rstrip(), EXIT_FAILURE
    if isinstance(exc, APIConnectionError):
        where = urlsplit(exc.url or url)
        retries = getattr(args, "max_retries", None)
        tried = f" (tried {retries + 1} times)" if retries else ""
        return (
            f"could not reach {where.scheme}://{where.netloc}: {_network_reason(exc)}{tried}. "
            "Check --base-url (or KANBERT_BASE_URL) and the network",
            EXIT_FAILURE,
        )
    if isinstance(exc, FilterError):
        return f"--filter: {str(exc).removeprefix('Invalid filter: ')}", EXIT_INPUT
    if isinstance(exc, InvalidRequestError | KanbertError):
        return str(exc), EXIT_INPUT if isinstance(exc, InvalidRequestError) else EXIT_FAILURE
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), EXIT_FAILURE
    return f"unexpected {type(exc).__name__}: {exc} (please report this)", EXIT_FAILURE


def caret(exc: BaseException, args: argparse.Namespace | None) -> str:
    """For a --filter that does not parse: the filter and a caret under where reading stopped."""
    text = getattr(args, "filter", None)
    position = getattr(exc, "position", None)
    if not isinstance(exc, FilterError) or text is None or position is None:
        return ""
    return f"  {text}\n  {' ' * position}^\n"


def saved_progress(args: argparse.Namespace) -> str:
    """Where a failed or interrupted export left its progress, and how to continue it."""
    if args.command != "export" or args.out == "-":
        return ""
    from ..export.output import STATE_FILE, WORK_DIR

    if not (Path(args.out) / WORK_DIR / STATE_FILE).exists():
        return ""
    again = "--since-last --resume" if args.since_last else "--resume"
    return (
        f"progress is saved in {Path(args.out) / WORK_DIR}/: run the command again with {again} to continue"
    )
