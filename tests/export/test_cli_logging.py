"""Running the command in-process leaves the caller's logging and stderr as they were."""

from __future__ import annotations

import logging

import pytest

from kanbert_async.cli import main
from kanbert_async.export.progress import Progress


def test_main_gives_the_sdk_logger_back_as_it_found_it() -> None:
    logger = logging.getLogger("kanbert_async")
    before = (list(logger.handlers), logger.level, logger.propagate)
    # A command that runs and fails (no token): its log handler came and went.
    assert main(["export", "outgoing-invoices", "--out", "-", "--token", ""]) == 2
    assert (list(logger.handlers), logger.level, logger.propagate) == before


def test_progress_writes_to_stderr_as_it_is_when_it_starts(capsys: pytest.CaptureFixture[str]) -> None:
    progress = Progress(live=False)
    progress.stream.write("hello\n")
    assert "hello" in capsys.readouterr().err
