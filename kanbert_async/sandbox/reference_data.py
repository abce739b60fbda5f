"""What the sandbox's documents refer to — spaces, users, countries, clients, companies, projects —
drawn from the dataset's seeded RNG before the documents themselves."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from kanbert_async._generated.models import (
    BusinessFieldData,
    ClientData,
    CompanyData,
    CountryData,
    ProjectData,
    ProjectTypeData,
    SpaceData,
    TagData,
    UserData,
    UserType,
)

from .config import SandboxConfig
from .vocabulary import (
    COMPANY_STEMS,
    COMPANY_SUFFIXES,
    COUNTRIES,
    FIRST_NAMES,
    LAST_NAMES,
    PROJECT_STATUSES,
    PROJECT_TYPES,
    SERVICES,
    STREETS,
    TOWNS,
    new_id,
)

__all__ = ["ReferenceData"]


class ReferenceData:
    """Draws the referenced entities from ``random.Random(config.seed)``, in a fixed order."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.rng = random.Random(config.seed)

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
            first, last = FIRST_NAMES[n % len(FIRST_NAMES)], LAST_NAMES[n % len(LAST_NAMES)]
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
        return [CountryData(id=new_id(self.rng), name=name, code=code) for code, name in COUNTRIES]

    def clients(self, users: list[UserData], spaces: list[SpaceData]) -> list[ClientData]:
        count = max(8, min(500, self.config.invoices // 15))
        clients: list[ClientData] = []
        for n in range(count):
            rng = self.rng
            stem = COMPANY_STEMS[n % len(COMPANY_STEMS)]
            round_ = n // len(COMPANY_STEMS)
            name = f"{stem} {COMPANY_SUFFIXES[(n + round_) % len(COMPANY_SUFFIXES)]}"
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
            town = rng.choice(TOWNS)
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
                    person_attention_to=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
                    if rng.random() < 0.5
                    else None,
                    address_invoice_title=client.name,
                    address_invoice_street=rng.choice(STREETS),
                    address_invoice_house=str(rng.randint(1, 200)),
                    address_invoice_street2=None,
                    address_invoice_zip=f"{rng.randint(10000, 99999)}",
                    address_invoice_state=None,
                    address_invoice_town=town,
                    address_invoice_country=country,
                    address_invoice_is_delivery=delivery_same,
                    delivery_person_attention_to=None,
                    address_delivery_title=None if delivery_same else client.name,
                    address_delivery_street=None if delivery_same else rng.choice(STREETS),
                    address_delivery_house=None if delivery_same else str(rng.randint(1, 200)),
                    address_delivery_street2=None,
                    address_delivery_zip=None if delivery_same else f"{rng.randint(10000, 99999)}",
                    address_delivery_state=None,
                    address_delivery_town=None if delivery_same else rng.choice(TOWNS),
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
            for n, (t, s, c) in enumerate(PROJECT_TYPES)
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
                        title=f"{rng.choice(SERVICES)} {client.name.split()[0]} #{k + 1}",
                        shortcode=f"P{n:04d}",
                        po_number=f"PO-{rng.randint(10000, 99999)}" if rng.random() < 0.3 else None,
                        project_type=rng.choice(types),
                        status=rng.choice(PROJECT_STATUSES),
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
