"""Bulk export of invoices (records, line items, discounts, external costs, PDFs) to JSONL/CSV/Parquet."""

from .engine import ExportConfig, ExportError, ExportFailed, ExportResult, run_export, stream_export
from .progress import Progress

__all__ = [
    "ExportConfig",
    "ExportError",
    "ExportFailed",
    "ExportResult",
    "Progress",
    "run_export",
    "stream_export",
]
