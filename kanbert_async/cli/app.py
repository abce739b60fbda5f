"""The ``kanbert-async`` entry point: parse the command line, run the command, and turn whatever
ends it (done, a failure, Ctrl-C, a closed pipe) into output and an exit code."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from .export_command import check_export_args, run_export_command
from .logs import configure_logging
from .messages import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    caret,
    explain,
    saved_progress,
)
from .parser import build_parser

__all__ = ["main"]

T = TypeVar("T")


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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kanbert-async`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    with configure_logging():
        return _command(args)


def _command(args: argparse.Namespace) -> int:
    try:
        if args.command == "export":
            check_export_args(args)
            return _run(lambda: run_export_command(args))
        if args.command == "sandbox":
            from ..sandbox.cli import run as run_sandbox

            return run_sandbox(args)
        from ..export.demo import run_demo

        return _run(lambda: run_demo(args.out, invoices=args.invoices, seed=args.seed))
    except (KeyboardInterrupt, asyncio.CancelledError):
        saved = saved_progress(args)
        print(f"kanbert-async: interrupted{'; ' + saved if saved else ''}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of --out - went away (| head): stop quietly, as a process killed by SIGPIPE would.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as exc:
        message, code = explain(exc, args)
        if args.command == "demo" and code == EXIT_FAILURE:
            message = f"the demo failed: {message}"
        saved = saved_progress(args) if code == EXIT_FAILURE else ""
        if saved:
            message = f"{message.rstrip('.')}. {saved[0].upper()}{saved[1:]}"
        print(f"kanbert-async: error: {message}", file=sys.stderr)
        sys.stderr.write(caret(exc, args))
        return code
