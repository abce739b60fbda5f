"""Typos in sort and include are caught by mypy, before anything runs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

CASES = textwrap.dedent(
    """
    from kanbert_async import KanbertClient, desc


    def calls(kb: KanbertClient) -> None:
        kb.outgoing_invoices.list(include=["line_items", "discounts"], sort=["-date_of_invoice", "title"])
        kb.outgoing_invoices.list(sort=desc("sum_net"), include="external_costs")
        kb.outgoing_invoices.list(include=["lineitems"])  # line 8: wrong include
        kb.outgoing_invoices.list(sort=["-date_of_invoce"])  # line 9: wrong sort
        kb.outgoing_invoice_masters.list(sort=["date_of_invoice"])  # line 10: not sortable on masters
    """
)


def test_mypy_rejects_wrong_includes_and_sorts_and_accepts_right_ones(tmp_path: Path) -> None:
    case = tmp_path / "typed_calls.py"
    case.write_text(CASES)
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--no-error-summary", str(case)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, "MYPYPATH": str(ROOT)},
    )
    errors = [line for line in proc.stdout.splitlines() if ": error:" in line]
    lines = sorted({int(line.split(":")[1]) for line in errors})
    assert lines == [8, 9, 10], proc.stdout
    assert "Literal['lineitems']" in proc.stdout
