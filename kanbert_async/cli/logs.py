"""The SDK's log lines as a CLI user sees them: short ``kanbert-async: …`` lines on stderr."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["configure_logging"]


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of the message (it may be replaced)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


@contextlib.contextmanager
def configure_logging() -> Iterator[None]:
    """Retries and duplicate checks as short lines on stderr, not Python's bare last-resort output,
    for as long as the command runs: a program that calls ``main()`` keeps its own logging after."""
    logger = logging.getLogger("kanbert_async")
    if logger.handlers:
        yield  # logging is configured already (by the program calling us): leave it be
        return
    handler = _StderrHandler()
    # On a terminal, wipe the live progress line first so the message gets a line of its own.
    prefix = "\r\x1b[K" if sys.stderr.isatty() else ""
    handler.setFormatter(logging.Formatter(prefix + "kanbert-async: %(message)s"))
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
