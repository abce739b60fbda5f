"""Measuring helpers: interleaved repetitions, medians with min–max, the sandbox in its own process,
profiles of missed bars, and the facts of the run (machine, versions, commit)."""

from __future__ import annotations

import cProfile
import dataclasses
import gc
import io
import json
import os
import platform
import pstats
import selectors
import signal
import statistics
import subprocess
import sys
import sysconfig
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import Any

import msgspec

__all__ = [
    "BENCH_DIR",
    "CACHE_DIR",
    "Figure",
    "Result",
    "SandboxProcess",
    "interleave",
    "listed_count",
    "machine",
    "profile",
    "timed",
    "versions",
]

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
#: Generated code and scratch files of a run (git-ignored by the ``.gitignore`` written into it).
CACHE_DIR = BENCH_DIR / ".cache"


@dataclass
class Figure:
    """Repeated measurements of one contender (seconds, or any unit named in ``unit``)."""

    name: str
    samples: list[float] = field(default_factory=list)
    unit: str = "s"
    #: How many samples are projections of runs stopped at a deadline (see ``describe``).
    projected: int = 0

    @property
    def median(self) -> float:
        """The median sample."""
        return statistics.median(self.samples)

    def describe(self) -> str:
        """``median (min–max)`` with a sensible precision."""
        scale, unit = (
            (1e6, "µs")
            if self.unit == "s" and self.median < 1e-3
            else ((1e3, "ms") if self.unit == "s" and self.median < 1 else (1, self.unit))
        )
        if len(self.samples) == 1:
            text = f"{self.median * scale:.3g} {unit}"
        else:
            low, high = min(self.samples) * scale, max(self.samples) * scale
            text = f"{self.median * scale:.3g} {unit} ({low:.3g}–{high:.3g})"
        if self.projected:
            text += f" [{self.projected} of {len(self.samples)} projected from runs stopped early]"
        return text


@dataclass
class Result:
    """One benchmark's outcome: its figures, the ratio that matters, and whether it met its bar.

    ``ratios``, ``bars`` and ``met`` share keys: the measured value, the bar as text (``≥ 4×``) and
    whether it was met. ``setup`` says what was measured and how (sizes, rounds, options);
    ``profile`` holds a cProfile summary of the SDK side when a bar was missed.
    """

    title: str
    figures: list[Figure]
    ratios: dict[str, float]
    bars: dict[str, str]
    met: dict[str, bool]
    notes: list[str] = field(default_factory=list)
    setup: dict[str, str] = field(default_factory=dict)
    profile: str = ""
    #: Filled in by the runner.
    name: str = ""
    command: str = ""
    measured_at: str = ""
    commit: str = ""
    elapsed: float = 0.0
    quick: bool = False
    machine: str = ""
    versions: str = ""
    #: Set when the benchmark crashed: the error, instead of figures.
    error: str = ""

    @property
    def all_met(self) -> bool:
        """Every bar of this benchmark was met."""
        return not self.error and all(self.met.values())

    def to_json(self) -> dict[str, Any]:
        """A JSON-friendly copy (figures with their raw samples)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        """The inverse of :meth:`to_json` (unknown keys ignored, so old records still load)."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        figure_fields = {f.name for f in dataclasses.fields(Figure)}
        values["figures"] = [
            Figure(**{k: v for k, v in figure.items() if k in figure_fields})
            for figure in data.get("figures", [])
        ]
        return cls(**values)


def interleave(
    contenders: dict[str, Callable[[], float]], *, rounds: int, warmup: int = 1
) -> dict[str, Figure]:
    """Run contenders A B C A B C …; each call returns its own measured duration (or value)."""
    figures = {name: Figure(name) for name in contenders}
    for _ in range(warmup):
        for run in contenders.values():
            run()
    for _ in range(rounds):
        for name, run in contenders.items():
            figures[name].samples.append(run())
    return figures


def timed(fn: Callable[[], object], *, inner: int = 1) -> Callable[[], float]:
    """A contender timing ``inner`` calls of ``fn``, reporting seconds per call.

    The garbage left by the previous contender is collected first, so nobody pays for another's
    garbage; collections caused by ``fn`` itself count, as they would in a real program.
    """

    def run() -> float:
        gc.collect()
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        return (time.perf_counter() - start) / inner

    return run


def profile(fn: Callable[[], object], *, top: int = 25, strip: str = str(ROOT) + os.sep) -> str:
    """Run ``fn`` under cProfile; the ``top`` functions by cumulative time, as text."""
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        fn()
    finally:
        profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    lines = [line.rstrip() for line in out.getvalue().splitlines()]
    # Keep the header line and the table; drop pstats' preamble of file names and blank lines.
    start = next((i for i, line in enumerate(lines) if "function calls" in line), 0)
    text = "\n".join(line for line in lines[start:] if line.strip())
    for prefix in (
        strip,
        sysconfig.get_paths()["purelib"] + os.sep,
        sysconfig.get_paths()["stdlib"] + os.sep,
    ):
        text = text.replace(prefix, "")
    return text


# -- the sandbox, in a process of its own ------------------------------------------------------
class SandboxProcess:
    """``python -m kanbert_async.sandbox`` as a subprocess: started, read, stopped with SIGTERM.

    Example::

        with SandboxProcess(invoices=3000, rate_limit="50/s") as sb:
            print(sb.base_url, sb.token, sb.startup)
    """

    def __init__(
        self,
        *,
        invoices: int,
        seed: int = 1,
        rate_limit: str | None = None,
        latency: float = 0.0,
        extra: tuple[str, ...] = (),
        start_timeout: float = 900.0,
    ) -> None:
        self.args = ["--port", "0", "--invoices", str(invoices), "--seed", str(seed)]
        if rate_limit:
            self.args += ["--rate-limit", rate_limit]
        if latency:
            self.args += ["--latency", str(latency)]
        self.args += list(extra)
        self.start_timeout = start_timeout
        self.base_url = ""
        self.token = ""
        #: Seconds from spawning the process to its printing the base URL and token.
        self.startup = 0.0
        self._process: subprocess.Popen[bytes] | None = None
        self._log = CACHE_DIR / f"sandbox-{os.getpid()}-{id(self)}.log"

    @property
    def command(self) -> str:
        """The command line, as a reader would type it."""
        return "python -m kanbert_async.sandbox " + " ".join(self.args)

    @property
    def root_url(self) -> str:
        """The server root (where ``/__sandbox__/counters`` lives)."""
        return self.base_url.removesuffix("/api/v1")

    @property
    def pid(self) -> int:
        """The sandbox's process id."""
        assert self._process is not None
        return self._process.pid

    def __enter__(self) -> SandboxProcess:
        ensure_cache_dir()
        started = time.perf_counter()
        stderr = self._log.open("wb")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "kanbert_async.sandbox", *self.args],
            stdout=subprocess.PIPE,
            stderr=stderr,
            cwd=ROOT,
        )
        stderr.close()
        try:
            self._read_banner(started)
        except BaseException:
            self._stop()
            raise
        self.startup = time.perf_counter() - started
        return self

    def _read_banner(self, started: float) -> None:
        assert self._process is not None and self._process.stdout is not None
        values: dict[str, str] = {}
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(self._process.stdout, selectors.EVENT_READ)
            while "KANBERT_BASE_URL" not in values or "KANBERT_API_TOKEN" not in values:
                left = self.start_timeout - (time.perf_counter() - started)
                if left <= 0:
                    raise RuntimeError(
                        f"the sandbox did not start within {self.start_timeout:.0f}s: {self.command}"
                    )
                if not selector.select(timeout=min(left, 1.0)):
                    if self._process.poll() is not None:
                        break
                    continue
                chunk = os.read(self._process.stdout.fileno(), 4096)
                if not chunk:
                    break
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    key, _, value = line.decode().strip().partition("=")
                    values[key] = value
        if "KANBERT_BASE_URL" not in values or "KANBERT_API_TOKEN" not in values:
            self._process.wait(timeout=10)
            log = self._log.read_text(errors="replace")[-2000:]
            raise RuntimeError(
                f"the sandbox exited (code {self._process.returncode}) before printing its URL and token: "
                f"{self.command}\n{log}"
            )
        self.base_url, self.token = values["KANBERT_BASE_URL"], values["KANBERT_API_TOKEN"]

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop()

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()
        self._log.unlink(missing_ok=True)

    def get(self, path: str, *, root: bool = False) -> bytes:
        """GET ``path`` (under the API base, or the server root) with the token; the body bytes."""
        url = (self.root_url if root else self.base_url) + path
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=120) as response:
            body: bytes = response.read()
        return body

    def counters(self) -> dict[str, Any]:
        """The sandbox's own counters (requests per operation, statuses, 429s)."""
        counters: dict[str, Any] = json.loads(self.get("/__sandbox__/counters", root=True))
        return counters


class _CountedMeta(msgspec.Struct):
    next_cursor: str | None = None


class _CountedPage(msgspec.Struct):
    data: list[msgspec.Raw]
    meta: _CountedMeta


def listed_count(invoices: int, seed: int = 1, *, archived: str = "without") -> tuple[int, int]:
    """How many invoices ``GET /outgoing-invoices`` lists for this data (``archived``: the API's
    default leaves archived ones out; an export takes them ``"with"``), and the requests it took,
    counted on a separate, unthrottled sandbox with the same data."""
    decoder = msgspec.json.Decoder(_CountedPage)
    total = requests = 0
    with SandboxProcess(invoices=invoices, seed=seed) as sandbox:
        cursor: str | None = None
        while True:
            query = f"page%5Bsize%5D=200&filter=archived%20eq%20%22{archived}%22" + (
                f"&page%5Bcursor%5D={cursor}" if cursor else ""
            )
            page = decoder.decode(sandbox.get(f"/outgoing-invoices?{query}"))
            total, requests = total + len(page.data), requests + 1
            cursor = page.meta.next_cursor
            if cursor is None:
                return total, requests


def ensure_cache_dir() -> Path:
    """``bench/.cache/``, created with a ``.gitignore`` that ignores everything in it."""
    CACHE_DIR.mkdir(exist_ok=True)
    ignore = CACHE_DIR / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")
    return CACHE_DIR


# -- the facts of the run -----------------------------------------------------------------------
def machine() -> str:
    """What the figures were measured on."""
    cpu = "unknown CPU"
    memory = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), cpu
            )
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    memory = f", {int(line.split()[1]) / 1024 / 1024:.0f} GiB RAM"
                    break
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores{memory}, "
        f"Python {platform.python_version()}"
    )


def versions(*packages: str) -> str:
    """Installed versions of the packages involved."""
    found = []
    for name in packages:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def git_revision() -> str:
    """The commit measured, naming the SDK files that had uncommitted changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True, cwd=ROOT
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", "kanbert_async", "codegen", "openapi"],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    changed = [line[3:] for line in status.splitlines() if line.strip()]
    if not changed:
        return commit
    listed = ", ".join(changed[:6]) + (f" and {len(changed) - 6} more" if len(changed) > 6 else "")
    return f"{commit} + uncommitted changes to {listed}"


def python() -> str:
    """The interpreter running the benchmarks."""
    return sys.executable


def peak_rss_mib(pid: int | None = None) -> float:
    """Peak resident memory (VmHWM) of a process, in MiB; this process by default."""
    path = f"/proc/{pid or 'self'}/status"
    with open(path) as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM in {path}")
