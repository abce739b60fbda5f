"""The ``kanbert-async`` command: ``export``, ``sandbox`` and ``demo``.

Every failure ends as one line on stderr and a non-zero exit: 2 for bad input (options, filters,
tokens, directories), 1 for failures of the API or the network, 130 when interrupted. No traceback
reaches the user, and messages speak of the command's flags, not of the SDK's arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import importlib.util
import logging
import os
import signal
import socket
import ssl
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar
from urllib.parse import urlsplit

from ._core.errors import (
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
from ._core.filters.tree import FilterError
from ._core.ratelimit import parse_rate
from ._version import __version__

__all__ = ["main"]

T = TypeVar("T")

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

DEFAULT_BASE_URL = "https://api.kanbert.com/api/v1"
WORK_DIR = ".kanbert-export"


class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """Descriptions and epilogs as written, every option's default shown."""


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit with EXIT_INPUT."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INPUT, f"{self.prog}: error: {message} (see --help)\n")


class _UsageError(Exception):
    """Bad input found after parsing (option combinations, a missing token): one line, exit 2."""


# -- option types: each turns bad text into argparse's one-line error ----------------------------
def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2024-01-31") from None


def _whole(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        what = "a positive whole number" if minimum == 1 else f"a whole number >= {minimum}"
        raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
    return value


def _positive(text: str) -> int:
    return _whole(text, 1)


def _retries(text: str) -> int:
    return _whole(text, 0)


def _rate(text: str) -> str:
    try:
        parse_rate(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a rate; write it like 10/s, 600/min or 5000/h"
        ) from None
    return text


def _redis_url(text: str) -> str:
    if urlsplit(text).scheme not in ("redis", "rediss", "unix"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a Redis URL like redis://localhost:6379/0")
    return text


def _formats(text: str) -> str:
    from .export.engine import parse_formats

    try:
        return ",".join(parse_formats(text))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _pdf_name(text: str) -> str:
    from .export.pdfnames import template_fields

    try:
        template_fields(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


# -- the parser -----------------------------------------------------------------------------------
def _connection_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument("--token", help="API token (default: $KANBERT_API_TOKEN)")
    group.add_argument(
        "--base-url",
        help=f"API base URL, ending in /api/v1 (default: $KANBERT_BASE_URL or {DEFAULT_BASE_URL})",
    )
    group.add_argument(
        "--allow-insecure-http",
        action="store_true",
        help="allow a plain http:// --base-url to another machine (sends the token unencrypted)",
    )
    group.add_argument(
        "--rate-limit", type=_rate, help="client-side pacing, e.g. 600/min (default: learned from the server)"
    )
    group.add_argument(
        "--rate-limit-redis",
        type=_redis_url,
        metavar="URL",
        help="share the token's rate-limit budget with every process using this Redis, e.g. "
        "redis://localhost:6379/0 (default: $KANBERT_RATE_LIMIT_REDIS_URL); if Redis is unreachable, "
        "a warning, and this process paces itself until it answers",
    )
    group.add_argument(
        "--max-retries", type=_retries, default=5, help="retries of a failed request (timeouts, 429, 5xx)"
    )


EXPORT_DESCRIPTION = """\
Export every record of a listing — by default every invoice, archived ones included — with its
line items, discounts and external costs, to JSON Lines, CSV and/or Parquet, and optionally each
invoice's PDF. Files are written atomically; manifest.json lists them with sha256, counts, the
filter and what it left out. A killed export continues with --resume and writes the same bytes;
--since-last later adds only what changed."""

EXPORT_EXAMPLES = """\
examples:
  kanbert-async export outgoing-invoices --out ./export --pdfs --pdf-name '{invoice_number}'
  kanbert-async export outgoing-invoices --out ./export --since-last       # next day: just the changes
  kanbert-async export outgoing-invoices --out ./books --format csv --csv-dialect excel-de \\
      --filter 'status eq "booked"' --since 2024-01-01 --until 2024-12-31
  kanbert-async export outgoing-invoices --out - --include '' | jq .invoice_number

"""


def _export_parser(commands: Any) -> None:
    export = commands.add_parser(
        "export",
        help="bulk-export records (and PDFs) to JSON Lines, CSV or Parquet",
        description=EXPORT_DESCRIPTION,
        epilog=EXPORT_EXAMPLES + EXIT_CODES,
        formatter_class=_HelpFormatter,
    )
    export.add_argument(
        "entity", choices=["outgoing-invoices", "outgoing-invoice-masters"], help="what to export"
    )
    what = export.add_argument_group("what to export")
    what.add_argument(
        "--include",
        default="line_items,discounts,external_costs",
        help="relations to include, comma-separated ('' for none)",
    )
    what.add_argument("--filter", help="filter in the API's DSL, e.g. 'status eq \"booked\"'")
    what.add_argument("--since", type=_date, help="first day (inclusive) of the invoice date")
    what.add_argument("--until", type=_date, help="last day (inclusive) of the invoice date")
    what.add_argument(
        "--archived",
        choices=["with", "only", "without"],
        default="with",
        help="archived records: included, only them, or left out",
    )
    what.add_argument("--pdfs", action="store_true", help="also download each invoice's PDF into pdfs/")
    where = export.add_argument_group("output")
    where.add_argument(
        "--out",
        required=True,
        help="output directory: new or empty (or an earlier export, with --resume or --since-last); "
        "'-' streams JSON Lines to stdout",
    )
    where.add_argument(
        "--format",
        type=_formats,
        default="both",
        help="jsonl, csv, parquet, both (jsonl and csv) or a comma list",
    )
    where.add_argument(
        "--csv-dialect",
        choices=["rfc4180", "excel", "excel-de"],
        default="rfc4180",
        help="rfc4180: plain; excel: UTF-8 BOM; excel-de: BOM, ';' and decimal comma",
    )
    where.add_argument(
        "--pdf-name",
        type=_pdf_name,
        default="{id}",
        help="PDF file names from record fields, e.g. '{invoice_number}' or '{client.name}_{invoice_number}'",
    )
    runs = export.add_argument_group("runs")
    runs.add_argument("--resume", action="store_true", help="continue an interrupted export in --out")
    runs.add_argument(
        "--since-last",
        action="store_true",
        help="merge in only what changed since the export in --out was made",
    )
    runs.add_argument("--partitions", type=_positive, default=8, help="concurrent listing partitions")
    runs.add_argument("--concurrency", type=_positive, default=8, help="concurrent PDF downloads")
    runs.add_argument("--page-size", type=_positive, default=100, help="records per request")
    runs.add_argument("--quiet", action="store_true", help="no progress output")
    _connection_options(export)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="kanbert-async",
        description="The Kanbert API from the command line.",
        epilog="examples:\n  kanbert-async export outgoing-invoices --out ./export --pdfs\n"
        "  kanbert-async sandbox --port 8765\n  kanbert-async demo\n\n" + EXIT_CODES,
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kanbert-async {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")
    _export_parser(commands)

    from .sandbox.cli import add_arguments

    sandbox = commands.add_parser(
        "sandbox",
        help="run a local Kanbert API server with realistic data",
        description="Serve a local Kanbert API with seeded invoices until Ctrl-C or SIGTERM. Prints "
        "KANBERT_BASE_URL and KANBERT_API_TOKEN lines first, ready for the environment.",
        epilog="examples:\n  kanbert-async sandbox --port 8765 --invoices 5000 --seed 1\n"
        "  kanbert-async sandbox --port 0 --rate-limit 600/min --error-rate 0.02\n\n" + EXIT_CODES,
        formatter_class=_HelpFormatter,
    )
    add_arguments(sandbox)

    demo = commands.add_parser(
        "demo",
        help="export from a bundled sandbox: the SDK's main job, end to end",
        description="Start a sandbox on a bad day (latency, a rate limit, injected faults), export every "
        "invoice (archived ones included) with PDFs, check the files against the sandbox's data, "
        "and print a summary. --out must be new, empty or an earlier export: only files an export "
        "of kanbert-async wrote are replaced.",
        epilog="examples:\n  kanbert-async demo\n  kanbert-async demo --out /tmp/demo --invoices 500\n\n"
        + EXIT_CODES,
        formatter_class=_HelpFormatter,
    )
    demo.add_argument("--out", type=Path, default=Path("demo-out"), help="output directory")
    demo.add_argument("--invoices", type=_positive, default=2000, help="invoices in the sandbox")
    demo.add_argument("--seed", type=int, default=1, help="data seed")
    return parser


# -- turning errors into one line ---------------------------------------------------------------
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


def _explain(exc: BaseException, args: argparse.Namespace | None) -> tuple[str, int]:
    """The one line a person reads, and the exit code."""
    from .export import ExportError, ExportFailed

    if isinstance(exc, ExportFailed):
        return str(exc), EXIT_FAILURE
    if isinstance(exc, _UsageError | ExportError):
        return str(exc), EXIT_INPUT
    if isinstance(exc, PermissionDeniedError):
        scopes = ", ".join(exc.required_scopes) or "the one this listing needs"
        return (
            f"the token may not do this (HTTP 403, {exc.operation}): grant it the scope {scopes}",
            EXIT_FAILURE,
        )
    if isinstance(exc, AuthenticationError):
        return "the API token was refused (HTTP 401); check --token or KANBERT_API_TOKEN", EXIT_FAILURE
    base_url = _base_url(args)
    if isinstance(exc, NotFoundError) and exc.operation.endswith(".index"):
        hint = "Kanbert's API lives under /api/v1"
        if not urlsplit(base_url).path.rstrip("/").endswith("/api/v1"):
            hint += f": try --base-url {base_url.rstrip('/')}/api/v1"
        return (
            f"{base_url} answered 404 to the listing ({exc.operation}); is it a Kanbert API? {hint}",
            EXIT_FAILURE,
        )
    if isinstance(exc, APIStatusError):
        text = f"{exc.operation or exc.method}: HTTP {exc.status}"
        if exc.message:
            text += f" — {exc.message.rstrip('.')}"
        return f"{text}. {_api_hint(exc, args)}".rstrip(), EXIT_FAILURE
    if isinstance(exc, APIConnectionError):
        where = urlsplit(exc.url or base_url)
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


def _caret(exc: BaseException, args: argparse.Namespace | None) -> str:
    """For a --filter that does not parse: the filter and a caret under where reading stopped."""
    text = getattr(args, "filter", None)
    position = getattr(exc, "position", None)
    if not isinstance(exc, FilterError) or text is None or position is None:
        return ""
    return f"  {text}\n  {' ' * position}^\n"


def _base_url(args: argparse.Namespace | None) -> str:
    return str(getattr(args, "base_url", None) or os.environ.get("KANBERT_BASE_URL") or DEFAULT_BASE_URL)


# -- running ------------------------------------------------------------------------------------
def _run(coroutine_factory: Callable[[], Awaitable[T]]) -> T:
    """Run until done; SIGTERM cancels like Ctrl-C, so state on disk stays consistent."""

    async def guarded() -> T:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        assert task is not None
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
        return await coroutine_factory()

    return asyncio.run(guarded())


def _check_export_args(args: argparse.Namespace) -> None:
    """Option combinations argparse cannot check, and what the client would refuse in its own words."""
    from ._core.settings import check_base_url

    if args.since and args.until and args.since > args.until:
        raise _UsageError(f"--since {args.since} is after --until {args.until}: no date is in that range")
    if args.out == "-":
        refused = [
            flag
            for flag, on in (
                ("--pdfs", args.pdfs),
                ("--resume", args.resume),
                ("--since-last", args.since_last),
            )
            if on
        ]
        if refused:
            raise _UsageError(f"--out - streams JSON Lines to stdout: it cannot take {', '.join(refused)}")
        if args.format not in ("jsonl", "jsonl,csv"):
            raise _UsageError("--out - streams JSON Lines to stdout: drop --format or pass --format jsonl")
    if args.rate_limit_redis and importlib.util.find_spec("redis") is None:
        raise _UsageError("--rate-limit-redis needs the redis package: pip install 'kanbert-async[redis]'")
    token = args.token if args.token is not None else os.environ.get("KANBERT_API_TOKEN")
    if not token:
        raise _UsageError(
            "no API token: pass --token or set KANBERT_API_TOKEN "
            "(create one in Kanbert under Settings → Apps & API)"
        )
    url = _base_url(args)
    source = (
        "--base-url"
        if args.base_url
        else "KANBERT_BASE_URL"
        if os.environ.get("KANBERT_BASE_URL")
        else "--base-url"
    )
    try:
        check_base_url(url, allow_insecure_http=args.allow_insecure_http)
    except InvalidRequestError:
        if urlsplit(url).scheme == "http":
            raise _UsageError(
                f"{source} {url} is plain http to another machine, which would send the token unencrypted; "
                "use https, or pass --allow-insecure-http if you mean it"
            ) from None
        raise _UsageError(f"{source} {url!r} is not an http(s) URL like {DEFAULT_BASE_URL}") from None


def _config(args: argparse.Namespace) -> Any:
    from .export import ExportConfig

    return ExportConfig(
        entity=args.entity,
        out=Path(args.out),
        include=tuple(part.strip() for part in args.include.split(",") if part.strip()),
        filter=args.filter,
        since=args.since,
        until=args.until,
        pdfs=args.pdfs,
        format="jsonl" if args.out == "-" else args.format,
        partitions=args.partitions,
        concurrency=args.concurrency,
        page_size=args.page_size,
        resume=args.resume,
        archived=args.archived,
        csv_dialect=args.csv_dialect,
        pdf_name=args.pdf_name,
        since_last=args.since_last,
    )


def _summary(result: Any, streaming: bool) -> str:
    counts = ", ".join(f"{v} {k}" for k, v in result.counts.items())
    where = "stdout" if streaming else str(result.out)
    line = (
        f"exported {counts} to {where} in {result.elapsed:.1f}s "
        f"({result.requests} requests, {result.retries} retries, {result.rate_limited} × 429)"
    )
    if result.changes is not None:
        added, updated = result.changes["added"], result.changes["updated"]
        line += f"; generation {result.generation}: {added} added, {updated} updated"
    line += "; " + (
        "; ".join(result.scope) if result.scope else "nothing left out (archived records included)"
    )
    if not streaming:
        line += f"; manifest: {result.out / 'manifest.json'}"
    return line


async def _export(args: argparse.Namespace) -> int:
    from . import RedisStore

    if not args.rate_limit_redis:
        return await _export_with(args, None)  # the client reads KANBERT_RATE_LIMIT_REDIS_URL itself
    store = RedisStore.from_url(args.rate_limit_redis)
    try:
        return await _export_with(args, store)
    finally:
        await store.aclose()


async def _export_with(args: argparse.Namespace, store: Any) -> int:
    from . import KanbertClient
    from .export import Progress, run_export, stream_export

    config = _config(args)
    streaming = args.out == "-"
    progress = None if args.quiet or streaming else Progress()
    async with KanbertClient(
        args.token,
        base_url=args.base_url,
        rate_limit=args.rate_limit,
        rate_limit_store=store,
        max_retries=args.max_retries,
        allow_insecure_http=args.allow_insecure_http,
    ) as kb:
        try:
            if streaming:
                result = await stream_export(kb, config, sys.stdout.buffer)
            else:
                result = await run_export(kb, config, progress)
        finally:
            if progress is not None:
                progress.close()
    for warning in result.warnings:
        print(f"kanbert-async: warning: {warning}", file=sys.stderr)
    print(_summary(result, streaming), file=sys.stderr if streaming else sys.stdout)
    return EXIT_OK


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of the message (it may be replaced)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def _configure_logging() -> None:
    """Retries and recoveries as short lines on stderr, not Python's bare last-resort output."""
    logger = logging.getLogger("kanbert_async")
    if not logger.handlers:
        handler = _StderrHandler()
        # On a terminal, wipe the live progress line first so the message gets a line of its own.
        prefix = "\r\x1b[K" if sys.stderr.isatty() else ""
        handler.setFormatter(logging.Formatter(prefix + "kanbert-async: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
        logger.propagate = False


def _saved_progress(args: argparse.Namespace) -> str:
    """Where a failed or interrupted export left its progress, and how to continue it."""
    if args.command != "export" or args.out == "-":
        return ""
    if not (Path(args.out) / WORK_DIR / "state.json").exists():
        return ""
    again = "--since-last --resume" if args.since_last else "--resume"
    return (
        f"progress is saved in {Path(args.out) / WORK_DIR}/: run the command again with {again} to continue"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kanbert-async`` console script; returns the exit code."""
    args = _build_parser().parse_args(argv)
    _configure_logging()
    try:
        if args.command == "export":
            _check_export_args(args)
            return _run(lambda: _export(args))
        if args.command == "sandbox":
            from .sandbox.cli import run as run_sandbox

            return run_sandbox(args)
        from .export.demo import run_demo

        return _run(lambda: run_demo(args.out, invoices=args.invoices, seed=args.seed))
    except (KeyboardInterrupt, asyncio.CancelledError):
        saved = _saved_progress(args)
        print(f"kanbert-async: interrupted{'; ' + saved if saved else ''}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of --out - went away (| head): stop quietly, as a process killed by SIGPIPE would.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        message, code = _explain(exc, args)
        if args.command == "demo" and code == EXIT_FAILURE:
            message = f"the demo failed: {message}"
        saved = _saved_progress(args) if code == EXIT_FAILURE else ""
        if saved:
            message = f"{message.rstrip('.')}. {saved[0].upper()}{saved[1:]}"
        print(f"kanbert-async: error: {message}", file=sys.stderr)
        sys.stderr.write(_caret(exc, args))
        return code


if __name__ == "__main__":
    raise SystemExit(main())
