"""Tiny loopback servers for the transport tests: real aiohttp on 127.0.0.1, with counters.

Every server records each request it sees (method, raw path, arrival time, headers, body) before
the handler runs, so a test can assert what reached the wire and when — not what the client
believes it sent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from multidict import CIMultiDictProxy

TOKEN = "tok_test_0123"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Hit:
    """One request as the server saw it."""

    method: str
    raw_path: str
    path: str
    at: float
    headers: CIMultiDictProxy[str]
    form: dict[str, Any] = field(default_factory=dict)

    @property
    def query(self) -> dict[str, str]:
        from urllib.parse import parse_qsl, urlsplit

        return dict(parse_qsl(urlsplit(self.raw_path).query, keep_blank_values=True))


# A typed key where aiohttp has them (3.12+); the lowest aiohttp allowed (make test-lowest) takes a string.
HIT: Any = web.RequestKey("hit", Hit) if hasattr(web, "RequestKey") else "hit"


class LoopbackServer:
    """An aiohttp.web server on an ephemeral loopback port."""

    def __init__(self) -> None:
        self.app = web.Application(middlewares=[self._record], client_max_size=64 * 2**20)
        self.hits: list[Hit] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @web.middleware
    async def _record(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        hit = Hit(request.method, request.raw_path, request.path, time.monotonic(), request.headers)
        self.hits.append(hit)
        request[HIT] = hit
        return await handler(request)

    def route(self, method: str, path: str, handler: Handler) -> None:
        self.app.router.add_route(method, path, handler)

    async def start(self, port: int = 0) -> None:
        self._runner = web.AppRunner(
            self.app, access_log=None, handler_cancellation=True, shutdown_timeout=0.2
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    def count(self, method: str | None = None, path_prefix: str = "") -> int:
        return sum(
            1
            for hit in self.hits
            if (method is None or hit.method == method) and hit.path.startswith("/api/v1" + path_prefix)
        )


def drop_connection(request: web.Request) -> None:
    """Close the connection with a TCP reset, without an answer (a crash, a proxy timeout)."""
    transport = request.transport
    assert transport is not None
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def dropped(request: web.Request) -> web.StreamResponse:
    """Respond to nothing: the connection is gone, so this response is never written."""
    drop_connection(request)
    await asyncio.sleep(0)
    raise web.HTTPServiceUnavailable()


def free_port() -> int:
    """A loopback port nobody listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def invoice_json(
    id: str = "inv_1", *, external_id: str | None = None, title: Any = "Consulting", **changes: Any
) -> dict[str, Any]:
    """A minimal OutgoingInvoiceData as the API sends it."""
    data: dict[str, Any] = {
        "id": id,
        "external_id": external_id,
        "external_origin": None,
        "master_invoice_id": None,
        "invoice_number": "RE-1",
        "title": title,
        "status": "booked",
        "payment_status": "open",
        "is_credit": False,
        "date_of_invoice": "2024-05-01T00:00:00Z",
        "payment_due_date": "2024-05-31T00:00:00Z",
        "payment_due_date_org": "2024-05-31T00:00:00Z",
        "performance_range_start": None,
        "performance_range_end": None,
        "po_number": None,
        "reference": None,
        "locale": "de",
        "currency": "EUR",
        "address": "Somewhere 1",
        "address_changed": False,
        "company": None,
        "editor": None,
        "client": {
            "id": "cl_1",
            "external_id": None,
            "external_origin": None,
            "name": "ACME",
            "shortcode": None,
            "primary_contact": None,
            "origin_space": None,
        },
        "project": None,
        "taxation_enabled": True,
        "sum_net": 100.0,
        "sum_tax": 19.0,
        "sum_gross": 119.0,
        "sum_external_costs": 0.0,
        "partial_indent": None,
        "partial_factor": None,
        "payment_discount_due_date": None,
        "payment_discount": None,
        "created_at": "2024-05-01T00:00:00Z",
        "updated_at": None,
        "deleted_at": None,
    }
    data.update(changes)
    return data


def page_json(items: list[dict[str, Any]], next_cursor: str | None = None) -> dict[str, Any]:
    return {
        "data": items,
        "links": [],
        "meta": {
            "path": "/api/v1/outgoing-invoices",
            "per_page": len(items),
            "next_cursor": next_cursor,
            "next_cursor_url": None,
            "prev_cursor": None,
            "prev_cursor_url": None,
        },
    }


def invoice_fields_for_create() -> dict[str, Any]:
    """The required arguments of ``create_external``."""
    when = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    return {
        "client_id": "cl_1",
        "title": "Consulting May",
        "status": "booked",
        "invoice_number": "EXT-1",
        "date_of_invoice": when,
        "performance_range_start": when,
        "performance_range_end": when + dt.timedelta(days=30),
        "payment_due_date": when + dt.timedelta(days=14),
        "currency": "EUR",
        "sum_net": 200.0,
    }
