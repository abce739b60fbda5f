"""Benchmark 5: importing the SDK and building a client vs ``import aiohttp``. Bars (issue 18): ≤ 1.2×
with our description, ≤ 1.3× with the whole API.

Measured with both descriptions: ours (``openapi/``, the package as it is) and the whole-API
bundle of the corpus (``tests/corpus/kanbert_whole_api.json``: 43 operations, 17 resources),
generated into a scratch copy of the package the way ``make generate`` would. The client's
resources and the models are loaded when first used, so neither import pays for all of them.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from .common import ROOT, Result, ensure_cache_dir, interleave

#: Issue 18's bars per description: import cost must not grow with the number of resources.
BAR = 1.2
WHOLE_API_BAR = 1.3
WHOLE_API = ROOT / "tests" / "corpus" / "kanbert_whole_api.json"
#: What a program does to start using the SDK.
STARTUP = "import kanbert_async; kanbert_async.KanbertClient('token')"


def whole_api_package() -> Path:
    """A scratch copy of ``kanbert_async`` generated from the whole-API bundle; returns its root."""
    root = ensure_cache_dir() / "cold_start_whole_api"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(
        ROOT / "kanbert_async",
        root / "kanbert_async",
        ignore=shutil.ignore_patterns("__pycache__", "_generated"),
    )
    subprocess.run(
        [sys.executable, "-m", "codegen", "--spec", str(WHOLE_API), "--overlay", str(root / "none.yaml"),
         "--output", str(root / "kanbert_async" / "_generated")],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    # Compile once, as an installed package would be: the first import would otherwise pay for it.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(root)], check=True)
    return root


def _importer(code: str, cwd: Path = ROOT) -> float:
    # The working directory comes first on sys.path for `python -c`: it picks the package measured.
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=cwd)
    return time.perf_counter() - start


def import_profile(code: str = STARTUP, cwd: Path = ROOT, runs: int = 7, top: int = 20) -> str:
    """``python -X importtime``: per-module self and cumulative import times (medians of ``runs``)."""
    self_us: dict[str, list[int]] = defaultdict(list)
    cumulative_us: dict[str, list[int]] = defaultdict(list)
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", code],
            capture_output=True,
            text=True,
            check=True,
            cwd=cwd,
        )
        for line in done.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            own, total, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
            self_us[name].append(int(own))
            cumulative_us[name].append(int(total))
    rows = sorted(cumulative_us, key=lambda name: -statistics.median(cumulative_us[name]))[:top]
    lines = [
        f"python -X importtime -c {code!r} in {cwd}, medians of {runs} runs (ms)",
        "  self   cumul  module",
    ]
    for name in rows:
        own, total = statistics.median(self_us[name]) / 1000, statistics.median(cumulative_us[name]) / 1000
        lines.append(f"{own:6.1f} {total:7.1f}  {name.strip()}")
    ours = (
        sum(statistics.median(v) for k, v in self_us.items() if k.strip().startswith("kanbert_async")) / 1000
    )
    lines.append(f"self time of kanbert_async.* modules together: {ours:.1f} ms")
    return "\n".join(lines)


def run(quick: bool = False) -> Result:
    """Fresh interpreters, interleaved; the ratio of medians, per description."""
    rounds = 5 if quick else 21
    whole = whole_api_package()
    # Compiled, as an installed package is (and as the scratch copy is): with PYTHONDONTWRITEBYTECODE
    # set, or sources newer than their bytecode, every import would compile them again.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "kanbert_async")], check=True)
    figures = interleave(
        {
            "import kanbert_async + client (openapi/)": lambda: _importer(STARTUP),
            "import kanbert_async + client (whole-API bundle)": lambda: _importer(STARTUP, whole),
            "import aiohttp": lambda: _importer("import aiohttp"),
            "python -c pass": lambda: _importer("pass"),
        },
        rounds=rounds,
        warmup=2,
    )
    aiohttp = figures["import aiohttp"].median
    ratios = {
        "openapi/ / aiohttp": figures["import kanbert_async + client (openapi/)"].median / aiohttp,
        "whole-API bundle / aiohttp": figures["import kanbert_async + client (whole-API bundle)"].median
        / aiohttp,
    }
    bars = {"openapi/ / aiohttp": BAR, "whole-API bundle / aiohttp": WHOLE_API_BAR}
    result = Result(
        title="5. Cold start",
        figures=list(figures.values()),
        ratios=ratios,
        bars={name: f"≤ {bar}×" for name, bar in bars.items()},
        met={name: ratios[name] <= bar for name, bar in bars.items()},
        setup={
            "samples": f'{rounds} rounds after 2 warm-up rounds; wall time of `python -c "{STARTUP}"` '
            "in a fresh interpreter each",
            "descriptions": "openapi/ (7 operations, 2 resources) and the corpus's whole-API bundle "
            "(43 operations, 17 resources), generated into a scratch copy of the package",
        },
    )
    if not result.all_met:
        result.profile = import_profile(cwd=whole)
    return result
