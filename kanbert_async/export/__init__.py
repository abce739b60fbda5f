"""Bulk export of invoices (records, line items, discounts, external costs, PDFs) to JSONL/CSV."""

from .engine import ExportConfig, ExportError, ExportResult, run_export
from .progress import Progress

__all__ = ["ExportConfig", "ExportError", "ExportResult", "Progress", "run_export"]
