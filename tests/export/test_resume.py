"""Killed at random points (SIGKILL included) and resumed, an export equals an uninterrupted one."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from kanbert_async.sandbox import Sandbox

from .conftest import start_threaded


@pytest.fixture(scope="module")
def slow_sandbox() -> Iterator[Sandbox]:
    """Enough latency that a kill lands mid-export; a few faults on top; titles a spreadsheet would
    run as formulas, so the cells the excel-de dialect guards must resume byte for byte too."""
    for sandbox in start_threaded(
        invoices=150, seed=21, latency=0.01, error_rate=0.02, drop_rate=0.01, fault_seed=3
    ):
        titles = ("=1+1", "+49 30 1234567", "-10% off", "@SUM(A1)")
        invoices = sorted(i.id for i in sandbox.store.invoices(archived="with"))[: len(titles)]
        for invoice_id, title in zip(invoices, titles, strict=True):
            sandbox.store.update_invoice(invoice_id, title=title)
        yield sandbox


def _export(sandbox: Sandbox, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KANBERT_API_TOKEN": sandbox.token, "KANBERT_BASE_URL": sandbox.base_url}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kanbert_async.cli",
            "export",
            "outgoing-invoices",
            "--out",
            str(out),
            "--pdfs",
            "--format",
            "jsonl,csv,parquet",
            "--csv-dialect",
            "excel-de",
            "--pdf-name",
            "{invoice_number}",
            "--partitions",
            "3",
            "--page-size",
            "10",
            "--quiet",
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _files(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


@pytest.fixture(scope="module")
def reference(
    slow_sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, bytes], float]:
    """The files of an uninterrupted export, and how long that run took (process start included)."""
    out = tmp_path_factory.mktemp("reference")
    started = time.monotonic()
    proc = _export(slow_sandbox, out)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    return _files(out), time.monotonic() - started


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_an_export_killed_and_resumed_equals_an_uninterrupted_one(
    slow_sandbox: Sandbox, reference: tuple[dict[str, bytes], float], tmp_path: Path, seed: int
) -> None:
    expected, duration = reference
    rng = random.Random(seed)
    kills = 0
    resume = False
    for _ in range(20):
        proc = _export(slow_sandbox, tmp_path, *(["--resume"] if resume else []))
        # Anywhere in the run: start-up, planning, pages, PDFs or the final assembly.
        deadline = time.monotonic() + rng.uniform(0.1, 0.9) * duration
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if proc.poll() is None:
            proc.send_signal(rng.choice([signal.SIGKILL, signal.SIGTERM, signal.SIGINT]))
            kills += 1
        proc.communicate(timeout=60)
        if proc.returncode == 0 and kills == 0:
            # Finished before the first kill: that proves nothing, so start over and kill sooner.
            shutil.rmtree(tmp_path)
            tmp_path.mkdir()
            duration /= 2
            continue
        resume = True
        if proc.returncode == 0:
            break
    else:
        proc = _export(slow_sandbox, tmp_path, "--resume")
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
    assert kills >= 1
    got = _files(tmp_path)
    assert got.keys() == expected.keys()
    for name, data in expected.items():
        assert sorted(got[name].splitlines()) == sorted(data.splitlines()), name
        assert got[name] == data, f"{name} differs in order only"


def test_sigterm_mid_export_says_how_to_resume(slow_sandbox: Sandbox, tmp_path: Path) -> None:
    proc = _export(slow_sandbox, tmp_path)
    state = tmp_path / ".kanbert-export" / "state.json"
    deadline = time.monotonic() + 30
    while not state.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert state.exists(), "the export never checkpointed"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert b"--resume" in err and b"Traceback" not in err


@pytest.fixture(scope="module")
def steady_sandbox() -> Iterator[Sandbox]:
    """Latency enough to kill mid-export, no faults: every request for a PDF is a PDF fetched."""
    yield from start_threaded(invoices=150, seed=21, latency=0.01)


def test_a_resumed_export_does_not_download_again_the_pdfs_the_killed_run_saved(
    steady_sandbox: Sandbox, tmp_path: Path
) -> None:
    staged = tmp_path / "killed" / ".kanbert-export" / "pdfs"
    fetched = steady_sandbox.counters.requests
    proc = _export(steady_sandbox, tmp_path / "killed")
    while proc.poll() is None and len(list(staged.glob("*.pdf"))) < 40:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    saved = len(list(staged.glob("*.pdf")))  # whole files only: a partial one is a dot-named .part
    assert saved >= 40, "the kill landed after the run had saved 40 PDFs"
    before_resume = fetched["outgoingInvoices.pdf"]
    resumed = _export(steady_sandbox, tmp_path / "killed", "--resume")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err.decode()
    assert fetched["outgoingInvoices.pdf"] - before_resume == 150 - saved, "only the PDFs not saved yet"
    whole = _export(steady_sandbox, tmp_path / "whole")
    _, err = whole.communicate(timeout=300)
    assert whole.returncode == 0, err.decode()
    assert _files(tmp_path / "killed") == _files(tmp_path / "whole")
