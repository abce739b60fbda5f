"""Deterministic, realistic data: the same seed always gives the same invoices, byte for byte.

Invoices, masters and the entities they reference (clients, companies, projects, users, ...) are
made at startup from one ``random.Random(seed)``. An invoice's relations (line items, discounts,
external costs) are not kept: each is regenerated on demand from its own seed string
(``"<seed>:invoice:<n>:lines"``), so 10,000 invoices with up to 200 line items each start in
about a second and stay small in memory, while every request sees the same items. The invoice's
sums are computed from those same generated items at startup, so totals add up.

Every value is a generated msgspec model from :mod:`kanbert_async._generated.models`, so what the
sandbox serves conforms to the API description by construction."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta

from kanbert_async._generated.models import (
    ClientData,
    CompanyData,
    CountryData,
    MetricData,
    OutgoingInvoiceData,
    OutgoingInvoiceMasterData,
    OutgoingInvoiceMasterType,
    OutgoingInvoicePaymentStatus,
    OutgoingInvoiceStatus,
    ProjectData,
    SpaceData,
    SupplierData,
    UserData,
)

from .config import SandboxConfig
from .records import DocumentRecord, Plan
from .reference_data import ReferenceData
from .relations import RelationFactory, Totals
from .vocabulary import (
    CURRENCIES,
    HOSTILE_TITLES,
    METRICS,
    MONTHS,
    SERVICES,
    SUPPLIERS,
    at_day,
    money,
    new_id,
)

__all__ = ["Dataset", "generate"]


@dataclasses.dataclass(slots=True)
class Dataset:
    """Everything generated at startup. Invoices and masters are in creation order."""

    spaces: list[SpaceData]
    users: list[UserData]
    user_external_ids: dict[str, str | None]
    countries: list[CountryData]
    clients: list[ClientData]
    companies: list[CompanyData]
    projects: list[ProjectData]
    metrics: list[MetricData]
    suppliers: list[SupplierData]
    masters: list[DocumentRecord[OutgoingInvoiceMasterData]]
    invoices: list[DocumentRecord[OutgoingInvoiceData]]
    #: The user behind the sandbox's tokens (``me.id``).
    me: UserData
    relations: RelationFactory


# -- generation ---------------------------------------------------------------------------------


class _Generator(ReferenceData):
    """One pass over a seeded RNG; the order of draws is the data's identity, so keep it stable.

    The reference data (:class:`~.reference_data.ReferenceData`) is drawn first, then the documents.
    """

    def __init__(self, config: SandboxConfig) -> None:
        super().__init__(config)
        self.invoice_seq: dict[str, int] = {}
        self.external_seq: dict[str, int] = {}

    # Dates ------------------------------------------------------------------------------------

    def invoice_day(self) -> date:
        config = self.config
        span = 365 * config.years
        if config.date_skew == "one_day":
            return config.anchor_date
        if config.date_skew == "recent":
            # Most invoices in the last tenth of the range: uneven partitions for scan tests.
            back = int(min(span - 1, self.rng.expovariate(10 / span)))
        else:
            back = self.rng.randrange(span)
        return config.anchor_date - timedelta(days=back)

    def performance_range(self, day: date) -> tuple[datetime | None, datetime | None]:
        if self.rng.random() < self.config.null_fraction:
            return None, None
        first = day.replace(day=1) - timedelta(days=1)
        start = first.replace(day=1)
        end = first
        if self.rng.random() < self.config.null_fraction / 2:
            return at_day(start), None  # an open range
        return at_day(start), at_day(end, 86399)

    # Documents --------------------------------------------------------------------------------

    def invoice_number(self, day: date, credit: bool) -> str:
        prefix = "GS" if credit else "RE"
        key = f"{prefix}-{day.year}"
        self.invoice_seq[key] = self.invoice_seq.get(key, 0) + 1
        return f"{key}-{self.invoice_seq[key]:05d}"

    def external_ref(self) -> tuple[str | None, str | None]:
        """Imported invoices carry an external id; ids repeat across origins on purpose."""
        if self.rng.random() >= 0.15:
            return None, None
        origin = self.rng.choice((self.config.integration_slug,) * 2 + ("datev", "billomat"))
        self.external_seq[origin] = self.external_seq.get(origin, 0) + 1
        return f"EXT-{self.external_seq[origin]:05d}", origin

    def line_count(self) -> int:
        roll = self.rng.random()
        if roll < 0.12:
            return 0
        if roll < 0.55:
            return self.rng.randint(1, 3)
        if roll < 0.88:
            return self.rng.randint(4, 10)
        if roll < 0.98:
            return self.rng.randint(11, 50)
        return self.rng.randint(51, 200)


def _address(company: CompanyData | None, client: ClientData) -> str:
    if company is None:
        return client.name
    lines = [
        company.company_name or client.name,
        f"{company.address_invoice_street} {company.address_invoice_house}",
        f"{company.address_invoice_zip} {company.address_invoice_town}",
    ]
    if company.address_invoice_country is not None:
        lines.append(company.address_invoice_country.name)
    return "\n".join(lines)


def _archived_at(g: _Generator, created: datetime) -> datetime | None:
    if g.rng.random() < g.config.archived_fraction:
        return created + timedelta(days=g.rng.randint(1, 200))
    return None


def _masters(
    g: _Generator,
    factory: RelationFactory,
    clients: list[ClientData],
    companies: dict[str, CompanyData],
    projects_by_client: dict[str, list[ProjectData]],
    users: list[UserData],
) -> list[DocumentRecord[OutgoingInvoiceMasterData]]:
    types = list(OutgoingInvoiceMasterType)
    out: list[DocumentRecord[OutgoingInvoiceMasterData]] = []
    for n in range(g.config.master_count):
        rng = g.rng
        kind = types[n] if n < len(types) else rng.choice(types)
        client = rng.choice(clients)
        project = rng.choice(projects_by_client[client.id]) if rng.random() < 0.8 else None
        company = companies.get(client.id) if rng.random() < 0.9 else None
        day = g.invoice_day()
        start, end = g.performance_range(day)
        created = at_day(day, rng.randint(0, 86399)) - timedelta(days=rng.randint(0, 60))
        plan = Plan(
            key=f"{g.config.seed}:master:{n}",
            lines=rng.randint(1, 12),
            discounts=rng.choice((0, 0, 1)),
            costs=rng.choice((0, 1, 2)),
        )
        totals = factory.totals(plan, client, project, created)
        model = OutgoingInvoiceMasterData(
            id=new_id(rng),
            title=f"{'Partial plan' if kind is OutgoingInvoiceMasterType.once else 'Subscription'}: "
            f"{rng.choice(SERVICES)}",
            type=kind,
            performance_range_start=start,
            performance_range_end=end,
            locale=(company.locale or "de") if company else "de",
            currency="EUR",
            address=_address(company, client),
            address_changed=rng.random() < 0.1,
            company=company,
            editor=rng.choice(users[:8]) if rng.random() < 0.95 else None,
            # A master may outlive its client's assignment: client is nullable here.
            client=client if rng.random() < 0.95 else None,
            project=project,
            taxation_enabled=company.taxation_enabled if company else True,
            sum_net=totals.net,
            sum_tax=totals.tax,
            sum_gross=money(totals.net + totals.tax),
            sum_external_costs=totals.costs,
            payment_discount=rng.choice((None, None, 2.0)),
            created_at=created,
            updated_at=None if rng.random() < 0.3 else created + timedelta(days=rng.randint(1, 90)),
            deleted_at=_archived_at(g, created),
        )
        out.append(DocumentRecord(model, plan))
    return out


def _invoices(
    g: _Generator,
    factory: RelationFactory,
    clients: list[ClientData],
    companies: dict[str, CompanyData],
    projects_by_client: dict[str, list[ProjectData]],
    users: list[UserData],
    masters: list[DocumentRecord[OutgoingInvoiceMasterData]],
) -> list[DocumentRecord[OutgoingInvoiceData]]:
    statuses = list(OutgoingInvoiceStatus)
    payments = list(OutgoingInvoicePaymentStatus)
    partial_seq: dict[str, int] = {}
    booked_seen = 0
    out: list[DocumentRecord[OutgoingInvoiceData]] = []
    for n in range(g.config.invoices):
        rng = g.rng
        # The first invoices show every enum value, so even a tiny dataset covers them.
        status = statuses[n] if n < len(statuses) else rng.choices(statuses, (10, 12, 8, 70))[0]
        booked = status is OutgoingInvoiceStatus.booked
        payment = OutgoingInvoicePaymentStatus.open
        if booked:
            # The first booked invoices show every payment status.
            payment = (
                payments[booked_seen]
                if booked_seen < len(payments)
                else rng.choices(payments, (25, 10, 60, 5))[0]
            )
            booked_seen += 1
        credit = booked and rng.random() < 0.06
        master = rng.choice(masters) if masters and rng.random() < 0.12 else None
        client = master.model.client if master and master.model.client else rng.choice(clients)
        if master is not None:
            project = master.model.project
        else:
            project = rng.choice(projects_by_client[client.id]) if rng.random() < 0.8 else None
        company = companies.get(client.id) if rng.random() < 0.9 else None
        day = g.invoice_day()
        performance_start, performance_end = g.performance_range(day)
        date_of_invoice = at_day(day, 0 if rng.random() < 0.9 else rng.randint(1, 86399))
        due = date_of_invoice + timedelta(days=rng.choice((7, 14, 14, 30)))
        due_org = due if rng.random() < 0.9 else due - timedelta(days=7)
        created = date_of_invoice - timedelta(days=rng.randint(0, 5), seconds=rng.randint(0, 86399))
        external_id, external_origin = g.external_ref()
        partial_indent = partial_factor = None
        if master is not None and master.model.type is OutgoingInvoiceMasterType.once:
            partial_seq[master.model.id] = partial_seq.get(master.model.id, 0) + 1
            parts = 4
            partial_indent = f"{min(partial_seq[master.model.id], parts)}/{parts}"
            partial_factor = 25.0
        lines = 200 if n == 0 else (0 if external_id is not None else g.line_count())
        plan = Plan(
            key=f"{g.config.seed}:invoice:{n}",
            lines=lines,
            discounts=1 if n == 0 else rng.choices((0, 1, 2), (80, 15, 5))[0],
            costs=0
            if partial_factor is not None
            else (2 if n == 0 else rng.choices((0, 1, 3), (75, 20, 5))[0]),
            sign=-1 if credit else 1,
            partial_factor=partial_factor,
        )
        totals = factory.totals(plan, client, project, created)
        if lines == 0 and external_id is not None:
            # Imported invoices carry their own sums and no line items.
            net = money(plan.sign * rng.uniform(100, 20000))
            totals = Totals(net=net, tax=money(net * 0.19), costs=0.0)
        title = HOSTILE_TITLES[n - 1] if 1 <= n <= len(HOSTILE_TITLES) else (
            f"{rng.choice(SERVICES)} – {MONTHS[day.month - 1]} {day.year}"
        )  # fmt: skip
        numbered = status in (OutgoingInvoiceStatus.booked, OutgoingInvoiceStatus.bookable)
        payment_discount = rng.choice((None, None, None, 2.0, 3.0))
        model = OutgoingInvoiceData(
            id=new_id(rng),
            external_id=external_id,
            external_origin=external_origin,
            master_invoice_id=master.model.id if master else None,
            invoice_number=g.invoice_number(day, credit) if numbered else None,
            title=("Credit note: " + title) if credit else title,
            status=status,
            payment_status=payment,
            is_credit=credit,
            date_of_invoice=date_of_invoice,
            payment_due_date=due,
            payment_due_date_org=due_org,
            performance_range_start=performance_start,
            performance_range_end=performance_end,
            po_number=f"PO-{rng.randint(10000, 99999)}" if rng.random() < 0.25 else None,
            reference=f"Order {rng.randint(1000, 9999)}" if rng.random() < 0.2 else None,
            locale=(company.locale or "de") if company else "de",
            currency=rng.choice(CURRENCIES),
            address=_address(company, client),
            address_changed=rng.random() < 0.08,
            company=company,
            editor=rng.choice(users[:8]) if rng.random() < 0.95 else None,
            client=client,
            project=project,
            taxation_enabled=company.taxation_enabled if company else True,
            sum_net=totals.net,
            sum_tax=totals.tax,
            sum_gross=money(totals.net + totals.tax),
            sum_external_costs=totals.costs,
            partial_indent=partial_indent,
            partial_factor=partial_factor,
            payment_discount_due_date=date_of_invoice + timedelta(days=7) if payment_discount else None,
            payment_discount=payment_discount,
            created_at=created,
            updated_at=None if rng.random() < 0.2 else created + timedelta(days=rng.randint(0, 120)),
            deleted_at=None if n == 0 else _archived_at(g, created),
        )
        out.append(DocumentRecord(model, plan))
    return out


def generate(config: SandboxConfig) -> Dataset:
    """Generate the whole dataset for ``config`` (deterministic in ``config``'s data fields)."""
    g = _Generator(config)
    spaces = g.spaces()
    users, user_external_ids = g.users(spaces)
    countries = g.countries()
    clients = g.clients(users, spaces)
    first_day = config.anchor_date - timedelta(days=365 * config.years)
    companies = g.companies(clients, countries, at_day(first_day))
    projects = g.projects(clients, first_day, config.anchor_date)
    metrics = [MetricData(id=new_id(g.rng), title=t, title_plural=p) for t, p in METRICS]
    suppliers = [SupplierData(id=new_id(g.rng), name=n) for n in SUPPLIERS]
    factory = RelationFactory(metrics, suppliers, projects)
    company_by_client = {c.client.id: c for c in companies if c.client is not None}
    projects_by_client: dict[str, list[ProjectData]] = {}
    for project in projects:
        projects_by_client.setdefault(project.client.id, []).append(project)
    masters = _masters(g, factory, clients, company_by_client, projects_by_client, users)
    invoices = _invoices(g, factory, clients, company_by_client, projects_by_client, users, masters)
    return Dataset(
        spaces=spaces,
        users=users,
        user_external_ids=user_external_ids,
        countries=countries,
        clients=clients,
        companies=companies,
        projects=projects,
        metrics=metrics,
        suppliers=suppliers,
        masters=masters,
        invoices=invoices,
        me=users[0],
        relations=factory,
    )
