"""The aiohttp application: one dispatcher in front of the seven operations and the OAuth endpoints.

Every API request goes through the same steps, in Laravel's middleware order:
route (on the raw path) → latency → auth (401) → throttle (429, by the operation's bucket:
:mod:`.buckets`) → scopes (403) → injected fault → handler (:mod:`.handlers`) → injected fault
on the way out. Errors are Laravel-shaped JSON (:mod:`.responses`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import web

from kanbert_async._core.filters.tree import FilterError

from .auth import OAuthError, TokenRegistry
from .buckets import make_throttles
from .config import SandboxConfig
from .counters import Counters
from .description import load_description
from .faults import BEFORE, Fault, FaultInjector
from .handlers import HANDLERS
from .listing import Lister, document_target, line_item_target
from .paging import CursorCodec, CursorError, SortKey
from .ratelimit import limit_headers
from .responses import ApiError, error_body, error_response, json_response
from .routing import Match, Router
from .state import STATE, SandboxState
from .store import Store

__all__ = ["STATE", "SandboxState", "build_state", "create_app", "dispatch"]

logger = logging.getLogger("kanbert_async.sandbox")


# -- faults -------------------------------------------------------------------------------------


def _dropped(request: web.Request) -> web.Response:
    """Close the connection without an answer (the response returned is never written)."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=204)


def _fault_response(fault: Fault) -> web.Response:
    if fault.kind == "rate_limit":
        body = error_body(429, "Too Many Attempts.", None)
        return json_response(429, body, {"Retry-After": str(fault.retry_after)})
    if fault.empty_body:
        return web.Response(status=fault.status, body=b"")
    message = {500: "Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}.get(
        fault.status, "Server Error"
    )
    return json_response(fault.status, {"message": message})


async def _truncated(request: web.Request, response: web.Response) -> web.StreamResponse:
    """Send the headers and about half of ``response``'s body, then close the connection."""
    body = response.body if isinstance(response.body, bytes) else b""
    stream = web.StreamResponse(status=response.status, headers=response.headers)
    stream.content_length = len(body)
    await stream.prepare(request)
    await stream.write(body[: max(1, len(body) // 2)])
    if request.transport is not None:
        request.transport.close()
    return stream


# -- the dispatcher -----------------------------------------------------------------------------


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


async def _sleep(state: SandboxState, seconds: float) -> None:
    # Wakes early when the sandbox shuts down, so a "slow" request never holds up stop().
    if seconds <= 0:
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(state.closing.wait(), timeout=seconds)


async def _serve_api(request: web.Request, state: SandboxState, match: Match) -> web.StreamResponse:
    op = match.operation
    await _sleep(state, state.faults.latency())
    raw_token = _bearer(request)
    token = state.tokens.lookup(raw_token) if raw_token else None
    if token is None:
        raise ApiError(401, "Unauthenticated.")
    throttle_headers: dict[str, str] = {}
    if state.throttles is not None:
        # One bucket decides: the operation's own if it has one, else the main one.
        bucket, throttle = state.throttles.pick(op.id)
        verdict = throttle.hit(token.token)
        config = state.config
        throttle_headers = limit_headers(
            verdict,
            config.rate_limit_headers,
            config.retry_after,
            wall=time.time(),
            bucket=bucket if state.throttles.named else None,
        )
        if not verdict.allowed:
            state.counters.rate_limited += 1
            state.counters.rate_limited_by_bucket[bucket] += 1
            raise ApiError(429, "Too Many Attempts.", headers=throttle_headers)
    try:
        missing = [s for s in op.scopes if s not in token.scopes]
        if missing:
            raise ApiError(403, f"Invalid scope(s) provided. This action requires: {', '.join(missing)}.")
        fault = state.faults.draw(op.id)
        if fault is not None:
            state.counters.faults[fault.kind] += 1
            if fault.kind == "drop":
                return _dropped(request)
            if fault.kind == "slow":
                await _sleep(state, fault.seconds)
            elif fault.kind in BEFORE:
                failed = _fault_response(fault)
                failed.headers.update(throttle_headers)
                return failed
        response: web.StreamResponse
        try:
            op.check_query(request.query)
            response = await HANDLERS[op.id](request, state, match, token)
        except ApiError as exc:
            response = error_response(exc)
        except (FilterError, CursorError) as exc:
            # A filter, sort, include or cursor the API cannot use: Spatie's 400.
            response = error_response(ApiError(400, str(exc)))
        response.headers.update(throttle_headers)
        if fault is not None and fault.kind == "lost_upload":
            return _dropped(request)
        if fault is not None and fault.kind == "drop_mid_body" and isinstance(response, web.Response):
            return await _truncated(request, response)
        return response
    except ApiError as exc:
        exc.headers.update(throttle_headers)
        raise


async def _serve_oauth(request: web.Request, state: SandboxState, operation: str) -> web.StreamResponse:
    fault = state.faults.draw(operation)
    if fault is not None:
        state.counters.faults[fault.kind] += 1
        if fault.kind in ("drop", "lost_upload"):
            return _dropped(request)
        if fault.kind == "slow":
            await _sleep(state, fault.seconds)
        elif fault.kind in BEFORE:
            return _fault_response(fault)
    tokens = state.tokens
    try:
        if operation == "oauth.authorize":
            return web.Response(status=302, headers={"Location": tokens.authorize(dict(request.query))})
        if request.content_type == "application/json":
            form = {str(k): str(v) for k, v in msgspec.json.decode(await request.read()).items()}
        else:
            form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        grant = form.get("grant_type")
        if grant == "authorization_code":
            pair = tokens.exchange_code(form)
            state.counters.code_exchanges += 1
        elif grant == "refresh_token":
            pair = tokens.refresh(form)
            state.counters.refreshes += 1
        else:
            raise OAuthError("unsupported_grant_type", "The authorization grant type is not supported.")
    except OAuthError as exc:
        return json_response(exc.status, exc.body())
    except (msgspec.DecodeError, AttributeError):
        return json_response(400, OAuthError("invalid_request", "The request body cannot be read.").body())
    return json_response(200, pair.body(), {"Cache-Control": "no-store"})


async def dispatch(request: web.Request) -> web.StreamResponse:
    """The one aiohttp handler: routes on the raw path and counts every request."""
    state = request.app[STATE]
    path = request.raw_path.split("?", 1)[0]
    if path in ("/oauth/token", "/oauth/authorize"):
        operation = "oauth.token" if path == "/oauth/token" else "oauth.authorize"
        expected = "POST" if operation == "oauth.token" else "GET"
        if request.method != expected:
            return json_response(
                405, {"message": f"The {request.method} method is not supported for this route."}
            )
        return await _counted(request, state, operation, lambda: _serve_oauth(request, state, operation))
    if path == "/__sandbox__/counters" and request.method == "GET":
        return json_response(200, state.counters.snapshot())
    found = state.router.match(request.method, request.raw_path)
    if found is None:
        return json_response(404, {"message": f"The route {path.lstrip('/')} could not be found."})
    if isinstance(found, list):
        message = (
            f"The {request.method} method is not supported for route {path.lstrip('/')}. "
            f"Supported methods: {', '.join(found)}."
        )
        return json_response(405, {"message": message}, {"Allow": ", ".join(found)})
    match = found
    return await _counted(request, state, match.operation.id, lambda: _serve_api(request, state, match))


async def _counted(
    request: web.Request,
    state: SandboxState,
    operation: str,
    serve: Callable[[], Awaitable[web.StreamResponse]],
) -> web.StreamResponse:
    started = state.counters.started(operation)
    status: int | None = None
    try:
        try:
            response = await serve()
        except ApiError as exc:
            response = error_response(exc)
        except Exception:
            logger.exception("sandbox: %s failed", operation)
            response = json_response(500, {"message": "Server Error"})
        transport = request.transport
        if not response.prepared and transport is not None and not transport.is_closing():
            status = response.status
            response.headers.setdefault("X-Request-Id", str(uuid.uuid4()))
        return response
    finally:
        state.counters.finished(operation, started, status)


def create_app(config: SandboxConfig | SandboxState | None = None, /, **options: Any) -> web.Application:
    """The aiohttp application, for running it yourself (e.g. with ``aiohttp.test_utils``).

    Takes a :class:`SandboxConfig` (or its fields as keywords) or a built state; the state, with
    the all-scopes ``token``, ``store`` and ``counters``, is ``app[STATE]``. Most callers want
    :class:`~kanbert_async.sandbox.Sandbox`, which also picks a port and generates off the loop.
    """
    if isinstance(config, SandboxState):
        state = config
    else:
        base = config if config is not None else SandboxConfig()
        state = build_state(dataclasses.replace(base, **options) if options else base)
    # Multipart uploads are streamed (see upload.py); this cap only bounds url-encoded and JSON bodies.
    app = web.Application(client_max_size=32 * 1024 * 1024)
    app[STATE] = state
    # Every path, whatever it decodes to: `.` would not match a decoded newline (`a%0Ab`), and
    # aiohttp would answer such a request with its own text/plain 404 instead of Laravel's JSON.
    app.router.add_route("*", r"/{tail:[\s\S]*}", dispatch)
    return app


def build_state(config: SandboxConfig, store: Store | None = None) -> SandboxState:
    """Everything a sandbox application needs, built from ``config`` (generates the data)."""
    store = store if store is not None else Store(config)
    operations = load_description()
    missing = set(HANDLERS) - set(operations)
    if missing:
        raise RuntimeError(f"the API description lacks operations the sandbox serves: {sorted(missing)}")
    scopes = {s for op in operations.values() for s in op.scopes}
    tokens = TokenRegistry(
        all_scopes=scopes,
        user_id=store.me.id,
        origin=config.integration_slug,
        access_token_ttl=config.access_token_ttl,
        revoke_on_refresh=config.revoke_on_refresh,
    )
    codec = CursorCodec(hashlib.sha256(f"kanbert-sandbox-cursor:{config.seed}".encode()).digest())
    documents = (SortKey("created_at"),)
    listers = {
        "outgoingInvoices.index": Lister(
            "outgoingInvoices.index", document_target("outgoingInvoices.index", store), codec, documents
        ),
        "outgoingInvoiceMasters.index": Lister(
            "outgoingInvoiceMasters.index",
            document_target("outgoingInvoiceMasters.index", store),
            codec,
            documents,
        ),
        "outgoingInvoices.lineItems": Lister(
            "outgoingInvoices.lineItems", line_item_target(store), codec, (SortKey("order"),)
        ),
    }
    return SandboxState(
        config=config,
        store=store,
        tokens=tokens,
        counters=Counters(),
        faults=FaultInjector(config),
        throttles=(
            make_throttles(config.rate_limit, config.rate_limit_buckets, config.throttle, burst=config.burst)
            if config.rate_limit
            else None
        ),
        router=Router({k: v for k, v in operations.items() if k in HANDLERS}),
        codec=codec,
        listers=listers,
        closing=asyncio.Event(),
        token=tokens.issue(token=config.token).token,
    )
