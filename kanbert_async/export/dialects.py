"""CSV the way its readers want it: Excel (UTF-8 BOM), German Excel (``;`` and decimal comma), RFC 4180.

Dates and times are ISO 8601 in every dialect. Every dialect ends lines with CRLF (RFC 4180 and
Excel agree) and quotes a cell only when it must (a separator, a quote or a line break inside).

The two Excel dialects also guard against formula injection: a spreadsheet runs a cell that
starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return as a formula
(``=HYPERLINK(…)`` in an invoice title), so such a text cell gets a leading ``'``, as OWASP
advises; Excel shows the text and hides the quote. Numbers are never touched (an amount of
``-12.50`` stays a number), nor is anything in ``rfc4180``, which is for programs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from .flatten import lookup, plain_number

__all__ = ["CSV_DIALECTS", "FORMULA_PREFIX", "FORMULA_STARTS", "CsvDialect", "read_rows"]

#: First characters that make a spreadsheet read a cell as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: What goes before such a text cell: Excel reads the rest as text and does not show the quote.
FORMULA_PREFIX = "'"


@dataclass(frozen=True)
class CsvDialect:
    """How one CSV flavour writes cells and lines."""

    name: str
    delimiter: str
    decimal: str
    #: A UTF-8 byte order mark first: how Excel learns that the file is UTF-8 and not Windows-1252.
    bom: bool
    #: Text cells a spreadsheet would run as formulas get :data:`FORMULA_PREFIX` (numbers never do).
    neutralise_formulas: bool
    description: str

    def encode(self, rows: Iterable[list[str]]) -> bytes:
        """Rows as CSV bytes in this dialect (no BOM: that goes once at the start of a file)."""
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=self.delimiter, lineterminator="\r\n").writerows(rows)
        return buffer.getvalue().encode()

    def preamble(self) -> bytes:
        """What a file starts with before its header row."""
        return b"\xef\xbb\xbf" if self.bom else b""

    def cell(self, value: Any) -> str:
        """One value (of a model's builtins) as the text of a cell."""
        if value is None or value is msgspec.UNSET:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return plain_number(value).replace(".", self.decimal)
        if isinstance(value, dict | list):
            return msgspec.json.encode(value).decode()
        text = str(value)
        if isinstance(value, str) and self.neutralise_formulas and text.startswith(FORMULA_STARTS):
            return FORMULA_PREFIX + text
        return text

    def row(self, builtins: dict[str, Any], columns: list[str]) -> list[str]:
        """One row: each dotted column looked up in a model's builtins (``msgspec.to_builtins``)."""
        return [self.cell(lookup(builtins, column)) for column in columns]

    def formula_guard(self) -> dict[str, Any] | None:
        """What the manifest records of the formula guard (None: off), so a reader can undo it."""
        if not self.neutralise_formulas:
            return None
        return {"prefix": FORMULA_PREFIX, "text_starting_with": list(FORMULA_STARTS)}


CSV_DIALECTS: dict[str, CsvDialect] = {
    d.name: d
    for d in (
        CsvDialect(
            "rfc4180",
            delimiter=",",
            decimal=".",
            bom=False,
            neutralise_formulas=False,
            description="comma-separated, no BOM: for programs and databases",
        ),
        CsvDialect(
            "excel",
            delimiter=",",
            decimal=".",
            bom=True,
            neutralise_formulas=True,
            description="comma-separated with a UTF-8 BOM: Excel with English settings",
        ),
        CsvDialect(
            "excel-de",
            delimiter=";",
            decimal=",",
            bom=True,
            neutralise_formulas=True,
            description="semicolons, decimal comma, UTF-8 BOM: Excel with German settings",
        ),
    )
}


def read_rows(path: Path, dialect: CsvDialect) -> Iterator[list[str]]:
    """The rows of a CSV file written in ``dialect`` (header included, BOM skipped)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        yield from csv.reader(handle, delimiter=dialect.delimiter)
