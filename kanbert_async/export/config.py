"""What an export is asked to do and what it produced: ``ExportConfig``, ``ExportResult`` and the
export's errors — the values a caller of :func:`~kanbert_async.export.run_export` works with."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._core.errors import InvalidRequestError, KanbertError
from .pdfnames import DEFAULT_TEMPLATE
from .scope import Archived

__all__ = [
    "FORMATS",
    "ExportConfig",
    "ExportError",
    "ExportFailed",
    "ExportResult",
    "check_numbers",
    "parse_formats",
]

#: The output formats, in the order their files are written; ``both`` means jsonl and csv.
FORMATS = ("jsonl", "csv", "parquet")


class ExportError(KanbertError):
    """The export cannot start or continue; the message says why and what to do."""


class ExportFailed(ExportError):
    """The export started but could not complete (PDF downloads failed, the listing broke off);
    its progress is saved for ``--resume``."""


def parse_formats(text: str) -> tuple[str, ...]:
    """``jsonl``, ``csv``, ``parquet``, ``both`` (jsonl and csv) or a comma list, in canonical order."""
    parts = {p.strip() for p in text.split(",") if p.strip()}
    if "both" in parts:
        parts = (parts - {"both"}) | {"jsonl", "csv"}
    unknown = sorted(parts - set(FORMATS))
    if unknown or not parts:
        raise ValueError(f"{text!r}: choose jsonl, csv, parquet or both, or a comma list like jsonl,parquet")
    return tuple(f for f in FORMATS if f in parts)


@dataclass(frozen=True)
class ExportConfig:
    """What to export and how (the ``kanbert-async export`` options).

    ``format``: ``jsonl``, ``csv``, ``parquet``, ``both`` (jsonl and csv) or a comma list.
    ``archived``: ``with`` (default: archived records too), ``only`` or ``without``.
    ``csv_dialect``: ``rfc4180``, ``excel`` or ``excel-de`` (see :mod:`.dialects`).
    ``pdf_name``: a template of record fields, e.g. ``{invoice_number}`` (default: the id).
    ``since_last``: add only what changed since the export already in ``out``.
    """

    entity: str
    out: Path
    include: tuple[str, ...] = ("line_items", "discounts", "external_costs")
    filter: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    pdfs: bool = False
    format: str = "both"
    partitions: int = 8
    concurrency: int = 8
    page_size: int = 100
    resume: bool = False
    archived: Archived = "with"
    csv_dialect: str = "rfc4180"
    pdf_name: str = DEFAULT_TEMPLATE
    since_last: bool = False

    def formats(self) -> tuple[str, ...]:
        """The formats to write, in canonical order."""
        return parse_formats(self.format)

    def identity(self) -> dict[str, Any]:
        """The options that shape the output: a resumed export must match them exactly."""
        return {
            "entity": self.entity,
            "include": sorted(self.include),
            "filter": self.filter,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "archived": self.archived,
            "pdfs": self.pdfs,
            "pdf_name": self.pdf_name,
            "format": ",".join(self.formats()),
            "csv_dialect": self.csv_dialect,
            "page_size": self.page_size,
        }


def check_numbers(config: ExportConfig) -> None:
    """Refuse partition, concurrency and page-size counts below one."""
    if config.partitions < 1 or config.concurrency < 1 or config.page_size < 1:
        raise InvalidRequestError("--partitions, --concurrency and --page-size must be at least 1")


@dataclass
class ExportResult:
    """What an export produced."""

    out: Path
    counts: dict[str, int]
    files: dict[str, str]
    elapsed: float
    requests: int
    retries: int
    rate_limited: int
    duplicates: int = 0
    #: What the filters left out, one phrase each (empty: every record of the listing).
    scope: list[str] = field(default_factory=list)
    #: Things the user should know: a filter value no record can have, a filter that matched nothing.
    warnings: list[str] = field(default_factory=list)
    generation: int = 1
    #: For --since-last: records added and updated by this run.
    changes: dict[str, int] | None = None
