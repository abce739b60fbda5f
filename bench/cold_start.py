"""Benchmark 5: ``python -c "import kanbert_async"`` vs ``python -c "import aiohttp"``. Bar: ≤ 1.5×."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections import defaultdict

from .common import Result, interleave

BAR = 1.5


def _importer(module: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
    return time.perf_counter() - start


def import_profile(module: str = "kanbert_async", runs: int = 7, top: int = 20) -> str:
    """``python -X importtime``: per-module self and cumulative import times (medians of ``runs``)."""
    self_us: dict[str, list[int]] = defaultdict(list)
    cumulative_us: dict[str, list[int]] = defaultdict(list)
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            capture_output=True,
            text=True,
            check=True,
        )
        for line in done.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            own, total, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
            self_us[name].append(int(own))
            cumulative_us[name].append(int(total))
    rows = sorted(cumulative_us, key=lambda name: -statistics.median(cumulative_us[name]))[:top]
    lines = [
        f"python -X importtime -c 'import {module}', medians of {runs} runs (ms)",
        "  self   cumul  module",
    ]
    for name in rows:
        own, total = statistics.median(self_us[name]) / 1000, statistics.median(cumulative_us[name]) / 1000
        lines.append(f"{own:6.1f} {total:7.1f}  {name.strip()}")
    ours = sum(statistics.median(v) for k, v in self_us.items() if k.strip().startswith(module)) / 1000
    lines.append(f"self time of {module}.* modules together: {ours:.1f} ms")
    return "\n".join(lines)


def run(quick: bool = False) -> Result:
    """Fresh interpreters, interleaved; the ratio of medians."""
    rounds = 5 if quick else 21
    figures = interleave(
        {
            "import kanbert_async": lambda: _importer("kanbert_async"),
            "import aiohttp": lambda: _importer("aiohttp"),
            "python -c pass": lambda: _importer("sys"),
        },
        rounds=rounds,
        warmup=2,
    )
    sdk, aiohttp = figures["import kanbert_async"].median, figures["import aiohttp"].median
    ratio = sdk / aiohttp
    result = Result(
        title="5. Cold start",
        figures=list(figures.values()),
        ratios={"kanbert_async / aiohttp": ratio},
        bars={"kanbert_async / aiohttp": f"≤ {BAR}×"},
        met={"kanbert_async / aiohttp": ratio <= BAR},
        setup={
            "samples": f'{rounds} rounds after 2 warm-up rounds; wall time of `python -c "import …"` '
            "in a fresh interpreter each"
        },
    )
    if not result.all_met:
        result.profile = import_profile()
    return result
