"""The seven operations: read the request, ask the store and the listers, answer with models.

Each handler gets the request (its query already checked against the description), the shared
state, the matched route and the caller's token, and returns a response or raises
:class:`~kanbert_async.sandbox.responses.ApiError` (or a ``FilterError``/``CursorError``, which the
dispatcher answers with 400).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import msgspec
from aiohttp import web
from multidict import MultiMapping

from kanbert_async._core.capabilities import Capabilities
from kanbert_async._generated.models import (
    CursorPaginationMeta,
    OutgoingInvoiceDataCursorPaginatedCollection,
    OutgoingInvoiceLineItemDataCursorPaginatedCollection,
    OutgoingInvoiceMasterDataCursorPaginatedCollection,
)

from .auth import TokenInfo
from .collation import Context
from .config import SandboxConfig
from .listing import ListQuery, ListResult, line_item_rows, parse_include
from .responses import ApiError, json_response
from .routing import Match
from .state import SandboxState
from .store import AnyRecord
from .upload import Form, UploadTooLarge, ValidationFailed, build_invoice, read_form

__all__ = ["HANDLERS", "Handler"]

_MODELS = {
    "outgoingInvoices.show": "App\\Models\\OutgoingInvoice",
    "outgoingInvoices.lineItems": "App\\Models\\OutgoingInvoice",
    "outgoingInvoices.pdf": "App\\Models\\OutgoingInvoice",
    "outgoingInvoiceMasters.show": "App\\Models\\OutgoingInvoiceMaster",
}

#: The relations the store loads on a record (listings on request, ``include=``).
_RELATIONS = ("discounts", "external_costs", "line_items")

Handler = Callable[[web.Request, SandboxState, Match, TokenInfo], Awaitable[web.StreamResponse]]


# -- query helpers ------------------------------------------------------------------------------


def _last(query: MultiMapping[str], name: str) -> str | None:
    values = query.getall(name, [])
    return values[-1] if values else None


def _page_size(query: MultiMapping[str], config: SandboxConfig) -> int:
    raw = _last(query, "page[size]")
    if raw is None or raw == "":
        return config.default_page_size
    size = int(raw.strip())  # an integer: the description says so, and the dispatcher checked it
    if size < 1:
        message = "The page.size field must be at least 1."
        raise ApiError(422, message, {"page.size": [message]})
    if size > config.max_page_size:
        message = f"The page.size field must not be greater than {config.max_page_size}."
        raise ApiError(422, message, {"page.size": [message]})
    return size


def _computed_params(query: MultiMapping[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in query.items():
        if key.startswith("computed_fields[") and key.endswith("]"):
            out[key[len("computed_fields[") : -1]] = value
    return out


def _form_filter(query: MultiMapping[str]) -> str | None:
    """``filter[0][field]=title&filter[0][op]=eq&...``, the form-encoded JSON format, as JSON."""
    pairs = [(k, v) for k, v in query.items() if k.startswith("filter[")]
    if not pairs:
        return None
    form = Form()
    for key, value in pairs:
        form.add(key, value)
    return msgspec.json.encode(_listify(form.fields["filter"])).decode()


def _listify(value: Any) -> Any:
    if isinstance(value, dict):
        if value and all(k.isdigit() for k in value):
            return [_listify(value[k]) for k in sorted(value, key=int)]
        return {k: _listify(v) for k, v in value.items()}
    return value


def _list_query(request: web.Request, state: SandboxState, *, computed: bool = True) -> ListQuery:
    query = request.query
    flt = _last(query, "filter")
    if flt is None:
        flt = _form_filter(query)
    return ListQuery(
        filter=flt,
        sort=_last(query, "sort"),
        size=_page_size(query, state.config),
        cursor=_last(query, "page[cursor]") or None,
        computed=_computed_params(query) if computed else {},
    )


def _meta(request: web.Request, size: int, result: ListResult) -> CursorPaginationMeta:
    path = f"{request.url.origin()}{request.raw_path.split('?', 1)[0]}"
    kept = [(k, v) for k, v in request.query.items() if k != "page[cursor]"]

    def url(cursor: str | None) -> str | None:
        if cursor is None:
            return None
        return f"{path}?{urlencode([*kept, ('page[cursor]', cursor)])}"

    return CursorPaginationMeta(
        path=path,
        per_page=size,
        next_cursor=result.next_cursor,
        next_cursor_url=url(result.next_cursor),
        prev_cursor=result.prev_cursor,
        prev_cursor_url=url(result.prev_cursor),
    )


def _context(state: SandboxState, token: TokenInfo) -> Context:
    return Context(me_id=token.user_id, now=state.store.now())


def _find(state: SandboxState, request: web.Request, match: Match, token: TokenInfo) -> AnyRecord:
    key = match.params["id"]
    find_by = _last(request.query, "find_by") or "id"  # one of the description's values
    origin = _last(request.query, "origin") or token.origin
    op = match.operation.id
    found: AnyRecord | None
    if op.startswith("outgoingInvoiceMasters."):
        found = state.store.find_master(key, find_by, origin)
    else:
        found = state.store.find_invoice(key, find_by, origin)
    if found is None:
        raise ApiError(404, f"No query results for model [{_MODELS[op]}] {key}")
    return found


def _caps(state: SandboxState, operation: str) -> Capabilities:
    return state.listers[operation].target.capabilities


# -- handlers -----------------------------------------------------------------------------------


async def list_invoices(
    request: web.Request, state: SandboxState, match: Match, token: TokenInfo
) -> web.Response:
    """``GET /outgoing-invoices``."""
    return _list_documents(
        request,
        state,
        match,
        token,
        state.store.invoice_records,
        OutgoingInvoiceDataCursorPaginatedCollection,
    )


async def list_masters(
    request: web.Request, state: SandboxState, match: Match, token: TokenInfo
) -> web.Response:
    """``GET /outgoing-invoices/master``."""
    return _list_documents(
        request,
        state,
        match,
        token,
        state.store.master_records,
        OutgoingInvoiceMasterDataCursorPaginatedCollection,
    )


def _list_documents(
    request: web.Request,
    state: SandboxState,
    match: Match,
    token: TokenInfo,
    records: Any,
    collection: Any,
) -> web.Response:
    """A page of invoices or masters: the two listings differ only in their records and wrapper."""
    op = match.operation.id
    include = parse_include(_last(request.query, "include"), _caps(state, op))
    query = _list_query(request, state)
    store = state.store
    result = state.listers[op].run(query, _context(state, token), records, cache_key=(op, store.version))
    data = [store.present(row, include, computed) for row, computed in result.rows]
    body = collection(data=data, links=[], meta=_meta(request, query.size, result))
    return json_response(200, body)


async def list_line_items(
    request: web.Request, state: SandboxState, match: Match, token: TokenInfo
) -> web.Response:
    """``GET /outgoing-invoices/{id}/line-items``."""
    op = match.operation.id
    record = _find(state, request, match, token)
    parse_include(_last(request.query, "include"), _caps(state, op))
    query = _list_query(request, state, computed=False)
    if _computed_params(request.query):
        raise ApiError(400, "Computed fields are not available on this endpoint.")
    result = state.listers[op].run(
        query,
        _context(state, token),
        line_item_rows(state.store, record),
        cache_key=(op, state.store.version, record.model.id),
        parent=record.model.id,
    )
    data = [row.model for row, _ in result.rows]
    body = OutgoingInvoiceLineItemDataCursorPaginatedCollection(
        data=data, links=[], meta=_meta(request, query.size, result)
    )
    return json_response(200, body)


async def show(request: web.Request, state: SandboxState, match: Match, token: TokenInfo) -> web.Response:
    """``GET /outgoing-invoices/{id}`` and ``GET /outgoing-invoices/master/{id}``."""
    record = _find(state, request, match, token)
    return json_response(200, state.store.present(record, _required_relations(match)))


async def pdf(request: web.Request, state: SandboxState, match: Match, token: TokenInfo) -> web.Response:
    """``GET /outgoing-invoices/{id}/pdf``: the file as ``application/octet-stream``, as documented."""
    record = _find(state, request, match, token)
    data = state.store.pdf(record)
    number = record.model.invoice_number or f"invoice-{record.model.id}"
    filename = "".join(c if c.isprintable() and c not in '"\\/' else "_" for c in number)
    return web.Response(
        body=data,
        content_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{filename}.pdf"'},
    )


async def create_external(
    request: web.Request, state: SandboxState, match: Match, token: TokenInfo
) -> web.Response:
    """``POST /outgoing-invoices/external``: validate, store, answer 200 with the invoice."""
    try:
        form = await read_form(request)
        model, file = build_invoice(form, state.store, token, match.operation.body or {})
    except ValidationFailed as exc:
        raise ApiError(422, exc.message, exc.errors) from None
    except UploadTooLarge:
        raise ApiError(413, "The uploaded data is too large.") from None
    record = state.store.add_invoice(model, file)
    return json_response(200, state.store.present(record, _required_relations(match)))


def _required_relations(match: Match) -> tuple[str, ...]:
    """The relations a single record's answer carries: those its schema requires. The single-record
    routes offer no ``include`` to ask for them, so the description is the only word on it."""
    return match.operation.required_in_response(_RELATIONS)


HANDLERS: dict[str, Handler] = {
    "outgoingInvoices.index": list_invoices,
    "outgoingInvoices.show": show,
    "outgoingInvoices.lineItems": list_line_items,
    "outgoingInvoices.createExternal": create_external,
    "outgoingInvoices.pdf": pdf,
    "outgoingInvoiceMasters.index": list_masters,
    "outgoingInvoiceMasters.show": show,
}
