"""One 429 cools the whole client down: concurrent calls wait once, together, for the server's wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from aiohttp import web

from kanbert_async import KanbertClient, RateLimitError
from tests.core.transport.loopback import LoopbackServer, invoice_json

SHOW = "/api/v1/outgoing-invoices/{id}"
# Laravel's throttle headers on every answer: a generous limit, so pacing after the 429 is quick.
THROTTLE = {"X-RateLimit-Limit": "6000", "X-RateLimit-Remaining": "5000"}
COOLDOWN = 1.0
# Loopback scheduling slack: a request the client sent before it could know of the 429.
SLACK = 0.05
# A pace of our own: the client sends concurrent calls at once (a cold client that knows nothing of
# the server would start slowly), so a whole wave of them can meet one 429 together.
KNOWN_RATE = "1000/s"


class ThrottlingServer:
    """Answers 429 (Retry-After: 1) while a cooldown runs, 200 otherwise; records 429 send times."""

    def __init__(self, server: LoopbackServer, *, first_wave: int = 1) -> None:
        self.server = server
        self.first_wave = first_wave
        self.cooldown_until = 0.0
        self.sent_429: list[float] = []
        self.arrived = 0
        self.wave_complete = asyncio.Event()
        server.route("GET", SHOW, self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        self.arrived += 1
        if self.arrived <= self.first_wave:
            # Hold the first wave until all of it has arrived, so every one of them was sent before
            # the client could know of any 429.
            if self.arrived == self.first_wave:
                self.wave_complete.set()
            await asyncio.wait_for(self.wave_complete.wait(), 5)
            if not self.sent_429:
                self.cooldown_until = time.monotonic() + COOLDOWN
            return self.too_many()
        if time.monotonic() < self.cooldown_until:
            return self.too_many()
        return web.json_response(invoice_json(request.match_info["id"]), headers=THROTTLE)

    def too_many(self) -> web.Response:
        self.sent_429.append(time.monotonic())
        return web.json_response(
            {"message": "Too Many Attempts."}, status=429, headers={"Retry-After": "1", **THROTTLE}
        )


async def test_after_a_429_no_new_request_reaches_the_server_until_the_cooldown_has_passed(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    throttle = ThrottlingServer(server, first_wave=1)
    await server.start()
    kb = make_client(server.base_url, rate_limit=KNOWN_RATE)

    async def call(n: int) -> str:
        # The first call goes at once and meets the 429; the other 19 start after it came back.
        if n:
            await asyncio.sleep(0.05 + n * 0.01)
        return (await kb.outgoing_invoices.get(f"inv_{n}")).id

    ids = await asyncio.gather(*(call(n) for n in range(20)))

    assert ids == [f"inv_{n}" for n in range(20)]
    first_429 = throttle.sent_429[0]
    later = [hit.at for hit in server.hits[1:]]
    assert len(later) == 20  # 19 first tries and one retry: nothing was sent into the cooldown
    assert min(later) >= first_429 + COOLDOWN - SLACK
    assert throttle.sent_429 == [first_429]
    assert kb.stats.rate_limited == 1


async def test_twenty_calls_that_all_meet_a_429_wait_one_shared_cooldown_and_all_succeed(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    throttle = ThrottlingServer(server, first_wave=20)
    await server.start()
    kb = make_client(server.base_url, rate_limit=KNOWN_RATE)

    started = time.monotonic()
    ids = await asyncio.gather(*(kb.outgoing_invoices.get(f"inv_{n}") for n in range(20)))
    elapsed = time.monotonic() - started

    assert sorted(invoice.id for invoice in ids) == sorted(f"inv_{n}" for n in range(20))
    assert len(throttle.sent_429) == 20
    last_429 = max(throttle.sent_429)
    retries = [hit.at for hit in server.hits[20:]]
    # Exactly one retry per call, none before the cooldown, and no second 429: one cooldown.
    assert len(retries) == 20
    assert min(retries) >= min(throttle.sent_429) + COOLDOWN - SLACK
    assert all(at > last_429 for at in retries)
    assert elapsed < COOLDOWN + 2.0
    assert kb.stats.rate_limited == 20


async def test_calls_queued_for_a_pooled_connection_also_wait_out_the_cooldown(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    # More calls than connections: most wait for a free connection. A call that passed the gate
    # before the 429 must not go out into the cooldown just because a connection came free.
    sent_429: list[float] = []
    cooldown_until = 0.0

    async def handle(request: web.Request) -> web.Response:
        nonlocal cooldown_until
        if not sent_429 or time.monotonic() < cooldown_until:
            if not sent_429:
                cooldown_until = time.monotonic() + COOLDOWN
            sent_429.append(time.monotonic())
            return web.json_response(
                {"message": "Too Many"}, status=429, headers={"Retry-After": "1", **THROTTLE}
            )
        await asyncio.sleep(0.02)
        return web.json_response(invoice_json(), headers=THROTTLE)

    server.route("GET", SHOW, handle)
    await server.start()
    kb = make_client(server.base_url, max_connections=2, rate_limit=KNOWN_RATE)

    await asyncio.gather(*(kb.outgoing_invoices.get(f"inv_{n}") for n in range(20)))

    first_429 = sent_429[0]
    # At most the other pooled connection's request was in flight when the 429 was sent.
    into_cooldown = [
        hit.at for hit in server.hits if first_429 + SLACK < hit.at < first_429 + COOLDOWN - SLACK
    ]
    assert into_cooldown == []
    assert len(sent_429) <= 2


async def test_a_call_that_cannot_wait_out_a_long_cooldown_fails_at_once_saying_so(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    async def throttled(request: web.Request) -> web.Response:
        return web.json_response(
            {"message": "Too Many Attempts."}, status=429, headers={"Retry-After": "600"}
        )

    server.route("GET", SHOW, throttled)
    await server.start()
    kb = make_client(server.base_url, rate_limit=KNOWN_RATE)
    with pytest.raises(RateLimitError) as first:
        await kb.outgoing_invoices.get("a")
    assert first.value.retry_after == pytest.approx(600, abs=1)
    started = time.monotonic()
    with pytest.raises(RateLimitError, match="held back by the rate limit") as second:
        await kb.outgoing_invoices.get("b")
    assert time.monotonic() - started < 0.5
    assert second.value.retry_after is not None and second.value.retry_after > 590
    assert server.count("GET") == 1
