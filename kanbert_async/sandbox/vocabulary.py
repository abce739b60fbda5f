"""The words the sandbox's data is made of: names, titles (hostile ones too), towns, amounts, ids."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, time, timedelta

__all__ = [
    "COMPANY_STEMS",
    "COMPANY_SUFFIXES",
    "COST_TITLES",
    "COUNTRIES",
    "CURRENCIES",
    "FIRST_NAMES",
    "HOSTILE_TITLES",
    "LAST_NAMES",
    "LINE_TITLES",
    "METRICS",
    "MONTHS",
    "PROJECT_STATUSES",
    "PROJECT_TYPES",
    "SERVICES",
    "STREETS",
    "SUPPLIERS",
    "TAX_RATES",
    "TOWNS",
    "at_day",
    "money",
    "new_id",
]

# Titles that make string handling honest: quotes, backslashes, LIKE wildcards, an injection
# attempt and non-ASCII text. They land on the first invoices so small datasets contain them.
HOSTILE_TITLES = (
    'Quote "Alpha" with \\ backslash',
    "O'Brien's retainer",
    '") or (1 = 1',
    "Ünïcødé ✓ Straße – 日本語",
    "100% done_with wildcards",
)

SERVICES = (
    "Website relaunch", "Support retainer", "Hosting", "SEO audit", "App development",
    "Consulting", "Design sprint", "Maintenance", "Data migration", "Training workshop",
    "Brand strategy", "Cloud setup", "Security review", "Content production", "API integration",
)  # fmt: skip
COMPANY_STEMS = (
    "Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Wonka", "Tyrell", "Cyberdyne",
    "Hooli", "Vandelay", "Müller", "Schröder", "Zürich Digital", "Ærø Design", "Łódź Logistics",
    "Nordwind", "Bergmann", "Sonnenschein", "Blue Harbor", "Pied Piper", "O'Brien & \"Sons\"",
    "Kowalski", "Dupont", "van Dijk", "東京 Trading", "Soylent", "Massive Dynamic", "Oscorp", "Aperture",
)  # fmt: skip
COMPANY_SUFFIXES = ("GmbH", "AG", "Corp", "Ltd", "KG", "SE", "Inc.", "GmbH & Co. KG", "ApS", "B.V.")
FIRST_NAMES = (
    "Anna", "Ben", "Clara", "David", "Eva", "Felix", "Greta", "Hannes", "Ines", "Jonas", "Kim", "Lena",
)  # fmt: skip
LAST_NAMES = (
    "Schmidt", "Meyer", "Weber", "Wagner", "Becker", "Hoffmann", "Schulz", "Koch", "Richter", "Klein",
)  # fmt: skip
COUNTRIES = (
    ("DE", "Germany"), ("AT", "Austria"), ("CH", "Switzerland"), ("FR", "France"), ("NL", "Netherlands"),
    ("GB", "United Kingdom"), ("US", "United States"), ("DK", "Denmark"), ("PL", "Poland"), ("JP", "Japan"),
)  # fmt: skip
TOWNS = ("Berlin", "Hamburg", "München", "Köln", "Wien", "Zürich", "Paris", "Amsterdam", "London", "Kraków")
STREETS = ("Hauptstraße", "Bahnhofstraße", "Lindenallee", "Marktplatz", "Gartenweg", "Königsallee")
METRICS = (
    ("Hour", "Hours"),
    ("Day", "Days"),
    ("Piece", "Pieces"),
    ("Flat rate", "Flat rates"),
    ("License", "Licenses"),
)
PROJECT_TYPES = (
    ("Fixed price", "FP", "#3b82f6"),
    ("Time & material", "TM", "#10b981"),
    ("Retainer", "RET", "#f59e0b"),
)
PROJECT_STATUSES = ("active", "completed", "on_hold", "planned")
LINE_TITLES = (
    "Project management", "Concept", "UX design", "Frontend development", "Backend development",
    "Quality assurance", "Deployment", "Support hours", "License fee", "Travel expenses",
    "Workshop day", "Copywriting", "Photography", "Server costs", "Domain renewal",
)  # fmt: skip
COST_TITLES = ("Stock photos", "Printing", "Freelancer", "Cloud credits", "Courier", "Translation")
SUPPLIERS = ("Adobe", "AWS", "Hetzner", "Fiverr Pro", "DHL", "Lingua GmbH", "Getty Images", "Druckerei Nord")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")  # fmt: skip
CURRENCIES = ("EUR",) * 18 + ("USD", "CHF")
TAX_RATES = (19.0, 19.0, 19.0, 19.0, 7.0, 0.0)


def new_id(rng: random.Random) -> str:
    """A UUID4-shaped id drawn from ``rng`` (so ids are as deterministic as the rest)."""
    return uuid_from_bits(rng.getrandbits(128))


def uuid_from_bits(bits: int) -> str:
    """The UUID4-shaped id of 128 random ``bits``."""
    return str(uuid.UUID(int=bits, version=4))


def money(value: float) -> float:
    """An amount rounded to cents."""
    return round(value, 2)


def at_day(day: date, seconds: int = 0) -> datetime:
    """``seconds`` after midnight UTC of ``day``."""
    return datetime.combine(day, time(), tzinfo=UTC) + timedelta(seconds=seconds)
