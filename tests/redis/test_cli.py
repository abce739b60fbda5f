"""``kanbert-async export --rate-limit-redis URL``: several exports share a token's budget; a bad
URL is refused in the command's words; an unreachable Redis costs one warning and the export goes on
with a budget of its own (a cron job must not fail because its coordination service is down)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kanbert_async.sandbox import Sandbox

from ..export.conftest import start_threaded
from .conftest import RedisServer

SCRIPT = shutil.which("kanbert-async", path=str(Path(sys.executable).parent))


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    yield from start_threaded(invoices=30, seed=4)


def _export(sandbox: Sandbox, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    assert SCRIPT is not None
    command = [SCRIPT, "export", "outgoing-invoices", "--out", str(out), "--quiet",
               "--token", sandbox.token, "--base-url", sandbox.base_url, *extra]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


def test_a_url_that_is_not_redis_is_refused_in_the_commands_words(sandbox: Sandbox, tmp_path: Path) -> None:
    done = _export(sandbox, tmp_path / "out", "--rate-limit-redis", "http://localhost:6379")
    assert done.returncode == 2
    assert "--rate-limit-redis: 'http://localhost:6379' is not a Redis URL" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_exports_share_the_tokens_budget_through_redis(
    sandbox: Sandbox, tmp_path: Path, redis_server: RedisServer
) -> None:
    done = _export(sandbox, tmp_path / "out", "--rate-limit-redis", redis_server.url)
    assert done.returncode == 0, done.stderr
    assert "exported 30 invoices" in done.stdout
    assert redis_server.command("KEYS", "kanbert-async:*").count(b"kanbert-async:ratelimit:") == 1


def test_an_unreachable_redis_costs_one_warning_and_the_export_goes_on(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        nowhere = f"redis://:secret-pw@127.0.0.1:{probe.getsockname()[1]}/0"
    done = _export(sandbox, tmp_path / "out", "--rate-limit-redis", nowhere)
    assert done.returncode == 0, done.stderr
    assert "exported 30 invoices" in done.stdout
    [warning] = done.stderr.strip().splitlines()
    assert warning.startswith("kanbert-async: the shared rate-limit budget at redis://127.0.0.1:")
    assert "pacing this process alone until it answers again" in warning
    assert "secret-pw" not in done.stderr and "Traceback" not in done.stderr
