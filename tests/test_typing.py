"""Typing is part of the API: ``mypy --strict`` accepts a user's file that uses the public names
(with ``assert_type`` on each result), and rejects each mistake of another file, line by line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TYPING = ROOT / "tests" / "typing"


def _mypy(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(path.relative_to(ROOT))],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_a_users_file_with_the_public_names_passes_mypy_strict() -> None:
    result = _mypy(TYPING / "user_code.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_mistake_in_a_users_file_is_an_error_on_its_line() -> None:
    source = (TYPING / "misuse.py").read_text("utf-8").splitlines()
    expected = {number for number, line in enumerate(source, 1) if "# E:" in line}
    result = _mypy(TYPING / "misuse.py")
    flagged = {int(m) for m in re.findall(r"misuse\.py:(\d+): error", result.stdout)}
    assert flagged == expected, result.stdout
