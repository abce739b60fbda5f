"""How the sandbox holds a document: its model, the plan its relations are regenerated from."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Generic, TypeVar

from kanbert_async._generated.models import (
    OutgoingInvoiceData,
    OutgoingInvoiceLineItemData,
    OutgoingInvoiceMasterData,
)

__all__ = ["DocumentRecord", "LineItemRecord", "Plan"]

M = TypeVar("M", OutgoingInvoiceData, OutgoingInvoiceMasterData)


# -- records ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    """What an invoice's or master's lazily generated relations look like.

    ``key`` seeds the generators; ``lines``/``discounts``/``costs`` are the counts; ``sign`` is -1
    for credit notes (their amounts are negative); ``partial_factor`` (percent) scales line
    totals of partial invoices.
    """

    key: str
    lines: int = 0
    discounts: int = 0
    costs: int = 0
    sign: int = 1
    partial_factor: float | None = None


@dataclasses.dataclass(slots=True, eq=False)
class DocumentRecord(Generic[M]):
    """One invoice or master: the model as the API shows it (relations unset) and its plan.

    ``pdf`` holds an uploaded file (served as is); generated records render theirs on demand.
    """

    model: M
    plan: Plan
    pdf: bytes | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class LineItemRecord:
    """A line item and the timestamps the API sorts by but does not show."""

    model: OutgoingInvoiceLineItemData
    created_at: datetime
    updated_at: datetime | None
