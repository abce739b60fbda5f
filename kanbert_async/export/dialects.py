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


CSV_DIALECTS: dict[str, CsvDialect] = {
    d.name: d
    for d in (
        CsvDialect("rfc4180", ",", ".", False, "comma-separated, no BOM: for programs and databases"),
        CsvDialect("excel", ",", ".", True, "comma-separated with a UTF-8 BOM: Excel with English settings"),
        CsvDialect(
            "excel-de", ";", ",", True, "semicolons, decimal comma, UTF-8 BOM: Excel with German settings"
        ),
    )
}


def read_rows(path: Path, dialect: CsvDialect) -> Iterator[list[str]]:
    """The rows of a CSV file written in ``dialect`` (header included, BOM skipped)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        yield from csv.reader(handle, delimiter=dialect.delimiter)
