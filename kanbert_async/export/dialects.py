"""CSV the way its readers want it: Excel (UTF-8 BOM), German Excel (``;`` and decimal comma), RFC 4180.

Dates and times are ISO 8601 in every dialect. Every dialect ends lines with CRLF (RFC 4180 and
Excel agree) and quotes a cell only when it must (a separator, a quote or a line break inside).
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

__all__ = ["CSV_DIALECTS", "CsvDialect", "read_rows"]


@dataclass(frozen=True)
class CsvDialect:
    """How one CSV flavour writes cells and lines."""

    name: str
    delimiter: str
    decimal: str
    #: A UTF-8 byte order mark first: how Excel learns that the file is UTF-8 and not Windows-1252.
    bom: bool
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
        return str(value)

    def row(self, builtins: dict[str, Any], columns: list[str]) -> list[str]:
        """One row: each dotted column looked up in a model's builtins (``msgspec.to_builtins``)."""
        return [self.cell(lookup(builtins, column)) for column in columns]


CSV_DIALECTS: dict[str, CsvDialect] = {
    d.name: d
    for d in (
        CsvDialect(
            "rfc4180",
            delimiter=",",
            decimal=".",
            bom=False,
            description="comma-separated, no BOM: for programs and databases",
        ),
        CsvDialect(
            "excel",
            delimiter=",",
            decimal=".",
            bom=True,
            description="comma-separated with a UTF-8 BOM: Excel with English settings",
        ),
        CsvDialect(
            "excel-de",
            delimiter=";",
            decimal=",",
            bom=True,
            description="semicolons, decimal comma, UTF-8 BOM: Excel with German settings",
        ),
    )
}


def read_rows(path: Path, dialect: CsvDialect) -> Iterator[list[str]]:
    """The rows of a CSV file written in ``dialect`` (header included, BOM skipped)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        yield from csv.reader(handle, delimiter=dialect.delimiter)
