"""How a filter field's type compares values, the way MySQL (which Kanbert runs on) compares them.

- strings (and enums) compare case- and accent-insensitively (``utf8mb4_0900_ai_ci``), so do
  ``contains``/``startswith``/``endswith``/``like`` (``%`` and ``_`` wildcards, ``\\`` escapes);
- ``date`` fields compare on the date part, ``datetime`` fields as instants (naive values are UTC);
- ``currency``/``float`` compare as exact decimals; their text (for ``contains`` and friends) is
  the decimal as MySQL prints it (currency with two places);
- special values: ``me.id`` on id fields; ``now``, ``today``, ``today±Nd``, ``sow``/``eow``,
  ``som``/``eom`` on date and datetime fields (``eq today`` on a datetime is the whole day).

A :class:`Kind` turns a record's value and a filter's value into comparable things; :data:`KINDS`
has one per field type of the filter tables.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import unicodedata
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from kanbert_async._core.filters.tree import FilterError

__all__ = ["KINDS", "Context", "DayRange", "Kind", "bad_value", "fold", "like_regex"]

_RELATIVE_DAY_RE = re.compile(r"^today([+-]\d+)d$")


@dataclasses.dataclass(frozen=True, slots=True)
class Context:
    """Who is asking and when: what ``me.id`` and ``now`` resolve to."""

    me_id: str
    now: datetime


@functools.lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """A string's comparison key under an accent- and case-insensitive collation."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def like_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            out.append(re.escape(next(chars, "\\")))
        elif char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL)


@dataclasses.dataclass(frozen=True, slots=True)
class DayRange:
    """A whole day (or more) as ``[low, high)``: what ``today`` means to a datetime ``eq``."""

    low: datetime
    high: datetime


class Kind:
    """How one field type turns a record value and a filter value into comparable things."""

    name = "string"
    #: ``contains``/``like`` and friends match the value as MySQL prints it, not its comparison key.
    patterns_on_text = False

    def record(self, value: Any) -> Any:
        if isinstance(value, Enum):
            value = value.value
        return fold(str(value))

    def text(self, value: Any) -> str:
        return self.record(value)  # type: ignore[no-any-return]

    def operand(self, value: Any, field: str, ctx: Context) -> Any:
        if isinstance(value, tuple):
            raise bad_value(field, "a single value", value)
        if isinstance(value, bool):
            value = "1" if value else "0"
        return fold(str(value))


class IdKind(Kind):
    name = "id"

    def record(self, value: Any) -> Any:
        return str(value)

    def operand(self, value: Any, field: str, ctx: Context) -> Any:
        if isinstance(value, tuple | bool):
            raise bad_value(field, "an id", value)
        text = str(value)
        return ctx.me_id if text.lower() == "me.id" else text


class BoolKind(Kind):
    name = "boolean"
    patterns_on_text = True

    def record(self, value: Any) -> Any:
        return bool(value)

    def text(self, value: Any) -> str:
        return "1" if value else "0"

    def operand(self, value: Any, field: str, ctx: Context) -> Any:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true"):
            return True
        if text in ("0", "false"):
            return False
        raise bad_value(field, "true or false", value)


class NumberKind(Kind):
    name = "number"
    patterns_on_text = True

    def __init__(self, places: int | None) -> None:
        self.places = places

    def record(self, value: Any) -> Any:
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)

    def text(self, value: Any) -> str:
        number = self.record(value)
        return format(number, f".{self.places}f") if self.places is not None else format(number, "f")

    def operand(self, value: Any, field: str, ctx: Context) -> Any:
        if isinstance(value, bool | tuple):
            raise bad_value(field, "a number", value)
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise bad_value(field, "a number", value) from None
        if not number.is_finite():
            raise bad_value(field, "a finite number", value)
        return number


class DateKind(Kind):
    name = "date"
    patterns_on_text = True

    def record(self, value: Any) -> Any:
        return value.date() if isinstance(value, datetime) else value

    def text(self, value: Any) -> str:
        return str(self.record(value).isoformat())

    def operand(self, value: Any, field: str, ctx: Context) -> Any:
        if not isinstance(value, str):
            raise bad_value(field, "a date (YYYY-MM-DD)", value)
        special = _special_day(value, ctx)
        if special is not None:
            return special
        try:
            return date.fromisoformat(value.strip()[:10])
        except ValueError:
            raise bad_value(field, "a date (YYYY-MM-DD)", value) from None


class DateTimeKind(Kind):
    name = "datetime"
    patterns_on_text = True

    def record(self, value: Any) -> Any:
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
        return datetime.combine(value, time(), tzinfo=UTC)

    def text(self, value: Any) -> str:
        return str(self.record(value).isoformat())

    def operand(self, value: Any, field: str, ctx: Context) -> Any:
        if not isinstance(value, str):
            raise bad_value(field, "a date-time (ISO 8601)", value)
        low = value.strip().lower()
        if low == "now":
            return ctx.now
        day = _special_day(value, ctx)
        if day is not None:
            start = datetime.combine(day, time(), tzinfo=UTC)
            if low == "today" or _RELATIVE_DAY_RE.match(low):
                return DayRange(start, start + timedelta(days=1))
            if low in ("eow", "eom"):
                return start + timedelta(days=1) - timedelta(microseconds=1)
            return start
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise bad_value(field, "a date-time (ISO 8601)", value) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _special_day(value: str, ctx: Context) -> date | None:
    low = value.strip().lower()
    today = ctx.now.date()
    if low in ("today", "now"):
        return today
    relative = _RELATIVE_DAY_RE.match(low)
    if relative:
        return today + timedelta(days=int(relative.group(1)))
    if low == "sow":
        return today - timedelta(days=today.weekday())
    if low == "eow":
        return today + timedelta(days=6 - today.weekday())
    if low == "som":
        return today.replace(day=1)
    if low == "eom":
        next_month = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
        return next_month - timedelta(days=1)
    return None


KINDS: dict[str, Kind] = {
    "string": Kind(),
    "enum": Kind(),
    "unknown": Kind(),
    "id": IdKind(),
    "boolean": BoolKind(),
    "currency": NumberKind(2),
    "float": NumberKind(None),
    "integer": NumberKind(0),
    "date": DateKind(),
    "datetime": DateTimeKind(),
}


def bad_value(field: str, expected: str, value: Any) -> FilterError:
    return FilterError(f"Invalid value for filter `{field}`: expected {expected}, got {value!r}.")
