"""Sorting and cursor pagination, the way Laravel's ``cursorPaginate`` does it.

A sort is a list of keys (``-date_of_invoice,title``) that always ends with ``id``, so the order is
total and stable. A cursor is the position *between* two rows — the sort-key values of the row it
follows (or precedes) — not an offset, so pages stay correct when records are added or archived
while someone is paging. Cursors are opaque: base64url of a small JSON document, with an HMAC tag
so an edited or foreign cursor is refused (HTTP 400) instead of being misread.

Nulls sort first ascending and last descending, as in MySQL; strings sort by the collation key.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import dataclasses
import functools
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

import msgspec

from kanbert_async._core.capabilities import COMPUTED_PREFIX, Capabilities
from kanbert_async._core.filters.tree import FilterError

from .collation import fold
from .computed import ComputedField

__all__ = ["CursorCodec", "CursorError", "Page", "SortKey", "SortOrder", "paginate", "parse_sort"]

# One component of a row's sort key: (not null, comparable value).
KeyPart = tuple[bool, Any]
RowKey = tuple[KeyPart, ...]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TAG_BYTES = 10


class CursorError(ValueError):
    """A ``page[cursor]`` that this server did not issue for this listing: HTTP 400."""


@dataclasses.dataclass(frozen=True, slots=True)
class SortKey:
    """One sort key: the field (or ``computed_fields.<alias>``) and its direction."""

    field: str
    descending: bool = False

    def __str__(self) -> str:
        return f"-{self.field}" if self.descending else self.field


def parse_sort(
    text: str | None,
    caps: Capabilities,
    computed: Mapping[str, ComputedField],
    default: Sequence[SortKey],
) -> list[SortKey]:
    """Read a ``sort`` parameter against the operation's sorts; an ``id`` tie-break is appended.

    Unknown keys raise :class:`FilterError` with Spatie's message (the API answers 400).
    """
    keys: list[SortKey] = []
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        descending = item.startswith("-")
        name = item[1:].strip() if descending else item
        if name.startswith(COMPUTED_PREFIX) and caps.sorts_computed:
            alias = name[len(COMPUTED_PREFIX) :]
            if alias not in computed:
                raise FilterError(f"Requested sort `{name}` uses a computed field that is not declared.")
        elif name in computed and caps.sorts_computed and name not in caps.sorts:
            name = COMPUTED_PREFIX + name  # a bare alias: accepted, but deprecated
        elif name not in caps.sorts:
            allowed = sorted(caps.sorts) + ([f"{COMPUTED_PREFIX}<alias>"] if caps.sorts_computed else [])
            raise FilterError(
                f"Requested sort(s) `{name}` is not allowed. Allowed sort(s) are `{', '.join(allowed)}`."
            )
        keys.append(SortKey(name, descending))
    if not keys:
        keys = list(default)
    if keys[-1].field != "id":
        keys.append(SortKey("id"))
    return keys


def _part(value: Any) -> KeyPart:
    if value is None:
        return (False, 0)
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, str):
        return (True, fold(value))
    if isinstance(value, bool):
        return (True, int(value))
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return (True, (moment - _EPOCH) // timedelta(microseconds=1))
    if isinstance(value, date):
        return (True, value.toordinal())
    if isinstance(value, Decimal):
        return (True, float(value))
    return (True, value)


class SortOrder:
    """A parsed sort bound to how rows are read: gives each row its key and orders rows."""

    def __init__(self, keys: Sequence[SortKey], getters: Sequence[Callable[[Any], Any]]) -> None:
        self.keys = tuple(keys)
        self._getters = tuple(getters)
        self._descending = tuple(k.descending for k in keys)
        self.signature = ",".join(str(k) for k in keys)
        self.wrap = functools.cmp_to_key(self.compare)

    def key(self, row: Any) -> RowKey:
        """The row's sort key; the last part (the id) is compared as is, not collated."""
        parts = [_part(get(row)) for get in self._getters[:-1]]
        parts.append((True, str(self._getters[-1](row))))
        return tuple(parts)

    def compare(self, a: Sequence[KeyPart], b: Sequence[KeyPart]) -> int:
        """-1, 0 or 1 as row key ``a`` sorts before, with or after ``b``."""
        for x, y, descending in zip(a, b, self._descending, strict=True):
            if x == y:
                continue
            before = tuple(x) < tuple(y)
            return (1 if before else -1) if descending else (-1 if before else 1)
        return 0

    def order(self, rows: Sequence[Any]) -> list[tuple[RowKey, Any]]:
        """The rows with their keys, in this order (one stable sort per key, last key first)."""
        keyed = [(self.key(row), row) for row in rows]
        for index in reversed(range(len(self.keys))):
            keyed.sort(key=lambda pair: pair[0][index], reverse=self._descending[index])
        return keyed


class _CursorData(msgspec.Struct, array_like=True):
    operation: str
    sort: str
    key: list[tuple[bool, str | int | float]]
    forward: bool


class CursorCodec:
    """Makes and reads opaque cursors; ``secret`` signs them (derive it from the seed to replay runs)."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._decoder = msgspec.json.Decoder(_CursorData)

    def _tag(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()[:_TAG_BYTES]

    def encode(self, operation: str, order: SortOrder, key: RowKey, *, forward: bool) -> str:
        """The cursor for the position after (``forward``) or before the row with ``key``."""
        data = _CursorData(operation, order.signature, [(flag, value) for flag, value in key], forward)
        payload = msgspec.json.encode(data)
        return base64.urlsafe_b64encode(payload + self._tag(payload)).rstrip(b"=").decode()

    def decode(self, operation: str, order: SortOrder, cursor: str) -> tuple[RowKey, bool]:
        """The position and direction in ``cursor``; :class:`CursorError` when it is not ours."""
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError):
            raise CursorError("The page[cursor] value is not a valid cursor.") from None
        payload, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
        if len(raw) <= _TAG_BYTES or not hmac.compare_digest(tag, self._tag(payload)):
            raise CursorError("The page[cursor] value is not a valid cursor.")
        try:
            data = self._decoder.decode(payload)
        except msgspec.DecodeError:
            raise CursorError("The page[cursor] value is not a valid cursor.") from None
        if data.operation != operation:
            raise CursorError("The page[cursor] value belongs to another listing.")
        if data.sort != order.signature or len(data.key) != len(order.keys):
            raise CursorError(
                f"The page[cursor] value was made for sort `{data.sort}`, not `{order.signature}`; "
                "keep the sort while paging."
            )
        return tuple((bool(flag), value) for flag, value in data.key), data.forward


@dataclasses.dataclass(frozen=True, slots=True)
class Page:
    """One page of rows, and the keys its next/previous cursors point from (None: no such page)."""

    rows: list[Any]
    next_key: RowKey | None
    prev_key: RowKey | None


def paginate(
    ordered: Sequence[tuple[RowKey, Any]],
    order: SortOrder,
    size: int,
    position: tuple[RowKey, bool] | None,
) -> Page:
    """Cut one page out of ``ordered`` (from :meth:`SortOrder.order`) at a cursor position."""
    if position is None:
        start, end = 0, min(size, len(ordered))
    else:
        key, forward = position
        probe = order.wrap(key)
        if forward:
            start = bisect.bisect_right(ordered, probe, key=lambda pair: order.wrap(pair[0]))
            end = min(start + size, len(ordered))
        else:
            end = bisect.bisect_left(ordered, probe, key=lambda pair: order.wrap(pair[0]))
            start = max(0, end - size)
    chunk = ordered[start:end]
    rows = [row for _, row in chunk]
    next_key = chunk[-1][0] if chunk and end < len(ordered) else None
    prev_key = chunk[0][0] if chunk and start > 0 else None
    return Page(rows, next_key, prev_key)
