"""Scratch SDKs: each corpus description generated the way ``make generate`` would, but into a copy.

``make_scratch`` copies ``kanbert_async/`` (without its generated code) into a temporary root and
runs ``python -m codegen --spec <document>`` into the copy's ``_generated/``: the package a user
gets after dropping that description into ``openapi/``. The same generated code is also placed as
``corpus_<name>._generated`` under an alias root, so tests can import every corpus SDK into one
process (the copies are all named ``kanbert_async``, and only one of those can be imported).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).resolve().parent
OPENAPI = ROOT / "openapi" / "openapi.json"
OVERLAY = ROOT / "openapi" / "overlay.yaml"

#: Every description the generator is tested on: ours as published, and the corpus.
DOCUMENTS: dict[str, Path] = {"openapi": OPENAPI, **{p.stem: p for p in sorted(CORPUS.glob("*.json"))}}


def overlay_for(name: str) -> Path | None:
    """Our overlay belongs to our description only; corpus documents are used exactly as written."""
    return OVERLAY if name == "openapi" else None


@dataclass(frozen=True)
class Scratch:
    """One generated SDK."""

    name: str
    spec: Path
    #: Holds ``kanbert_async/``, a full copy of the package with this description's generated code.
    root: Path
    #: ``corpus_<name>``: the generated code importable under an alias root (see :func:`make_all`).
    alias: str
    stderr: str


def _codegen(spec: Path, overlay: Path | None, output: Path) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "codegen", "--spec", str(spec), "--output", str(output)]
    args += ["--overlay", str(overlay) if overlay else str(output.parent / "no-overlay.yaml")]
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def make_all(base: Path, names: list[str] | None = None) -> tuple[dict[str, Scratch], Path]:
    """Generate every description (concurrently) into scratch copies under ``base``; returns them
    and the alias root to put on ``sys.path``."""
    aliases = base / "aliases"
    aliases.mkdir(parents=True, exist_ok=True)
    running = {}
    for name in names or list(DOCUMENTS):
        root = base / name
        shutil.copytree(
            ROOT / "kanbert_async",
            root / "kanbert_async",
            ignore=shutil.ignore_patterns("__pycache__", "_generated"),
        )
        running[name] = (
            root,
            _codegen(DOCUMENTS[name], overlay_for(name), root / "kanbert_async" / "_generated"),
        )
    done = {}
    for name, (root, proc) in running.items():
        _, stderr = proc.communicate(timeout=300)
        if proc.returncode != 0:
            raise AssertionError(f"codegen failed on {DOCUMENTS[name]}:\n{stderr}")
        alias = f"corpus_{name}"
        (aliases / alias).mkdir()
        (aliases / alias / "__init__.py").write_text("")
        shutil.copytree(root / "kanbert_async" / "_generated", aliases / alias / "_generated")
        done[name] = Scratch(name, DOCUMENTS[name], root, alias, stderr)
    return done, aliases
