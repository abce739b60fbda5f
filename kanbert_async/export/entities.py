"""What can be exported: each entity's list call, model, child relations and PDF download.

The export is written as a user of the SDK would write it, so this table names public methods.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec

from .._client import KanbertClient
from .._core.download import BinaryResponse
from .._core.pager import AsyncPager
from .._generated.models import (
    DiscountData,
    ExternalCostData,
    OutgoingInvoiceData,
    OutgoingInvoiceLineItemData,
    OutgoingInvoiceMasterData,
)

__all__ = ["ENTITIES", "Entity"]

#: Child relations that get a CSV file of their own, keyed by relation name.
_CHILDREN: dict[str, type[msgspec.Struct]] = {
    "line_items": OutgoingInvoiceLineItemData,
    "discounts": DiscountData,
    "external_costs": ExternalCostData,
}


@dataclass(frozen=True)
class Entity:
    """An exportable listing."""

    name: str
    #: Stem of the output files: ``<stem>.jsonl``, ``<stem>.csv``.
    stem: str
    #: What one record is called in messages ("invoice"), and many ("invoices").
    record: str
    model: type[msgspec.Struct]
    list: Callable[[KanbertClient], Callable[..., AsyncPager[Any]]]
    #: Field that --since/--until restrict (None: the listing has no date to filter on).
    date_field: str | None
    children: dict[str, type[msgspec.Struct]] = field(default_factory=lambda: dict(_CHILDREN))
    pdf: Callable[[KanbertClient, str], BinaryResponse] | None = None

    @property
    def records(self) -> str:
        """The plural of :attr:`record`."""
        return f"{self.record}s"


ENTITIES: dict[str, Entity] = {
    "outgoing-invoices": Entity(
        name="outgoing-invoices",
        stem="invoices",
        record="invoice",
        model=OutgoingInvoiceData,
        list=lambda kb: kb.outgoing_invoices.list,
        date_field="date_of_invoice",
        pdf=lambda kb, invoice_id: kb.outgoing_invoices.download_pdf(invoice_id),
    ),
    "outgoing-invoice-masters": Entity(
        name="outgoing-invoice-masters",
        stem="invoice_masters",
        record="invoice master",
        model=OutgoingInvoiceMasterData,
        list=lambda kb: kb.outgoing_invoice_masters.list,
        date_field=None,
    ),
}
