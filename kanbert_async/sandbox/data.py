"""Deterministic, realistic data: the same seed always gives the same invoices, byte for byte.

Invoices, masters and the entities they reference (clients, companies, projects, users, ...) are
made at startup from one ``random.Random(seed)``. An invoice's relations (line items, discounts,
external costs) are not kept: each is regenerated on demand from its own seed string
(``"<seed>:invoice:<n>:lines"``), so 10,000 invoices with up to 200 line items each start in
about a second and stay small in memory, while every request sees the same items. The invoice's
sums are computed from those same generated items at startup, so totals add up.

Every value is a generated msgspec model from :mod:`kanbert_async._generated.models`, so what the
sandbox serves conforms to the API description by construction.
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Generic, TypeVar

from kanbert_async._generated.models import (
    AccountingLineItemType,
    BusinessFieldData,
    ClientData,
    CompanyData,
    CountryData,
    DiscountData,
    ExternalCostData,
    MetricData,
    OfferUnitIntervalType,
    OutgoingInvoiceData,
    OutgoingInvoiceLineItemData,
    OutgoingInvoiceMasterData,
    OutgoingInvoiceMasterType,
    OutgoingInvoicePaymentStatus,
    OutgoingInvoiceStatus,
    ProjectData,
    ProjectTypeData,
    SpaceData,
    SupplierData,
    TagData,
    UserData,
    UserType,
)

from .config import SandboxConfig

__all__ = [
    "Dataset",
    "DocumentRecord",
    "LineItemRecord",
    "Plan",
    "RelationFactory",
    "generate",
    "new_id",
]

M = TypeVar("M", OutgoingInvoiceData, OutgoingInvoiceMasterData)

# Titles that make string handling honest: quotes, backslashes, LIKE wildcards, an injection
# attempt and non-ASCII text. They land on the first invoices so small datasets contain them.
HOSTILE_TITLES = (
    'Quote "Alpha" with \\ backslash',
    "O'Brien's retainer",
    '") or (1 = 1',
    "Ünïcødé ✓ Straße – 日本語",
    "100% done_with wildcards",
)

_SERVICES = (
    "Website relaunch", "Support retainer", "Hosting", "SEO audit", "App development",
    "Consulting", "Design sprint", "Maintenance", "Data migration", "Training workshop",
    "Brand strategy", "Cloud setup", "Security review", "Content production", "API integration",
)  # fmt: skip
_COMPANY_STEMS = (
    "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Wonka", "Tyrell", "Cyberdyne",
    "Hooli", "Vandelay", "Müller", "Schröder", "Zürich Digital", "Ærø Design", "Łódź Logistics",
    "Nordwind", "Bergmann", "Sonnenschein", "Blue Harbor", "Pied Piper", "O'Brien & \"Sons\"",
    "Kowalski", "Dupont", "van Dijk", "東京 Trading", "Soylent", "Massive Dynamic", "Oscorp", "Aperture",
)  # fmt: skip
_COMPANY_SUFFIXES = ("GmbH", "AG", "Corp", "Ltd", "KG", "SE", "Inc.", "GmbH & Co. KG", "ApS", "B.V.")
_FIRST_NAMES = (
    "Anna", "Ben", "Clara", "David", "Eva", "Felix", "Greta", "Hannes", "Ines", "Jonas", "Kim", "Lena",
)  # fmt: skip
_LAST_NAMES = (
    "Schmidt", "Meyer", "Weber", "Wagner", "Becker", "Hoffmann", "Schulz", "Koch", "Richter", "Klein",
)  # fmt: skip
_COUNTRIES = (
    ("DE", "Germany"), ("AT", "Austria"), ("CH", "Switzerland"), ("FR", "France"), ("NL", "Netherlands"),
    ("GB", "United Kingdom"), ("US", "United States"), ("DK", "Denmark"), ("PL", "Poland"), ("JP", "Japan"),
)  # fmt: skip
_TOWNS = ("Berlin", "Hamburg", "München", "Köln", "Wien", "Zürich", "Paris", "Amsterdam", "London", "Kraków")
_STREETS = ("Hauptstraße", "Bahnhofstraße", "Lindenallee", "Marktplatz", "Gartenweg", "Königsallee")
_METRICS = (
    ("Hour", "Hours"),
    ("Day", "Days"),
    ("Piece", "Pieces"),
    ("Flat rate", "Flat rates"),
    ("License", "Licenses"),
)
_PROJECT_TYPES = (
    ("Fixed price", "FP", "#3b82f6"),
    ("Time & material", "TM", "#10b981"),
    ("Retainer", "RET", "#f59e0b"),
)
_PROJECT_STATUSES = ("active", "completed", "on_hold", "planned")
_LINE_TITLES = (
    "Project management", "Concept", "UX design", "Frontend development", "Backend development",
    "Quality assurance", "Deployment", "Support hours", "License fee", "Travel expenses",
    "Workshop day", "Copywriting", "Photography", "Server costs", "Domain renewal",
)  # fmt: skip
_COST_TITLES = ("Stock photos", "Printing", "Freelancer", "Cloud credits", "Courier", "Translation")
_SUPPLIERS = ("Adobe", "AWS", "Hetzner", "Fiverr Pro", "DHL", "Lingua GmbH", "Getty Images", "Druckerei Nord")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")  # fmt: skip
_CURRENCIES = ("EUR",) * 18 + ("USD", "CHF")
_TAX_RATES = (19.0, 19.0, 19.0, 19.0, 7.0, 0.0)


def new_id(rng: random.Random) -> str:
    """A UUID4-shaped id drawn from ``rng`` (so ids are as deterministic as the rest)."""
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _money(value: float) -> float:
    return round(value, 2)


def _at(day: date, seconds: int = 0) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC) + timedelta(seconds=seconds)


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


# -- relations (regenerated on demand) ----------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class _Totals:
    net: float = 0.0
    tax: float = 0.0
    costs: float = 0.0


class RelationFactory:
    """Regenerates line items, discounts and external costs from a record's :class:`Plan`.

    Pure: the same plan and context always give equal lists.
    """

    def __init__(
        self,
        metrics: Sequence[MetricData],
        suppliers: Sequence[SupplierData],
        projects: Sequence[ProjectData],
    ) -> None:
        self._metrics = tuple(metrics)
        self._suppliers = tuple(suppliers)
        self._projects = tuple(projects)

    def line_items(
        self, plan: Plan, project: ProjectData | None, created_at: datetime
    ) -> list[LineItemRecord]:
        """The record's line items in document order."""
        if plan.lines == 0:
            return []
        rng = random.Random(f"{plan.key}:lines")
        items: list[LineItemRecord] = []
        # Long invoices get section headings and a page break, as real ones do.
        headed = plan.lines >= 3 and rng.random() < 0.5
        page_break_at = plan.lines // 2 if plan.lines >= 20 else -1
        for order in range(plan.lines):
            if (headed and order == 0) or (order > 0 and order % 25 == 0 and headed):
                kind = AccountingLineItemType.category
            elif order == page_break_at:
                kind = AccountingLineItemType.page_break
            else:
                kind = AccountingLineItemType.unit
            items.append(self._line_item(rng, plan, kind, order, headed, project, created_at))
        return items

    def _line_item(
        self,
        rng: random.Random,
        plan: Plan,
        kind: AccountingLineItemType,
        order: int,
        headed: bool,
        project: ProjectData | None,
        created_at: datetime,
    ) -> LineItemRecord:
        metric = rng.choice(self._metrics)
        title = rng.choice(_LINE_TITLES)
        tax = rng.choice(_TAX_RATES)
        interval_type = rng.choices(
            (OfferUnitIntervalType.once, OfferUnitIntervalType.monthly, OfferUnitIntervalType.yearly),
            (8, 3, 1),
        )[0]
        interval = None if interval_type is OfferUnitIntervalType.once else rng.choice((1, 3, 6))
        item_project = (
            project if rng.random() < 0.9 else (rng.choice(self._projects) if self._projects else None)
        )
        if kind is AccountingLineItemType.unit:
            price = _money(
                plan.sign * rng.choice((45.0, 65.0, 85.0, 95.0, 120.0, 150.0, 900.0)) * rng.uniform(0.8, 1.5)
            )
            amount = rng.choice((0.25, 0.5, 1.0, 1.0, 2.0, 3.0, 4.5, 8.0, 10.0, 16.0, 40.0))
            discount_factor = rng.choice((None, None, None, None, 5.0, 10.0))
            discount_absolute = (
                _money(plan.sign * rng.choice((5.0, 10.0, 25.0))) if rng.random() < 0.05 else None
            )
            discount_bound = rng.random() < 0.3
            purchase_price = _money(price * rng.uniform(0.2, 0.7))
        else:
            price = amount = purchase_price = 0.0
            discount_factor = discount_absolute = None
            discount_bound = False
            title = f"Section: {rng.choice(_SERVICES)}" if kind is AccountingLineItemType.category else "—"
        factor = 1.0 if plan.partial_factor is None else plan.partial_factor / 100
        base = _money(price * amount)
        without_discount = _money(base * factor)
        net = without_discount
        if discount_factor is not None:
            net = _money(net * (1 - discount_factor / 100))
        if discount_absolute is not None:
            net = _money(net - discount_absolute * (amount if discount_bound else 1))
        purchase_amount = amount
        model = OutgoingInvoiceLineItemData(
            id=new_id(rng),
            title=title,
            type=kind,
            indent=1 if headed and kind is AccountingLineItemType.unit else 0,
            order=order,
            price=price,
            amount=amount,
            total_net_base=base,
            total_net_without_discount=without_discount,
            total_net=net,
            total_gross_base=_money(base * (1 + tax / 100)),
            total_gross_without_discount=_money(without_discount * (1 + tax / 100)),
            total_gross=_money(net * (1 + tax / 100)),
            tax_factor=tax,
            metric=metric,
            project=item_project,
            partial_factor=None if plan.partial_factor is None else round(plan.partial_factor),
            exclude_from_discount=rng.random() < 0.1,
            discount_factor=discount_factor,
            discount_absolute=discount_absolute,
            discount_bound=discount_bound,
            purchase_price=purchase_price,
            purchase_amount=purchase_amount,
            purchase_total_base=_money(purchase_price * purchase_amount),
            purchase_total=_money(purchase_price * purchase_amount * factor),
            purchase_price_bound=rng.random() < 0.8,
            description=f"{title} ({metric.title_plural.lower()})"
            if kind is AccountingLineItemType.unit
            else "",
            payment_partial_type=interval_type,
            payment_partial_interval=interval,
        )
        created = created_at + timedelta(seconds=order)
        updated = created + timedelta(hours=rng.randint(1, 400)) if rng.random() < 0.3 else None
        return LineItemRecord(model, created, updated)

    def discounts(self, plan: Plan) -> list[DiscountData]:
        """The record's discounts in the order they are applied."""
        rng = random.Random(f"{plan.key}:discounts")
        out: list[DiscountData] = []
        for order in range(plan.discounts):
            absolute = rng.random() < 0.3
            out.append(
                DiscountData(
                    id=new_id(rng),
                    title=rng.choice(("Loyalty discount", "Early bird", "Volume discount", "Goodwill")),
                    discount_factor=None if absolute else rng.choice((2.0, 3.0, 5.0, 10.0)),
                    discount_absolute=_money(plan.sign * rng.choice((50.0, 100.0, 250.0)))
                    if absolute
                    else None,
                    from_parent=rng.random() < 0.2,
                    is_payment_discount=rng.random() < 0.15,
                    order=order,
                )
            )
        return out

    def external_costs(
        self, plan: Plan, client: ClientData | None, project: ProjectData | None, created_at: datetime
    ) -> list[ExternalCostData]:
        """The record's external costs (none for partial invoices: those belong to the master)."""
        rng = random.Random(f"{plan.key}:costs")
        out: list[ExternalCostData] = []
        for order in range(plan.costs):
            price = _money(plan.sign * rng.uniform(10, 800))
            amount = rng.choice((1.0, 1.0, 2.0, 5.0, 10.0))
            interval_type = rng.choices(
                (OfferUnitIntervalType.once, OfferUnitIntervalType.monthly, OfferUnitIntervalType.yearly),
                (6, 2, 1),
            )[0]
            supplier = rng.choice(self._suppliers) if rng.random() < 0.85 else None
            out.append(
                ExternalCostData(
                    id=new_id(rng),
                    title=rng.choice(_COST_TITLES),
                    type=rng.choice(("cost", "expense", "license")),
                    indent=0,
                    order=order,
                    is_credit=plan.sign < 0,
                    is_optional=rng.random() < 0.1,
                    price=price,
                    amount=amount,
                    total=_money(price * amount),
                    supplier=supplier,
                    client=client,
                    project=project,
                    status=rng.choice((None, "open", "billed")),
                    payment_partial_type=interval_type,
                    payment_partial_interval=None
                    if interval_type is OfferUnitIntervalType.once
                    else rng.choice((1, 3, 6)),
                    created_at=created_at + timedelta(minutes=order),
                    updated_at=None
                    if rng.random() < 0.5
                    else created_at + timedelta(days=rng.randint(1, 30)),
                )
            )
        return out

    def totals(
        self, plan: Plan, client: ClientData | None, project: ProjectData | None, created_at: datetime
    ) -> _Totals:
        """The sums a record shows, computed from the relations it will serve."""
        items = [li.model for li in self.line_items(plan, project, created_at)]
        net = sum(i.total_net for i in items)
        tax = sum(i.total_gross - i.total_net for i in items)
        eligible = sum(i.total_net for i in items if not i.exclude_from_discount)
        discounted = net
        for discount in self.discounts(plan):
            if discount.discount_factor is not None:
                discounted -= eligible * discount.discount_factor / 100
            if discount.discount_absolute is not None:
                discounted -= discount.discount_absolute
        ratio = discounted / net if net else 1.0
        costs = sum(c.total for c in self.external_costs(plan, client, project, created_at))
        return _Totals(net=_money(discounted), tax=_money(tax * ratio), costs=_money(costs))


# -- generation ---------------------------------------------------------------------------------


class _Generator:
    """One pass over a seeded RNG; the order of draws is the data's identity, so keep it stable."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)
        self.invoice_seq: dict[str, int] = {}
        self.external_seq: dict[str, int] = {}

    # Reference data ---------------------------------------------------------------------------

    def spaces(self) -> list[SpaceData]:
        names = ("Kanbert Agency", "Partner Studio (shared)", "Nordic Branch (shared)")
        return [SpaceData(id=new_id(self.rng), name=name) for name in names]

    def users(self, spaces: list[SpaceData]) -> tuple[list[UserData], dict[str, str | None]]:
        types = [UserType.user] * 8 + [
            UserType.guest,
            UserType.tax_advisor,
            UserType.integration,
            UserType.user,
        ]
        users: list[UserData] = []
        external: dict[str, str | None] = {}
        for n, kind in enumerate(types):
            first, last = _FIRST_NAMES[n % len(_FIRST_NAMES)], _LAST_NAMES[n % len(_LAST_NAMES)]
            user = UserData(
                id=new_id(self.rng),
                first_name=first,
                last_name=last,
                email=f"{first.lower()}.{last.lower()}@example.com",
                type=kind,
                space=spaces[0] if n < 10 else spaces[1],
            )
            users.append(user)
            external[user.id] = f"HR-{1000 + n}" if n % 3 == 0 else None
        return users, external

    def countries(self) -> list[CountryData]:
        return [CountryData(id=new_id(self.rng), name=name, code=code) for code, name in _COUNTRIES]

    def clients(self, users: list[UserData], spaces: list[SpaceData]) -> list[ClientData]:
        count = max(8, min(500, self.config.invoices // 15))
        clients: list[ClientData] = []
        for n in range(count):
            rng = self.rng
            stem = _COMPANY_STEMS[n % len(_COMPANY_STEMS)]
            round_ = n // len(_COMPANY_STEMS)
            name = f"{stem} {_COMPANY_SUFFIXES[(n + round_) % len(_COMPANY_SUFFIXES)]}"
            if round_:
                name = f"{name} {round_ + 1}"
            clients.append(
                ClientData(
                    id=new_id(rng),
                    external_id=f"CRM-{2000 + n}" if rng.random() < 0.4 else None,
                    external_origin="hubspot" if rng.random() < 0.4 else None,
                    name=name,
                    shortcode=f"{stem[:3].upper()}{n}" if rng.random() < 0.85 else None,
                    primary_contact=rng.choice(users) if rng.random() < 0.7 else None,
                    origin_space=spaces[1] if rng.random() < 0.05 else None,
                )
            )
        return clients

    def companies(
        self, clients: list[ClientData], countries: list[CountryData], created: datetime
    ) -> list[CompanyData]:
        fields = [
            BusinessFieldData(id=new_id(self.rng), name=n)
            for n in ("Software", "Retail", "Health", "Finance")
        ]
        sizes = [TagData(id=new_id(self.rng), title=t) for t in ("1-10", "11-50", "51-200", "201+")]
        revenues = [TagData(id=new_id(self.rng), title=t) for t in ("< 1M", "1-10M", "> 10M")]
        out: list[CompanyData] = []
        for n, client in enumerate(clients):
            rng = self.rng
            country = countries[0] if rng.random() < 0.6 else rng.choice(countries)
            domestic = country.code == "DE"
            town = rng.choice(_TOWNS)
            delivery_same = rng.random() < 0.8
            out.append(
                CompanyData(
                    id=new_id(rng),
                    external_id=client.external_id,
                    external_origin=client.external_origin,
                    vendor_identifier=f"V-{10000 + n}" if rng.random() < 0.5 else None,
                    company_name=client.name,
                    locale="de" if domestic or country.code in ("AT", "CH") else "en",
                    tax_uid=f"{country.code}{rng.randint(100000000, 999999999)}"
                    if rng.random() < 0.8
                    else None,
                    taxation_enabled=domestic or rng.random() < 0.3,
                    iban=f"DE{rng.randint(10, 99)}{rng.randint(10**17, 10**18 - 1)}"
                    if rng.random() < 0.6
                    else None,
                    bic="DEUTDEFFXXX" if rng.random() < 0.5 else None,
                    email=f"billing{n}@example.com" if rng.random() < 0.9 else None,
                    email_general=f"info{n}@example.com" if rng.random() < 0.5 else None,
                    phone=f"+49 30 {rng.randint(1000000, 9999999)}" if rng.random() < 0.7 else None,
                    fax=None,
                    homepage=f"https://www.example{n}.com" if rng.random() < 0.6 else None,
                    invoices_by_post=rng.random() < 0.2,
                    invoices_by_email=rng.random() < 0.9,
                    business_field=rng.choice(fields) if rng.random() < 0.7 else None,
                    company_size=rng.choice(sizes) if rng.random() < 0.6 else None,
                    company_revenue=rng.choice(revenues) if rng.random() < 0.4 else None,
                    person_attention_to=f"{rng.choice(_FIRST_NAMES)} {rng.choice(_LAST_NAMES)}"
                    if rng.random() < 0.5
                    else None,
                    address_invoice_title=client.name,
                    address_invoice_street=rng.choice(_STREETS),
                    address_invoice_house=str(rng.randint(1, 200)),
                    address_invoice_street2=None,
                    address_invoice_zip=f"{rng.randint(10000, 99999)}",
                    address_invoice_state=None,
                    address_invoice_town=town,
                    address_invoice_country=country,
                    address_invoice_is_delivery=delivery_same,
                    delivery_person_attention_to=None,
                    address_delivery_title=None if delivery_same else client.name,
                    address_delivery_street=None if delivery_same else rng.choice(_STREETS),
                    address_delivery_house=None if delivery_same else str(rng.randint(1, 200)),
                    address_delivery_street2=None,
                    address_delivery_zip=None if delivery_same else f"{rng.randint(10000, 99999)}",
                    address_delivery_state=None,
                    address_delivery_town=None if delivery_same else rng.choice(_TOWNS),
                    address_delivery_country=None if delivery_same else country,
                    client=client,
                    custom_fields={"segment": rng.choice(("A", "B", "C")), "key_account": rng.random() < 0.2},
                    created_at=created - timedelta(days=rng.randint(30, 900)),
                    updated_at=None if rng.random() < 0.3 else created - timedelta(days=rng.randint(0, 29)),
                    deleted_at=None,
                )
            )
        return out

    def projects(self, clients: list[ClientData], start: date, end: date) -> list[ProjectData]:
        types = [
            ProjectTypeData(id=new_id(self.rng), title=t, shortcode=s, color=c, order=n, is_default=n == 0)
            for n, (t, s, c) in enumerate(_PROJECT_TYPES)
        ]
        out: list[ProjectData] = []
        span = max(1, (end - start).days)
        for client in clients:
            rng = self.rng
            for k in range(rng.randint(1, 4)):
                begin = start + timedelta(days=rng.randrange(span))
                n = len(out)
                out.append(
                    ProjectData(
                        id=new_id(rng),
                        external_id=f"PRJ-{3000 + n}" if rng.random() < 0.3 else None,
                        external_origin="jira" if rng.random() < 0.3 else None,
                        title=f"{rng.choice(_SERVICES)} {client.name.split()[0]} #{k + 1}",
                        shortcode=f"P{n:04d}",
                        po_number=f"PO-{rng.randint(10000, 99999)}" if rng.random() < 0.3 else None,
                        project_type=rng.choice(types),
                        status=rng.choice(_PROJECT_STATUSES),
                        is_acquisition=rng.random() < 0.1,
                        is_private=rng.random() < 0.05,
                        start_date=begin if rng.random() < 0.9 else None,
                        end_date=begin + timedelta(days=rng.randint(30, 400)) if rng.random() < 0.6 else None,
                        client=client,
                        custom_fields={
                            "cost_center": f"CC-{rng.randint(10, 99)}",
                            "billable": rng.random() < 0.9,
                        },
                        origin_space=None,
                    )
                )
        return out

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
            return _at(start), None  # an open range
        return _at(start), _at(end, 86399)

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
        created = _at(day, rng.randint(0, 86399)) - timedelta(days=rng.randint(0, 60))
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
            f"{rng.choice(_SERVICES)}",
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
            sum_gross=_money(totals.net + totals.tax),
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
        date_of_invoice = _at(day, 0 if rng.random() < 0.9 else rng.randint(1, 86399))
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
            net = _money(plan.sign * rng.uniform(100, 20000))
            totals = _Totals(net=net, tax=_money(net * 0.19), costs=0.0)
        title = HOSTILE_TITLES[n - 1] if 1 <= n <= len(HOSTILE_TITLES) else (
            f"{rng.choice(_SERVICES)} – {_MONTHS[day.month - 1]} {day.year}"
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
            currency=rng.choice(_CURRENCIES),
            address=_address(company, client),
            address_changed=rng.random() < 0.08,
            company=company,
            editor=rng.choice(users[:8]) if rng.random() < 0.95 else None,
            client=client,
            project=project,
            taxation_enabled=company.taxation_enabled if company else True,
            sum_net=totals.net,
            sum_tax=totals.tax,
            sum_gross=_money(totals.net + totals.tax),
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
    companies = g.companies(clients, countries, _at(first_day))
    projects = g.projects(clients, first_day, config.anchor_date)
    metrics = [MetricData(id=new_id(g.rng), title=t, title_plural=p) for t, p in _METRICS]
    suppliers = [SupplierData(id=new_id(g.rng), name=n) for n in _SUPPLIERS]
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
