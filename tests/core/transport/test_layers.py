"""The transport's layers as contracts: the limiter hears about each request exactly once, and every
kind of call — JSON, a 401 refresh, a saved download — goes through the one retry layer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from kanbert_async import APIConnectionError, KanbertClient, RetryPolicy
from kanbert_async._core.ratelimit import BucketRouter, RateLimiter, Ticket
from tests.core.transport.loopback import LoopbackServer, invoice_json

SHOW = "/api/v1/outgoing-invoices/{id}"


class RecordingLimiter(RateLimiter):
    """The real limiter, with a log of what the transport told it."""

    def __init__(self) -> None:
        super().__init__(1000.0)  # a pace of our own: no slow start in the way of the assertions
        self.events: list[str] = []

    async def acquire(self) -> Ticket:
        ticket = await super().acquire()
        self.events.append(f"acquire {ticket.number}")
        return ticket

    def observe(self, ticket: Ticket, status: int, headers: Mapping[str, str]) -> None:
        self.events.append(f"observe {ticket.number} {status}")
        super().observe(ticket, status, headers)

    def release(self, ticket: Ticket, *, sent: bool = True) -> None:
        self.events.append(f"release {ticket.number}{'' if sent else ' unsent'}")
        super().release(ticket, sent=sent)


def _recording(kb: KanbertClient) -> RecordingLimiter:
    limiter = RecordingLimiter()
    kb._transport.limiter = BucketRouter(lambda bucket: limiter)
    return limiter


async def test_each_attempt_is_admitted_once_and_each_answer_observed_once_through_retries_and_a_refresh(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    answers = iter(
        [
            web.json_response({"message": "Unauthenticated."}, status=401),
            web.json_response({"message": "Too Many Attempts."}, status=429, headers={"Retry-After": "0"}),
            web.json_response({"message": "Service Unavailable"}, status=503),
        ]
    )

    async def show(request: web.Request) -> web.Response:
        return next(answers, None) or web.json_response(invoice_json("inv_1"))

    server.route("GET", SHOW, show)
    await server.start()
    tokens = iter(["one", "two"])
    kb = make_client(server.base_url, token=None, auth=_Rotating(tokens))
    limiter = _recording(kb)

    await kb.outgoing_invoices.get("inv_1")

    assert server.count("GET") == 4
    # The 401 refresh, the 429 and the 503 are each a request of their own, paced and observed.
    assert limiter.events == [
        "acquire 1",
        "observe 1 401",
        "acquire 2",
        "observe 2 429",
        "acquire 3",
        "observe 3 503",
        "acquire 4",
        "observe 4 200",
    ]


async def test_an_attempt_that_gets_no_answer_is_released_unsent_when_it_never_connected(
    make_client: Callable[..., KanbertClient],
) -> None:
    kb = make_client("http://127.0.0.1:9/api/v1", retry=RetryPolicy(max_retries=1, backoff_base=0.01))
    limiter = _recording(kb)

    with pytest.raises(APIConnectionError):
        await kb.outgoing_invoices.get("inv_1")

    assert limiter.events == ["acquire 1", "release 1 unsent", "acquire 2", "release 2 unsent"]


async def test_a_save_that_breaks_off_obeys_the_same_deadline_as_any_other_call(
    server: LoopbackServer, make_client: Callable[..., KanbertClient], tmp_path: Path
) -> None:
    async def broken_pdf(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/pdf"})
        response.content_length = 1 << 20
        await response.prepare(request)
        await response.write(b"%PDF-" + bytes(1000))
        assert request.transport is not None
        request.transport.close()
        return response

    server.route("GET", "/api/v1/outgoing-invoices/{id}/pdf", broken_pdf)
    await server.start()
    # A backoff of 10 s would pass the 2 s deadline: the call gives up at once instead of sleeping.
    policy = RetryPolicy(max_retries=5, backoff_base=10.0, jitter=0.0, deadline=2.0)
    kb = make_client(server.base_url, retry=policy)

    started = time.monotonic()
    with pytest.raises(APIConnectionError, match="broke off mid-body"):
        await kb.outgoing_invoices.download_pdf("inv_1").save(tmp_path / "invoice.pdf")

    assert time.monotonic() - started < 1.5
    assert server.count("GET") == 1
    assert list(tmp_path.iterdir()) == []


class _Rotating:
    """A bearer token that changes once the server refuses the current one."""

    def __init__(self, tokens: Any) -> None:
        self._tokens = tokens
        self._current = next(tokens)

    async def authorize(self, http: Any) -> str:
        await asyncio.sleep(0)
        return f"Bearer {self._current}"

    async def on_unauthorized(self, http: Any, sent_authorization: str) -> bool:
        self._current = next(self._tokens)
        return True
