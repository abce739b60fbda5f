"""Bulk export of invoices (records, line items, discounts, external costs, PDFs) to JSONL/CSV/Parquet."""

from .config import ExportConfig, ExportError, ExportFailed, ExportResult
from .engine import run_export
from .progress import Progress
from .stream import stream_export

__all__ = [
    "ExportConfig",
    "ExportError",
    "ExportFailed",
    "ExportResult",
    "Progress",
    "run_export",
    "stream_export",
]
