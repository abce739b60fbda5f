"""Every bad input ends with one clear line and a non-zero exit — never a traceback."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import msgspec
import pytest

from kanbert_async.cli import main
from kanbert_async.sandbox import Sandbox


@pytest.fixture
def env(calm_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    monkeypatch.setenv("KANBERT_API_TOKEN", calm_sandbox.token)
    monkeypatch.setenv("KANBERT_BASE_URL", calm_sandbox.base_url)
    return calm_sandbox


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["export", "outgoing-invoices", *args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err.strip()


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("kanbert-async: error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_unknown_include(env: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(capsys, "--out", str(tmp_path), "--include", "lineitems")
    assert code == 2 and "lineitems" in _one_line(err) and "line_items" in err


def test_unknown_filter_field(env: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(capsys, "--out", str(tmp_path), "--filter", 'titel contains "x"')
    assert code == 2 and "titel" in _one_line(err) and "title" in err


def test_filter_that_does_not_parse(env: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(capsys, "--out", str(tmp_path), "--filter", 'title contains "x" and (')
    assert code == 2 and "filter" in _one_line(err)


def test_missing_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KANBERT_API_TOKEN", raising=False)
    code, err = _run(capsys, "--out", str(tmp_path))
    assert code == 2 and "KANBERT_API_TOKEN" in _one_line(err)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_base_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KANBERT_API_TOKEN", "t")
    code, err = _run(
        capsys,
        "--out",
        str(tmp_path),
        "--base-url",
        f"http://127.0.0.1:{_free_port()}/api/v1",
        "--max-retries",
        "1",
        "--quiet",
    )
    assert code == 1 and "could not reach" in _one_line(err)


@pytest.fixture
def html_server() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html><body>Welcome to nginx!</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/v1"
    server.shutdown()


def test_non_kanbert_base_url(
    html_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KANBERT_API_TOKEN", "t")
    code, err = _run(capsys, "--out", str(tmp_path), "--base-url", html_server, "--quiet")
    assert code == 1 and "Kanbert API" in _one_line(err)


def test_wrong_token_401(env: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run(capsys, "--out", str(tmp_path), "--token", "not-the-token", "--quiet")
    assert code == 1 and "401" in _one_line(err) and "not-the-token" not in err


def test_missing_scope_403_names_the_scope(
    env: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = env.issue_token(scopes=["outgoing-invoice:upload"])
    code, err = _run(capsys, "--out", str(tmp_path), "--token", token, "--quiet")
    assert code == 1 and "403" in _one_line(err) and "outgoing-invoice:read" in err


def test_out_not_writable(env: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, err = _run(capsys, "--out", str(blocker / "sub"), "--quiet")
    assert code == 2 and "--out" in _one_line(err)


def test_resume_against_a_different_export(
    env: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / ".kanbert-export"
    state.mkdir()
    identity = {
        "entity": "outgoing-invoices",
        "include": [],
        "filter": "x",
        "since": None,
        "until": None,
        "pdfs": False,
        "format": "csv",
        "page_size": 100,
    }
    (state / "state.json").write_bytes(
        msgspec.json.encode(
            {
                "identity": identity,
                "base_url": env.base_url,
                "started_at": "2026-01-01T00:00:00+00:00",
                "plan_field": "date_of_invoice",
            }
        )
    )
    code, err = _run(capsys, "--out", str(tmp_path), "--resume", "--quiet")
    assert code == 2 and "different export" in _one_line(err)


def test_a_second_export_into_a_used_directory_is_refused(
    env: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    code, err = _run(capsys, "--out", str(tmp_path), "--quiet")
    assert code == 2 and "not empty" in _one_line(err)
