"""The sandbox's state: generated records, uploaded invoices, lookups and lazily built relations.

Tests reach it as ``sandbox.store`` to compare what the API served with what it holds, e.g.
``sandbox.store.invoices()`` is every unarchived invoice exactly as the API shows it. Mutations
(uploads) happen in one synchronous step on the event loop, so a request never sees half a record.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

import msgspec

from kanbert_async._generated.models import (
    ClientData,
    CompanyData,
    DiscountData,
    ExternalCostData,
    OutgoingInvoiceData,
    OutgoingInvoiceLineItemData,
    OutgoingInvoiceMasterData,
    ProjectData,
    UserData,
)

from .config import SandboxConfig
from .data import Dataset, generate
from .pdf import render_pdf
from .records import DocumentRecord, LineItemRecord, Plan
from .vocabulary import new_id

__all__ = ["ArchivedMode", "InvoiceRecord", "MasterRecord", "Store"]

ArchivedMode = Literal["with", "only", "without"]
InvoiceRecord = DocumentRecord[OutgoingInvoiceData]
MasterRecord = DocumentRecord[OutgoingInvoiceMasterData]
AnyRecord = DocumentRecord[Any]
M = TypeVar("M", OutgoingInvoiceData, OutgoingInvoiceMasterData)

_RELATION_CACHE = 4096  # records whose relations stay built; the rest are regenerated on demand
_MISSING = object()


class _Lru:
    """A small least-recently-used cache (``functools.lru_cache`` would pin the store)."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._data: OrderedDict[tuple[str, str], Any] = OrderedDict()

    def get(self, key: tuple[str, str], build: Callable[[], Any]) -> Any:
        found = self._data.get(key, _MISSING)
        if found is _MISSING:
            found = build()
            self._data[key] = found
            if len(self._data) > self._capacity:
                self._data.popitem(last=False)
        else:
            self._data.move_to_end(key)
        return found


def _visible(model: OutgoingInvoiceData | OutgoingInvoiceMasterData, archived: str) -> bool:
    if archived == "with":
        return True
    return (model.deleted_at is not None) == (archived == "only")


class Store:
    """Invoices, masters and what they reference; built from a :class:`SandboxConfig`."""

    def __init__(self, config: SandboxConfig, dataset: Dataset | None = None) -> None:
        self.config = config
        self._data = dataset if dataset is not None else generate(config)
        #: Bumped on every change, so cached listings know they are stale.
        self.version = 0
        self._ids = random.Random(f"{config.seed}:created")
        self._relations = _Lru(_RELATION_CACHE)
        self._invoices: dict[str, InvoiceRecord] = {r.model.id: r for r in self._data.invoices}
        self._masters: dict[str, MasterRecord] = {r.model.id: r for r in self._data.masters}
        self._external: dict[tuple[str, str], InvoiceRecord] = {}
        self._numbers: set[str] = set()
        for record in self._data.invoices:
            self._index(record)
        self._clients = {c.id: c for c in self._data.clients}
        self._projects = {p.id: p for p in self._data.projects}
        self._companies = {c.id: c for c in self._data.companies}
        self._users = {u.id: u for u in self._data.users}

    def _index(self, record: InvoiceRecord) -> None:
        model = record.model
        if model.external_id is not None and model.external_origin is not None:
            self._external[(model.external_origin, model.external_id)] = record
        if model.invoice_number is not None:
            self._numbers.add(model.invoice_number)

    # -- reference data -------------------------------------------------------------------------

    @property
    def me(self) -> UserData:
        """The user the sandbox's tokens act as (what ``me.id`` means)."""
        return self._data.me

    @property
    def users(self) -> list[UserData]:
        """Every user (editors, contacts)."""
        return list(self._data.users)

    @property
    def clients(self) -> list[ClientData]:
        """Every client."""
        return list(self._data.clients)

    @property
    def companies(self) -> list[CompanyData]:
        """Every company."""
        return list(self._data.companies)

    @property
    def projects(self) -> list[ProjectData]:
        """Every project."""
        return list(self._data.projects)

    def client(self, client_id: str) -> ClientData | None:
        """A client by id."""
        return self._clients.get(client_id)

    def project(self, project_id: str) -> ProjectData | None:
        """A project by id."""
        return self._projects.get(project_id)

    def company(self, company_id: str) -> CompanyData | None:
        """A company by id."""
        return self._companies.get(company_id)

    def user(self, user_id: str) -> UserData | None:
        """A user by id."""
        return self._users.get(user_id)

    def user_external_id(self, user_id: str) -> str | None:
        """A user's external id (filterable as ``editor.external_id``, not part of UserData)."""
        return self._data.user_external_ids.get(user_id)

    # -- records --------------------------------------------------------------------------------

    def invoice_records(self, archived: str = "without") -> list[InvoiceRecord]:
        """Invoice records in creation order, filtered by the ``archived`` mode."""
        return [r for r in self._invoices.values() if _visible(r.model, archived)]

    def master_records(self, archived: str = "without") -> list[MasterRecord]:
        """Master records in creation order, filtered by the ``archived`` mode."""
        return [r for r in self._masters.values() if _visible(r.model, archived)]

    def find_invoice(self, key: str, find_by: str = "id", origin: str | None = None) -> InvoiceRecord | None:
        """An invoice by id, or by external id within ``origin`` (archived ones included)."""
        if find_by == "external_id":
            return self._external.get((origin or self.config.integration_slug, key))
        return self._invoices.get(key)

    def find_master(self, key: str, find_by: str = "id", origin: str | None = None) -> MasterRecord | None:
        """A master by id; masters carry no external id, so ``external_id`` finds none."""
        return self._masters.get(key) if find_by == "id" else None

    # -- relations ------------------------------------------------------------------------------

    def line_items(self, record: AnyRecord) -> list[LineItemRecord]:
        """A record's line items (regenerated from its plan when not cached)."""
        model = record.model
        result: list[LineItemRecord] = self._relations.get(
            ("lines", record.plan.key),
            lambda: self._data.relations.line_items(record.plan, model.project, model.created_at),
        )
        return result

    def discounts(self, record: AnyRecord) -> list[DiscountData]:
        """A record's discounts."""
        result: list[DiscountData] = self._relations.get(
            ("discounts", record.plan.key), lambda: self._data.relations.discounts(record.plan)
        )
        return result

    def external_costs(self, record: AnyRecord) -> list[ExternalCostData]:
        """A record's external costs."""
        model = record.model
        result: list[ExternalCostData] = self._relations.get(
            ("costs", record.plan.key),
            lambda: self._data.relations.external_costs(
                record.plan, model.client, model.project, model.created_at
            ),
        )
        return result

    def relation(self, record: AnyRecord, name: str) -> Sequence[Any]:
        """A relation by the name the API uses (``line_items``, ``discounts``, ``external_costs``)."""
        if name == "line_items":
            return self.line_items(record)
        if name == "discounts":
            return self.discounts(record)
        if name == "external_costs":
            return self.external_costs(record)
        raise KeyError(name)

    def present(
        self,
        record: DocumentRecord[M],
        include: Collection[str] = (),
        computed: Mapping[str, float] | None = None,
    ) -> M:
        """The record as the API shows it: relations only when included, computed fields when declared."""
        if not include and computed is None:
            return record.model
        changes: dict[str, Any] = {}
        for name in include:
            items = self.relation(record, name)
            changes[name] = [i.model if isinstance(i, LineItemRecord) else i for i in items]
        if computed is not None:
            changes["computed_fields"] = dict(computed)
        return msgspec.structs.replace(record.model, **changes)

    # -- the assertions API ---------------------------------------------------------------------

    def invoices(
        self, *, archived: ArchivedMode = "without", include: Collection[str] = ()
    ) -> list[OutgoingInvoiceData]:
        """Every invoice as the API returns it (``include`` adds relations), in creation order."""
        return [self.present(r, include) for r in self.invoice_records(archived)]

    def masters(
        self, *, archived: ArchivedMode = "without", include: Collection[str] = ()
    ) -> list[OutgoingInvoiceMasterData]:
        """Every master invoice as the API returns it, in creation order."""
        return [self.present(r, include) for r in self.master_records(archived)]

    def invoice(self, invoice_id: str, include: Collection[str] = ()) -> OutgoingInvoiceData | None:
        """One invoice as the API returns it (archived ones too), or None."""
        record = self._invoices.get(invoice_id)
        return None if record is None else self.present(record, include)

    def invoice_line_items(self, invoice_id: str) -> list[OutgoingInvoiceLineItemData]:
        """An invoice's line items in document order."""
        record = self._invoices[invoice_id]
        return [li.model for li in self.line_items(record)]

    # -- PDFs -----------------------------------------------------------------------------------

    def pdf(self, record: InvoiceRecord) -> bytes:
        """The invoice's PDF: the uploaded file, or a generated one naming the invoice."""
        if record.pdf is not None:
            return record.pdf
        model = record.model
        lines = [
            f"Invoice {model.invoice_number}" if model.invoice_number else f"Draft invoice {model.id}",
            model.title,
            model.client.name,
            *model.address.splitlines(),
            f"Date: {model.date_of_invoice.date().isoformat()}",
            f"Net: {model.sum_net:.2f} {model.currency}",
            f"Tax: {model.sum_tax:.2f} {model.currency}",
            f"Total: {model.sum_gross:.2f} {model.currency}",
        ]
        return render_pdf(lines, self.config.pdf_min_bytes)

    # -- uploads --------------------------------------------------------------------------------

    def invoice_number_taken(self, number: str) -> bool:
        """Whether an invoice already has this number."""
        return number in self._numbers

    def external_id_taken(self, external_id: str, origin: str) -> bool:
        """Whether an invoice of ``origin`` already has this external id."""
        return (origin, external_id) in self._external

    def new_id(self) -> str:
        """A fresh record id (drawn from the seed, so replays create the same ids)."""
        return new_id(self._ids)

    def add_invoice(self, model: OutgoingInvoiceData, pdf: bytes | None) -> InvoiceRecord:
        """Store an uploaded invoice; it is listed and fetchable from the next request on."""
        record = DocumentRecord(model, Plan(key=f"{self.config.seed}:uploaded:{model.id}"), pdf)
        self._invoices[model.id] = record
        self._index(record)
        self.version += 1
        return record

    def update_invoice(self, invoice_id: str, **changes: Any) -> OutgoingInvoiceData:
        """Change fields of an invoice as an edit in Kanbert would: ``updated_at`` becomes now.

        Example: ``store.update_invoice(id, status="booked", invoice_number="RE-2025-0042")``;
        ``deleted_at=store.now()`` archives it. Listings and PDFs show the change from the next
        request on.
        """
        record = self._invoices[invoice_id]
        model = msgspec.structs.replace(record.model, **changes, updated_at=self.now())
        self._invoices[invoice_id] = DocumentRecord(model, record.plan, record.pdf)
        self._index(self._invoices[invoice_id])
        self.version += 1
        return model

    def now(self) -> datetime:
        """The sandbox's current time (``config.clock`` or the wall clock, in UTC)."""
        clock = self.config.clock
        return clock() if clock is not None else datetime.now(UTC)
