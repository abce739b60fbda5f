"""One list request from query parameters to a page: filter, computed fields, sort, cursor.

The three list operations share this; what differs (which rows, how fields are read) is a
:class:`~kanbert_async.sandbox.query.Target`. Orderings are cached per (query, data version), so
paging through a filtered listing sorts once rather than once per page.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kanbert_async._core.capabilities import COMPUTED_PREFIX, Capabilities
from kanbert_async._core.filters.tree import FilterError
from kanbert_async._generated.models import UserData
from kanbert_async._generated.operations import OPERATIONS

from .collation import Context
from .computed import ComputedField, parse_computed
from .paging import CursorCodec, RowKey, SortKey, SortOrder, paginate, parse_sort
from .query import Getter, compile_filter, read_filter, split_archived
from .records import LineItemRecord
from .store import AnyRecord, Store

__all__ = [
    "ListQuery",
    "ListResult",
    "Lister",
    "document_target",
    "line_item_rows",
    "line_item_target",
    "parse_include",
]

_TIME_DEPENDENT = re.compile(r"\b(now|today|sow|eow|som|eom)\b", re.IGNORECASE)
# Enough for a few partitioned scans at once (probes, partitions and their splits: ~16 listings each),
# so a scan run twice finds its orderings as a real server finds its indexes.
_ORDER_CACHE = 64


# -- reading fields -----------------------------------------------------------------------------


def _walk(path: str, root: Callable[[Any], Any], extra: Callable[[Any, str], Any]) -> Getter:
    parts = tuple(path.split("."))

    def get(row: Any) -> Any:
        value = root(row)
        for part in parts:
            if value is None:
                return None
            try:
                value = getattr(value, part)
            except AttributeError:
                value = extra(value, part)
        return value

    return get


class _Target:
    """Shared by the targets: the capability table and extra (hidden) fields like a user's external id."""

    def __init__(self, operation: str, store: Store) -> None:
        # What the description's prose says the operation filters, sorts and includes: the one
        # part of the description only codegen reads (the generated operations table has it).
        caps = OPERATIONS[operation].capabilities
        if caps is None:
            raise RuntimeError(f"the generated operations table has no filter table for {operation}")
        self._caps = caps
        self._store = store

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    def _extra(self, obj: Any, name: str) -> Any:
        if isinstance(obj, UserData) and name == "external_id":
            return self._store.user_external_id(obj.id)
        raise AttributeError(f"{type(obj).__name__} has no field {name!r}")

    def _line_item_getter(self, path: str) -> Getter:
        if path in ("created_at", "updated_at"):
            # Line items are sorted by timestamps that OutgoingInvoiceLineItemData does not show.
            name = path
            return lambda item: getattr(item, name)
        return _walk(path, lambda item: item.model, self._extra)


class _DocumentTarget(_Target):
    """Invoices or masters: fields of the model, relations from the store."""

    @functools.lru_cache(maxsize=256)  # noqa: B019 - one instance per app, cached for its life
    def getter(self, path: str) -> Getter:
        return _walk(path, lambda row: row.model, self._extra)

    def relation_items(self, name: str) -> Callable[[Any], Sequence[Any]]:
        store = self._store
        return lambda row: store.relation(row, name)

    @functools.lru_cache(maxsize=256)  # noqa: B019
    def item_getter(self, relation: str, path: str) -> Getter:
        if relation == "line_items":
            return self._line_item_getter(path)
        return _walk(path, lambda item: item, self._extra)


class _LineItemTarget(_Target):
    """An invoice's line items: no relations of their own."""

    @functools.lru_cache(maxsize=256)  # noqa: B019
    def getter(self, path: str) -> Getter:
        return self._line_item_getter(path)

    def relation_items(self, name: str) -> Callable[[Any], Sequence[Any]]:
        raise FilterError(f"Requested filter(s) `{name}` are not allowed.")

    def item_getter(self, relation: str, path: str) -> Getter:
        raise FilterError(f"Requested filter(s) `{relation}` are not allowed.")


def document_target(operation: str, store: Store) -> _DocumentTarget:
    """The target of ``outgoingInvoices.index`` or ``outgoingInvoiceMasters.index``."""
    return _DocumentTarget(operation, store)


def line_item_target(store: Store) -> _LineItemTarget:
    """The target of ``outgoingInvoices.lineItems``."""
    return _LineItemTarget("outgoingInvoices.lineItems", store)


# -- the request --------------------------------------------------------------------------------


def parse_include(text: str | None, caps: Capabilities) -> list[str]:
    """Relations to include, checked against the operation's (Spatie's message on failure)."""
    names = list(dict.fromkeys(n.strip() for n in (text or "").split(",") if n.strip()))
    unknown = [n for n in names if n not in caps.includes]
    if unknown:
        allowed = ", ".join(sorted(caps.includes))
        names_text = ", ".join(unknown)
        raise FilterError(
            f"Requested include(s) `{names_text}` are not allowed. Allowed include(s) are `{allowed}`."
        )
    return names


@dataclasses.dataclass(frozen=True, slots=True)
class ListQuery:
    """A list request's parameters, already split out of the query string."""

    filter: str | None = None
    sort: str | None = None
    size: int = 30
    cursor: str | None = None
    computed: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class ListResult:
    """One page: rows with their computed values (None when none were declared), and cursors."""

    rows: list[tuple[Any, dict[str, float] | None]]
    next_cursor: str | None
    prev_cursor: str | None


class Lister:
    """Runs list requests for one operation (and one kind of parent, for line items)."""

    def __init__(
        self,
        operation: str,
        target: _DocumentTarget | _LineItemTarget,
        codec: CursorCodec,
        default_sort: Sequence[SortKey],
    ) -> None:
        self.operation = operation
        self.target = target
        self._codec = codec
        self._default = tuple(default_sort)
        self._orders: OrderedDict[tuple[Any, ...], list[tuple[RowKey, Any]]] = OrderedDict()

    def run(
        self,
        query: ListQuery,
        context: Context,
        rows: Callable[[str], Sequence[Any]],
        *,
        cache_key: tuple[Any, ...],
        parent: str = "",
    ) -> ListResult:
        """Filter, sort and page ``rows(archived_mode)``; :class:`FilterError`/``CursorError`` → 400.

        ``parent`` (the invoice of a line-items listing) is signed into cursors, so a cursor of one
        invoice's items is refused on another's. ``cache_key`` must change whenever the rows may.
        """
        caps = self.target.capabilities
        computed = {
            alias: parse_computed(alias, text, self.target, context) for alias, text in query.computed.items()
        }
        node, archived = split_archived(read_filter(query.filter or ""))
        predicate = compile_filter(node, self.target, context, computed) if node is not None else None
        keys = parse_sort(query.sort, caps, computed, self._default)
        order = SortOrder(keys, [self._sort_getter(k.field, computed) for k in keys])
        listing = f"{self.operation}/{parent}" if parent else self.operation
        position = self._codec.decode(listing, order, query.cursor) if query.cursor else None
        key = (
            *cache_key,
            query.filter,
            order.signature,
            tuple(sorted(query.computed.items())),
            context.me_id,
        )
        ordered = self._orders.get(key) if self._cacheable(query) else None
        if ordered is not None:
            self._orders.move_to_end(key)
        if ordered is None:
            candidates = rows(archived)
            selected = [r for r in candidates if predicate(r)] if predicate is not None else list(candidates)
            ordered = order.order(selected)
            if self._cacheable(query):
                self._remember(key, ordered)
        page = paginate(ordered, order, query.size, position)
        return ListResult(
            rows=[
                (row, {a: c.value(row) for a, c in computed.items()} if computed else None)
                for row in page.rows
            ],
            next_cursor=self._cursor(listing, order, page.next_key, forward=True),
            prev_cursor=self._cursor(listing, order, page.prev_key, forward=False),
        )

    def _cursor(self, listing: str, order: SortOrder, key: RowKey | None, *, forward: bool) -> str | None:
        return None if key is None else self._codec.encode(listing, order, key, forward=forward)

    def _sort_getter(self, field: str, computed: Mapping[str, ComputedField]) -> Getter:
        if field.startswith(COMPUTED_PREFIX):
            return computed[field[len(COMPUTED_PREFIX) :]].value
        return self.target.getter(field)

    @staticmethod
    def _cacheable(query: ListQuery) -> bool:
        # "today" and "now" move; such listings are recomputed on every page.
        texts = [query.filter or "", *query.computed.values()]
        return not any(_TIME_DEPENDENT.search(t) for t in texts)

    def _remember(self, key: tuple[Any, ...], ordered: list[tuple[RowKey, Any]]) -> None:
        self._orders[key] = ordered
        if len(self._orders) > _ORDER_CACHE:
            self._orders.popitem(last=False)


def line_item_rows(store: Store, record: AnyRecord) -> Callable[[str], Sequence[LineItemRecord]]:
    """The rows of a line-items listing (line items have no archived state)."""
    return lambda _archived: store.line_items(record)
