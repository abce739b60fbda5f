"""``python -m bench [NAME ...] [--quick] [--no-write]`` (``make bench`` runs them all).

Runs the benchmarks (all, or those named), prints a table, stores every record with its raw samples
in ``bench/.results/``, and rewrites the measured section of BENCHMARKS.md. ``--quick`` is a smoke
run — fewer rounds, smaller data — and leaves BENCHMARKS.md alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import shlex
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

from .common import BENCH_DIR, ROOT, Result, git_revision, machine, versions
from .report import read_results, render_markdown, render_terminal, write_markdown

#: Benchmark name → module in this package, in report order.
BENCHMARKS = {
    "decode": "decode",
    "request_path": "request_path",
    "bulk_listing": "bulk_listing",
    "export": "export",
    "cold_start": "cold_start",
    "throttles": "throttles",
    "redis_budget": "redis_budget",
}
PACKAGES = ("kanbert-async", "msgspec", "aiohttp", "pydantic", "pydantic-core", "httpx",
            "datamodel-code-generator")  # fmt: skip
MARKDOWN = ROOT / "BENCHMARKS.md"
RESULTS = BENCH_DIR / ".results"

PREAMBLE = """# Benchmarks

Produced by `make bench` (`python -m bench`); the section between the `measured` markers below is
rewritten by every full run, figures exactly as measured, misses included.
"""


def _measure(name: str, quick: bool) -> Result:
    """Run one benchmark in this process; a crash becomes a result that says so."""
    module = importlib.import_module(f".{BENCHMARKS[name]}", __package__)
    try:
        result: Result = module.run(quick=quick)
    except Exception:
        traceback.print_exc()
        result = Result(title=name, figures=[], ratios={}, bars={}, met={}, error=traceback.format_exc())
    return result


def _run_one(name: str, *, quick: bool, commit: str, where: str, packages: str) -> Result:
    """One benchmark in a fresh interpreter, so none inherits another's state: imports, caches, and
    the allocator's (glibc's malloc adapts its trim and mmap thresholds to the sizes freed before)."""
    started = time.perf_counter()
    print(f"== {name}{' (quick)' if quick else ''} …", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        record = Path(scratch) / "result.json"
        command = [
            sys.executable,
            "-m",
            "bench",
            "--child",
            str(record),
            name,
            *(["--quick"] if quick else []),
        ]
        done = subprocess.run(command, cwd=ROOT, check=False)
        if record.exists():
            result = Result.from_json(json.loads(record.read_text(encoding="utf-8")))
        else:
            error = f"the benchmark process exited with code {done.returncode} without a result"
            result = Result(title=name, figures=[], ratios={}, bars={}, met={}, error=error)
    result.name = name
    result.command = f"python -m bench {name}" + (" --quick" if quick else "")
    result.measured_at = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    result.commit = commit
    result.elapsed = time.perf_counter() - started
    result.quick = quick
    result.machine = where
    result.versions = packages
    print(f"== {name}: {result.elapsed:.0f} s", file=sys.stderr, flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    """Run, print, record; exit 1 if a benchmark crashed (a missed bar is a result, not a failure)."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run (default: all): {', '.join(BENCHMARKS)}")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="a fast smoke run; BENCHMARKS.md is left alone")
    parser.add_argument("--no-write", action="store_true", help="do not rewrite BENCHMARKS.md")
    parser.add_argument("--child", metavar="FILE", help=argparse.SUPPRESS)  # internal: one benchmark → FILE
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    names = list(dict.fromkeys(args.names)) or list(BENCHMARKS)
    if args.child:
        (name,) = names
        result = _measure(name, args.quick)
        Path(args.child).write_text(json.dumps(result.to_json(), ensure_ascii=False), encoding="utf-8")
        return 0

    started = time.perf_counter()
    commit, where, packages = git_revision(), machine(), versions(*PACKAGES)
    results = [
        _run_one(name, quick=args.quick, commit=commit, where=where, packages=packages) for name in names
    ]
    total = time.perf_counter() - started

    print(render_terminal(results))
    print(f"\n{len(results)} benchmark(s) in {total:.0f} s on {where}; commit {commit}")

    RESULTS.mkdir(exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    record = RESULTS / f"{stamp}{'-quick' if args.quick else ''}.json"
    record.write_text(
        json.dumps([r.to_json() for r in results], indent=1, ensure_ascii=False), encoding="utf-8"
    )
    print(f"raw samples: {record.relative_to(ROOT)}")

    if args.quick or args.no_write:
        print("BENCHMARKS.md left unchanged" + (" (quick run)" if args.quick else ""))
    else:
        stored = read_results(MARKDOWN)
        stored.update({r.name: r for r in results})
        ordered = [stored[name] for name in BENCHMARKS if name in stored]
        command = "python -m bench" + (
            " " + " ".join(shlex.quote(n) for n in args.names) if args.names else ""
        )
        run = f"`{command}` at {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M UTC}, {total:.0f} s"
        section = render_markdown(ordered, machine=where, versions=packages, commit=commit, run=run)
        write_markdown(MARKDOWN, section, preamble=PREAMBLE)
        print(f"BENCHMARKS.md updated ({', '.join(r.name for r in results)})")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
