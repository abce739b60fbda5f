"""Small, named pieces: every hand-written module opens with a docstring and stays under ~450 lines."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 460

#: Over the limit, and being rewritten on other branches: split them there.
BEING_REWRITTEN: dict[str, str] = {}


def _modules() -> list[Path]:
    found = []
    for top in ("kanbert_async", "codegen", "bench", "tests"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            if "_generated" in parts or any(part.startswith(".") for part in parts):
                continue
            found.append(path)
    return found


def test_every_module_opens_with_a_docstring() -> None:
    missing = [
        str(p.relative_to(ROOT))
        for p in _modules()
        if p.read_text(encoding="utf-8").strip() and not ast.get_docstring(ast.parse(p.read_text("utf-8")))
    ]
    assert missing == []


def test_no_module_is_longer_than_the_limit() -> None:
    too_long = {
        str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
        for p in _modules()
        if len(p.read_text(encoding="utf-8").splitlines()) > LIMIT
    }
    assert set(too_long) <= set(BEING_REWRITTEN), too_long
