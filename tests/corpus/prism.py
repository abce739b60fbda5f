"""Stoplight Prism, the mock server we did not write: installed by ``make prism``, started per test.

Prism serves a description with schema-valid random answers (``-d``), validates every request
against it (422 for an invalid one) and negotiates ``Accept`` strictly (406).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from .scratch import ROOT

PRISM = ROOT / ".prism" / "node_modules" / ".bin" / "prism"


def ensure_installed() -> Path:
    """The Prism executable, installing the pinned version first if needed (``make prism``)."""
    if not PRISM.exists():
        subprocess.run(["make", "-s", "prism"], cwd=ROOT, check=True)
    return PRISM


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(spec: Path, *, timeout: float = 60.0) -> Iterator[str]:
    """Run ``prism mock -d`` on ``spec`` on a free loopback port; yields its base URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [str(ensure_installed()), "mock", "-d", "-h", "127.0.0.1", "-p", str(port), str(spec)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + timeout
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if "Prism is listening" in line:
                break
            if time.monotonic() > deadline:
                raise TimeoutError("Prism did not start:\n" + "".join(seen[-20:]))
        else:
            raise RuntimeError(f"Prism exited ({proc.wait()}) on {spec}:\n" + "".join(seen[-20:]))
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
