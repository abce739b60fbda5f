"""The installed ``kanbert-async`` console script over bad input: one clear line in the command's
own words, the right exit code, no traceback, no SDK internals, and no file of the user's touched."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest

from kanbert_async.sandbox import Sandbox

from .conftest import start_threaded

SCRIPT = shutil.which("kanbert-async", path=str(Path(sys.executable).parent))
#: Words that belong to Python or the SDK's insides, never to a message for a command-line user.
INTERNALS = (
    "Traceback",
    "ExceptionGroup",
    "TaskGroup",
    "unexpected",
    "ValueError",
    "OverflowError",
    "max_retries",
    "token=",
    "allow_insecure_http",
    "base_url=",
    "kanbert_async.",
    "_core",
    "find_by",
    ".errors",
    "%22",
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """One sandbox for every subprocess of this module."""
    yield from start_threaded(invoices=60, seed=5)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The user's directory: their own file, and an export directory holding another of theirs."""
    (tmp_path / "notes.txt").write_text("my notes")
    (tmp_path / "books").mkdir()
    (tmp_path / "books" / "2024.xlsx").write_bytes(b"PK my spreadsheet")
    return tmp_path


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(
    sandbox: Sandbox, cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    assert SCRIPT is not None, "the console script is not installed (make setup)"
    environment = {
        **os.environ,
        "KANBERT_API_TOKEN": sandbox.token,
        "KANBERT_BASE_URL": sandbox.base_url,
        **(env or {}),
    }
    environment = {k: v for k, v in environment.items() if v is not None and v != "<unset>"}
    return subprocess.run(
        [SCRIPT, *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout
    )


def _state(sandbox: Sandbox, out: Path) -> None:
    """An unfinished export of other options in ``out``."""
    (out / ".kanbert-export").mkdir(parents=True)
    identity = {"entity": "outgoing-invoices", "format": "csv", "include": [], "filter": "x"}
    state = {"identity": identity, "base_url": sandbox.base_url, "started_at": "2026-01-01T00:00:00+00:00"}
    (out / ".kanbert-export" / "state.json").write_bytes(msgspec.json.encode({**state, "plan_field": "x"}))


EXPORT = ("export", "outgoing-invoices", "--quiet")
# (id, arguments, environment, set-up, exit code, words the error line must hold)
Case = tuple[
    str, tuple[str, ...], dict[str, str], Callable[[Sandbox, Path], None] | None, int, tuple[str, ...]
]
CASES: list[Case] = [
    (
        "rate-limit-word",
        (*EXPORT, "--out", "o", "--rate-limit", "fast"),
        {},
        None,
        2,
        ("--rate-limit", "600/min"),
    ),
    ("max-retries-negative", (*EXPORT, "--out", "o", "--max-retries", "-1"), {}, None, 2, ("--max-retries",)),
    ("partitions-zero", (*EXPORT, "--out", "o", "--partitions", "0"), {}, None, 2, ("--partitions",)),
    ("page-size-word", (*EXPORT, "--out", "o", "--page-size", "lots"), {}, None, 2, ("--page-size",)),
    ("sandbox-port", ("sandbox", "--port", "99999"), {}, None, 2, ("--port", "65535")),
    (
        "sandbox-rate-limit",
        ("sandbox", "--port", "0", "--rate-limit", "fast"),
        {},
        None,
        2,
        ("--rate-limit",),
    ),
    (
        "since-after-until",
        (*EXPORT, "--out", "o", "--since", "2025-01-01", "--until", "2024-01-01"),
        {},
        None,
        2,
        ("--since 2025-01-01", "--until 2024-01-01"),
    ),
    (
        "since-not-a-date",
        (*EXPORT, "--out", "o", "--since", "2024-13-01"),
        {},
        None,
        2,
        ("--since", "2024-01-31"),
    ),
    (
        "page-size-refused-by-the-server",
        (*EXPORT, "--out", "o", "--page-size", "5000"),
        {},
        None,
        1,
        ("outgoingInvoices.index", "HTTP 422", "page.size", "--page-size", "--resume"),
    ),
    (
        "no-token",
        (*EXPORT, "--out", "o"),
        {"KANBERT_API_TOKEN": "<unset>"},
        None,
        2,
        ("--token", "KANBERT_API_TOKEN"),
    ),
    (
        "plain-http-to-another-host",
        (*EXPORT, "--out", "o", "--base-url", "http://kanbert.example/api/v1"),
        {},
        None,
        2,
        ("--base-url", "--allow-insecure-http"),
    ),
    (
        "plain-http-from-the-environment",
        (*EXPORT, "--out", "o"),
        {"KANBERT_BASE_URL": "http://kanbert.example/api/v1"},
        None,
        2,
        ("KANBERT_BASE_URL", "--allow-insecure-http"),
    ),
    (
        "not-an-http-url",
        (*EXPORT, "--out", "o", "--base-url", "ftp://x/api/v1"),
        {},
        None,
        2,
        ("http(s) URL",),
    ),
    (
        "filter-syntax",
        (*EXPORT, "--out", "o", "--filter", 'status eq "booked" and ('),
        {},
        None,
        2,
        ("--filter",),
    ),
    (
        "filter-field",
        (*EXPORT, "--out", "o", "--filter", 'titel eq "x"'),
        {},
        None,
        2,
        ("--filter", "'title'"),
    ),
    (
        "filter-archived",
        (*EXPORT, "--out", "o", "--filter", 'archived eq "only"'),
        {},
        None,
        2,
        ("--archived",),
    ),
    (
        "include-typo",
        (*EXPORT, "--out", "o", "--include", "lineitems"),
        {},
        None,
        2,
        ("--include", "line_items"),
    ),
    ("archived-choice", (*EXPORT, "--out", "o", "--archived", "some"), {}, None, 2, ("--archived",)),
    ("format-unknown", (*EXPORT, "--out", "o", "--format", "xml"), {}, None, 2, ("--format", "parquet")),
    (
        "csv-dialect-unknown",
        (*EXPORT, "--out", "o", "--csv-dialect", "excel-fr"),
        {},
        None,
        2,
        ("--csv-dialect",),
    ),
    (
        "pdf-name-unclosed",
        (*EXPORT, "--out", "o", "--pdf-name", "{invoice_number"),
        {},
        None,
        2,
        ("--pdf-name",),
    ),
    ("pdf-name-no-field", (*EXPORT, "--out", "o", "--pdf-name", "invoice"), {}, None, 2, ("--pdf-name",)),
    ("entity-unknown", ("export", "invoices", "--out", "o"), {}, None, 2, ("outgoing-invoices",)),
    (
        "masters-have-no-pdfs",
        ("export", "outgoing-invoice-masters", "--out", "o", "--pdfs"),
        {},
        None,
        2,
        ("--pdfs",),
    ),
    ("stdout-with-pdfs", (*EXPORT, "--out", "-", "--pdfs"), {}, None, 2, ("--out -", "--pdfs")),
    ("stdout-with-csv", (*EXPORT, "--out", "-", "--format", "csv"), {}, None, 2, ("--out -", "--format")),
    ("stdout-with-since-last", (*EXPORT, "--out", "-", "--since-last"), {}, None, 2, ("--since-last",)),
    (
        "out-holds-the-users-files",
        (*EXPORT, "--out", "books"),
        {},
        None,
        2,
        ("not empty", "nothing in it was changed"),
    ),
    ("out-is-a-file", (*EXPORT, "--out", "notes.txt"), {}, None, 2, ("--out",)),
    (
        "since-last-without-an-export",
        (*EXPORT, "--out", "o", "--since-last"),
        {},
        None,
        2,
        ("--since-last", "full export"),
    ),
    (
        "resume-a-different-export",
        (*EXPORT, "--out", "other", "--resume"),
        {},
        lambda sb, home: _state(sb, home / "other"),
        2,
        ("different export",),
    ),
    (
        "since-last-on-an-unfinished-full-export",
        (*EXPORT, "--out", "other", "--since-last", "--resume"),
        {},
        lambda sb, home: _state(sb, home / "other"),
        2,
        ("unfinished full export", "--resume"),
    ),
    ("wrong-token", (*EXPORT, "--out", "o", "--token", "not-the-token"), {}, None, 1, ("401", "--token")),
    (
        "base-url-without-api-v1",
        (*EXPORT, "--out", "o", "--max-retries", "0"),
        {"KANBERT_BASE_URL": "<root>"},
        None,
        1,
        ("404", "/api/v1", "try --base-url"),
    ),
    (
        "unreachable-host",
        (*EXPORT, "--out", "o", "--max-retries", "1"),
        {"KANBERT_BASE_URL": "<closed port>"},
        None,
        1,
        ("could not reach http://127.0.0.1:", "nothing accepts connections", "--base-url"),
    ),
    (
        "demo-into-the-users-directory",
        ("demo", "--out", "books"),
        {},
        None,
        2,
        ("not an export of kanbert-async",),
    ),
    ("demo-into-a-file", ("demo", "--out", "notes.txt"), {}, None, 2, ("is a file",)),
]


@pytest.mark.parametrize(
    ("args", "env", "setup", "code", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_gets_one_clear_line(
    sandbox: Sandbox,
    home: Path,
    args: tuple[str, ...],
    env: dict[str, str],
    setup: Callable[[Sandbox, Path], None] | None,
    code: int,
    words: tuple[str, ...],
) -> None:
    if setup is not None:
        setup(sandbox, home)
    replacements = {"<root>": sandbox.root_url, "<closed port>": f"http://127.0.0.1:{_free_port()}/api/v1"}
    env = {k: replacements.get(v, v) for k, v in env.items()}
    before = _snapshot(home)
    result = run(sandbox, home, *args, env=env)
    assert result.returncode == code, result.stderr
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1, result.stderr
    line = errors[0]
    assert line.startswith("kanbert-async")
    for word in words:
        assert word in line, line
    for internal in INTERNALS:
        assert internal not in result.stderr, result.stderr
    assert sandbox.token not in result.stderr + result.stdout and "not-the-token" not in result.stderr
    after = _snapshot(home)
    # The user's files are as they were; at most the tool's own working state was added.
    assert {k: v for k, v in after.items() if k in before} == before
    assert all(".kanbert-export" in k for k in after.keys() - before.keys()), after.keys() - before.keys()


def test_a_filter_that_does_not_parse_is_shown_with_a_caret(sandbox: Sandbox, home: Path) -> None:
    text = 'status eq "booked" and title contains "x" or ) and x'
    result = run(sandbox, home, *EXPORT, "--out", "o", "--filter", text)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("kanbert-async: error: --filter: expected a field name"), lines[0]
    assert lines[1] == f"  {text}" and lines[2] == "  " + " " * text.index(")") + "^"
    ended = run(sandbox, home, *EXPORT, "--out", "o", "--filter", "title contains").stderr.splitlines()
    assert ended[1:] == ["  title contains", "  " + " " * len("title contains") + "^"]  # after the end


def test_a_filter_value_no_record_can_have_is_warned_about_and_exits_0(sandbox: Sandbox, home: Path) -> None:
    result = run(sandbox, home, *EXPORT, "--out", "o", "--filter", 'status eq "bookd"')
    assert result.returncode == 0, result.stderr
    assert (
        "warning: --filter: 'bookd' is not a value of status (estimate, open, bookable, booked)"
        in result.stderr
    )
    assert "warning: no invoices: the filters matched none" in result.stderr
    assert "only invoices matching --filter 'status eq \"bookd\"'" in result.stdout


def test_out_dash_streams_json_lines_to_stdout(sandbox: Sandbox, home: Path) -> None:
    result = run(sandbox, home, *EXPORT, "--out", "-", "--include", "", "--partitions", "2")
    assert result.returncode == 0, result.stderr
    ids = [msgspec.json.decode(line)["id"] for line in result.stdout.splitlines()]
    assert sorted(ids) == sorted(i.id for i in sandbox.store.invoices(archived="with"))
    assert "exported 60 invoices to stdout" in result.stderr
    assert _snapshot(home).keys() == {"notes.txt", "books/2024.xlsx"}


def test_a_reader_that_stops_early_ends_the_export_quietly(sandbox: Sandbox, home: Path) -> None:
    env = {**os.environ, "KANBERT_API_TOKEN": sandbox.token, "KANBERT_BASE_URL": sandbox.base_url}
    assert SCRIPT is not None
    producer = subprocess.Popen(
        [SCRIPT, *EXPORT, "--out", "-", "--page-size", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert producer.stdout is not None
    producer.stdout.readline()
    producer.stdout.close()  # like `| head -1`
    _, err = producer.communicate(timeout=60)
    assert producer.returncode == 141
    assert b"Traceback" not in err and b"error" not in err


@pytest.mark.parametrize("command", [(), ("export",), ("sandbox",), ("demo",)])
def test_help_describes_gives_an_example_shows_defaults_and_lists_exit_codes(
    sandbox: Sandbox, home: Path, command: tuple[str, ...]
) -> None:
    result = run(sandbox, home, *command, "--help")
    assert result.returncode == 0
    text = result.stdout
    assert "examples:" in text and "exit codes:" in text and "130" in text
    if command:
        assert "(default: " in text
    if command == ("export",):
        for flag in (
            "--archived",
            "--csv-dialect",
            "--pdf-name",
            "--since-last",
            "--format",
            "--allow-insecure-http",
        ):
            assert flag in text


def test_an_interrupted_demo_does_not_suggest_resume(home: Path) -> None:
    assert SCRIPT is not None
    demo = subprocess.Popen(
        [SCRIPT, "demo", "--out", "demo", "--invoices", "400"],
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not (home / "demo" / ".kanbert-export" / "state.json").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    demo.send_signal(signal.SIGINT)
    _, err = demo.communicate(timeout=60)
    assert demo.returncode == 130, err.decode()
    assert b"interrupted" in err and b"--resume" not in err and b"Traceback" not in err
    # Its own leftovers may be replaced by the next demo; the user's files stay.
    again = subprocess.run(
        [SCRIPT, "demo", "--out", "demo", "--invoices", "5"], cwd=home, capture_output=True
    )
    assert again.returncode == 0, again.stderr.decode()
    assert (home / "notes.txt").read_text() == "my notes"
