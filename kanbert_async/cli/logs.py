"""The SDK's log lines as a CLI user sees them: short ``kanbert-async: …`` lines on stderr."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["configure_logging", "verbosity_option"]


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of the message (it may be replaced)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


@contextlib.contextmanager
def configure_logging(verbosity: int = 0) -> Iterator[None]:
    """Retries and duplicate checks as short lines on stderr, not Python's bare last-resort output;
    with ``-v`` one line per request, with ``-vv`` their query and headers too (credentials redacted).
    For as long as the command runs: a program that calls ``main()`` gets its logging back after."""
    logger = logging.getLogger("kanbert_async")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    handler = _StderrHandler()
    # On a terminal, wipe the live progress line first so the message gets a line of its own.
    prefix = "\r\x1b[K" if sys.stderr.isatty() else ""
    handler.setFormatter(logging.Formatter(prefix + "kanbert-async: %(message)s"))
    logger.handlers = [handler]
    logger.setLevel(_LEVELS[min(verbosity, 2)])
    logger.propagate = False
    try:
        yield
    finally:
        logger.handlers, logger.level, logger.propagate = saved


_LEVELS = {0: logging.WARNING, 1: logging.INFO, 2: logging.DEBUG}


def verbosity_option(parser: Any) -> None:
    """``-v``/``-vv`` on a command (or an argument group of it)."""
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="-v: one line per request (status, time, request id); -vv: also query and headers",
    )
