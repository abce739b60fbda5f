"""The ``kanbert-async`` command: ``export``, ``sandbox`` and ``demo``.

Every failure ends as one line on stderr and a non-zero exit: 2 for bad input (options, filters,
tokens, directories), 1 for failures of the API or the network, 130 when interrupted. No traceback
reaches the user.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from ._core.errors import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    InvalidRequestError,
    KanbertError,
    NotFoundError,
    PermissionDeniedError,
    ResponseDecodeError,
)
from ._version import __version__

__all__ = ["main"]

T = TypeVar("T")

EXIT_INPUT = 2
EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit with EXIT_INPUT."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INPUT, f"{self.prog}: error: {message} (see --help)\n")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2024-01-31") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def _connection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--token", help="API token (default: $KANBERT_API_TOKEN)")
    parser.add_argument("--base-url", help="API base URL (default: $KANBERT_BASE_URL or Kanbert's)")
    parser.add_argument(
        "--rate-limit", help="client-side pacing, e.g. 600/min (default: learned from the server)"
    )
    parser.add_argument(
        "--max-retries", type=int, default=5, help="retries of transient failures per request"
    )


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kanbert-async", description="The Kanbert API from the command line.")
    parser.add_argument("--version", action="version", version=f"kanbert-async {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    export = commands.add_parser("export", help="bulk-export records (and PDFs) to JSONL/CSV")
    export.add_argument("entity", choices=["outgoing-invoices", "outgoing-invoice-masters"])
    export.add_argument(
        "--out", type=Path, required=True, help="output directory (new or empty, or --resume)"
    )
    export.add_argument(
        "--include",
        default="line_items,discounts,external_costs",
        help="relations to include, comma-separated (default: all three; '' for none)",
    )
    export.add_argument("--filter", help="filter in the API's DSL, e.g. 'status eq \"booked\"'")
    export.add_argument("--since", type=_date, help="first day (inclusive) of the invoice date")
    export.add_argument("--until", type=_date, help="last day (inclusive) of the invoice date")
    export.add_argument("--pdfs", action="store_true", help="also download each invoice's PDF")
    export.add_argument("--format", choices=["jsonl", "csv", "both"], default="both")
    export.add_argument("--partitions", type=_positive, default=8, help="concurrent listing partitions")
    export.add_argument("--concurrency", type=_positive, default=8, help="concurrent PDF downloads")
    export.add_argument("--page-size", type=_positive, default=100)
    export.add_argument("--resume", action="store_true", help="continue an interrupted export in --out")
    export.add_argument("--quiet", action="store_true", help="no progress output")
    _connection_options(export)

    sandbox = commands.add_parser("sandbox", help="run a local Kanbert API server with realistic data")
    from .sandbox.cli import add_arguments

    add_arguments(sandbox)

    demo = commands.add_parser("demo", help="export from a bundled sandbox: the SDK's main job, end to end")
    demo.add_argument("--out", type=Path, default=Path("demo-out"), help="output directory (replaced)")
    demo.add_argument("--invoices", type=_positive, default=2000)
    demo.add_argument("--seed", type=int, default=1)
    return parser


def _explain(exc: BaseException) -> tuple[str, int]:
    """The one line a person reads, and the exit code."""
    if isinstance(exc, PermissionDeniedError):
        return f"{exc} The token lacks a scope this command needs.", EXIT_FAILURE
    if isinstance(exc, AuthenticationError):
        return f"{exc}", EXIT_FAILURE
    if isinstance(exc, NotFoundError) and exc.operation.endswith(".index"):
        return f"{exc} Is the base URL a Kanbert API (…/api/v1)?", EXIT_FAILURE
    if isinstance(exc, ResponseDecodeError | APIStatusError | APIConnectionError):
        return str(exc), EXIT_FAILURE
    if isinstance(exc, InvalidRequestError):
        return str(exc), EXIT_INPUT
    if isinstance(exc, KanbertError):
        return str(exc), EXIT_INPUT
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), EXIT_FAILURE
    return f"unexpected {type(exc).__name__}: {exc}", EXIT_FAILURE


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


async def _export(args: argparse.Namespace) -> int:
    from . import KanbertClient
    from .export import ExportConfig, Progress, run_export

    config = ExportConfig(
        entity=args.entity,
        out=args.out,
        include=tuple(part.strip() for part in args.include.split(",") if part.strip()),
        filter=args.filter,
        since=args.since,
        until=args.until,
        pdfs=args.pdfs,
        format=args.format,
        partitions=args.partitions,
        concurrency=args.concurrency,
        page_size=args.page_size,
        resume=args.resume,
    )
    progress = None if args.quiet else Progress()
    async with KanbertClient(
        args.token, base_url=args.base_url, rate_limit=args.rate_limit, max_retries=args.max_retries
    ) as kb:
        try:
            result = await run_export(kb, config, progress)
        finally:
            if progress is not None:
                progress.close()
    counts = ", ".join(f"{v} {k}" for k, v in result.counts.items())
    print(
        f"exported {counts} to {result.out} in {result.elapsed:.1f}s "
        f"({result.requests} requests, {result.retries} retries, {result.rate_limited} × 429); "
        f"manifest: {result.out / 'manifest.json'}"
    )
    return 0


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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kanbert-async`` console script; returns the exit code."""
    args = _build_parser().parse_args(argv)
    _configure_logging()
    try:
        if args.command == "export":
            return _run(lambda: _export(args))
        if args.command == "sandbox":
            from .sandbox.cli import run as run_sandbox

            return run_sandbox(args)
        from .export.demo import run_demo

        return _run(lambda: run_demo(args.out, invoices=args.invoices, seed=args.seed))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print(
            "kanbert-async: interrupted; progress is saved — rerun the same command with --resume to finish",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except Exception as exc:
        message, code = _explain(exc)
        print(f"kanbert-async: error: {message}", file=sys.stderr)
        return code


if __name__ == "__main__":
    raise SystemExit(main())
