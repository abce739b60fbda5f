"""``-v`` and ``-vv`` on the command line: one line per request, then query and headers — no token —
and an in-process ``main()`` leaves the ``kanbert_async`` logger as it found it."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from kanbert_async.cli import main
from kanbert_async.sandbox import Sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(invoices=40, seed=5).serve_in_thread() as sb:
        yield sb


@pytest.mark.parametrize(("flag", "debug"), [("-v", False), ("-vv", True)])
def test_verbose_export_prints_one_line_per_request_and_never_the_token(
    sandbox: Sandbox, capsys: pytest.CaptureFixture[str], flag: str, debug: bool
) -> None:
    logger = logging.getLogger("kanbert_async")
    before = (list(logger.handlers), logger.level, logger.propagate)
    argv = ["export", "outgoing-invoice-masters", "--out", "-", "--quiet", flag]
    argv += ["--token", sandbox.token, "--base-url", sandbox.base_url]
    assert main(argv) == 0
    err = capsys.readouterr().err
    requests = [line for line in err.splitlines() if "GET /outgoing-invoices/master →" in line]
    assert requests and all(" 200 in " in line and "attempt 1" in line for line in requests)
    assert ("headers=" in err) is debug
    assert sandbox.token not in err
    assert (list(logger.handlers), logger.level, logger.propagate) == before


def test_without_v_no_request_lines(sandbox: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["export", "outgoing-invoice-masters", "--out", "-", "--quiet"]
    assert main([*argv, "--token", sandbox.token, "--base-url", sandbox.base_url]) == 0
    assert "→" not in capsys.readouterr().err
