"""The retry loop against a real loopback server: what is resent, when, and what is logged."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

import pytest
from aiohttp import web

from kanbert_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InternalServerError,
    KanbertClient,
    RateLimitError,
    RequestOptions,
    RetryPolicy,
    Timeout,
)
from tests.core.transport.loopback import (
    LoopbackServer,
    drop_connection,
    free_port,
    invoice_fields_for_create,
    invoice_json,
)

SHOW = "/api/v1/outgoing-invoices/{id}"
CREATE = "/api/v1/outgoing-invoices/external"


def _scripted(server: LoopbackServer, method: str, path: str, script: list[Any]) -> None:
    """Answer each request with the next scripted step; after the script, 200 with an invoice.

    A step is a status code, ``(status, headers)``, or ``"drop"`` (close the connection unanswered).
    """
    steps = list(script)

    async def handler(request: web.Request) -> web.StreamResponse:
        step = steps.pop(0) if steps else 200
        if step == "drop":
            if request.can_read_body:
                await request.read()
            drop_connection(request)
            await asyncio.sleep(0.05)
            raise web.HTTPServiceUnavailable()
        status, headers = step if isinstance(step, tuple) else (step, {})
        if status == 200:
            return web.json_response(invoice_json(), headers=headers)
        return web.json_response({"message": f"status {status}"}, status=status, headers=headers)

    server.route(method, path, handler)


# -- dropped connections ------------------------------------------------------------------------


async def test_a_get_is_retried_after_the_server_drops_the_connection(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    _scripted(server, "GET", SHOW, ["drop", "drop", "drop"])
    await server.start()
    kb = make_client(server.base_url)

    invoice = await kb.outgoing_invoices.get("inv_1")

    assert invoice.id == "inv_1"
    assert server.count("GET") == 4


async def test_a_get_whose_connection_keeps_dropping_raises_api_connection_error_after_the_budget(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    _scripted(server, "GET", SHOW, ["drop"] * 20)
    await server.start()
    kb = make_client(server.base_url, retry=RetryPolicy(max_retries=2, backoff_base=0.01))

    with pytest.raises(APIConnectionError) as caught:
        await kb.outgoing_invoices.get("inv_1")

    assert "lost the connection before the response arrived" in str(caught.value)
    assert "3 attempts" in str(caught.value)
    # aiohttp itself resends an idempotent request once on a dropped keep-alive connection, so the
    # server may see up to twice the SDK's attempts; never fewer.
    assert 3 <= server.count("GET") <= 6


async def test_a_post_whose_connection_drops_is_not_resent_and_says_the_outcome_is_unknown(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    _scripted(server, "POST", CREATE, ["drop"])
    await server.start()
    kb = make_client(server.base_url)

    with pytest.raises(APIConnectionError) as caught:
        await kb.outgoing_invoices.create_external(
            **invoice_fields_for_create(), file_url="https://x.example/a.pdf"
        )

    assert server.count("POST") == 1
    text = str(caught.value)
    assert "may or may not have acted on it" in text
    assert "pass external_id" in text


async def test_a_post_is_resent_when_it_provably_never_reached_the_server(
    server: LoopbackServer, make_client: Callable[..., KanbertClient], caplog: pytest.LogCaptureFixture
) -> None:
    # Nothing listens at first: the connection is refused. The server comes up after the first retry.
    caplog.set_level(logging.WARNING, logger="kanbert_async")
    port = free_port()
    _scripted(server, "POST", CREATE, [])
    kb = make_client(
        f"http://127.0.0.1:{port}/api/v1", retry=RetryPolicy(max_retries=5, backoff_base=0.2, jitter=0.0)
    )

    first_retry = asyncio.Event()

    class OnRetry(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "retrying POST" in record.getMessage():
                first_retry.set()

    handler = OnRetry()
    logging.getLogger("kanbert_async").addHandler(handler)

    async def start_after_first_retry() -> None:
        await first_retry.wait()
        await server.start(port)

    starter = asyncio.create_task(start_after_first_retry())
    try:
        invoice = await kb.outgoing_invoices.create_external(
            **invoice_fields_for_create(), file_url="https://x/a.pdf"
        )
        await starter
    finally:
        logging.getLogger("kanbert_async").removeHandler(handler)

    assert invoice.id == "inv_1"
    assert server.count("POST") == 1
    assert any("connection failed" in r.getMessage() for r in caplog.records)


async def test_an_unreachable_server_raises_api_connection_error_that_says_what_to_check(
    make_client: Callable[..., KanbertClient],
) -> None:
    kb = make_client(
        f"http://127.0.0.1:{free_port()}/api/v1", retry=RetryPolicy(max_retries=1, backoff_base=0.01)
    )

    with pytest.raises(APIConnectionError) as caught:
        await kb.outgoing_invoices.get("inv_1")

    text = str(caught.value)
    assert text.startswith("outgoingInvoices.show: GET http://127.0.0.1:")
    assert "could not reach the server" in text
    assert "2 attempts" in text
    assert "KANBERT_BASE_URL" in text


# -- statuses -----------------------------------------------------------------------------------


async def test_a_500_is_retried_for_a_get(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    _scripted(server, "GET", SHOW, [500, 500])
    await server.start()
    kb = make_client(server.base_url)

    assert (await kb.outgoing_invoices.get("inv_1")).id == "inv_1"
    assert server.count("GET") == 3


async def test_a_500_is_not_retried_for_a_post(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    _scripted(server, "POST", CREATE, [500])
    await server.start()
    kb = make_client(server.base_url)

    with pytest.raises(InternalServerError):
        await kb.outgoing_invoices.create_external(**invoice_fields_for_create(), file_url="https://x/a.pdf")
    assert server.count("POST") == 1


@pytest.mark.parametrize("status", [408, 502, 503, 504])
async def test_transient_statuses_are_retried_for_a_get(
    status: int, server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    _scripted(server, "GET", SHOW, [status, status])
    await server.start()
    kb = make_client(server.base_url)

    assert (await kb.outgoing_invoices.get("inv_1")).id == "inv_1"
    assert server.count("GET") == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
async def test_client_errors_are_never_retried(
    status: int, server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    _scripted(server, "GET", SHOW, [status])
    await server.start()
    kb = make_client(server.base_url)

    with pytest.raises(APIStatusError):
        await kb.outgoing_invoices.get("inv_1")
    assert server.count("GET") == 1


async def test_a_status_that_keeps_failing_raises_after_max_retries(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    _scripted(server, "GET", SHOW, [503] * 10)
    await server.start()
    kb = make_client(server.base_url)

    with pytest.raises(InternalServerError):
        await kb.outgoing_invoices.get("inv_1")
    assert server.count("GET") == 4


# -- server-requested waits ---------------------------------------------------------------------


async def test_retry_after_in_seconds_is_waited_before_the_retry(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    _scripted(server, "GET", SHOW, [(503, {"Retry-After": "1"})])
    await server.start()
    kb = make_client(server.base_url)

    await kb.outgoing_invoices.get("inv_1")

    first, second = server.hits
    assert second.at - first.at >= 0.95


async def test_retry_after_as_an_http_date_is_waited_until_that_moment(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    async def handler(request: web.Request) -> web.Response:
        if len(server.hits) == 1:
            # HTTP-dates have whole seconds: this one lies 0.5 to 1.5 s ahead.
            when = formatdate(time.time() + 1.5, usegmt=True)
            return web.json_response({"message": "maintenance"}, status=503, headers={"Retry-After": when})
        return web.json_response(invoice_json())

    server.route("GET", SHOW, handler)
    await server.start()
    kb = make_client(server.base_url)

    await kb.outgoing_invoices.get("inv_1")

    first, second = server.hits
    assert 0.4 <= second.at - first.at <= 2.0


async def test_a_503_whose_wait_exceeds_max_retry_after_surfaces_at_once_with_the_wait_attached(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    _scripted(server, "GET", SHOW, [(503, {"Retry-After": "3600"})])
    await server.start()
    kb = make_client(server.base_url, retry=RetryPolicy(max_retry_after=10, backoff_base=0.01))

    started = time.monotonic()
    with pytest.raises(InternalServerError) as caught:
        await kb.outgoing_invoices.get("inv_1")

    assert time.monotonic() - started < 1.0
    assert caught.value.retry_after == 3600.0
    assert "asked to wait 3600.0s" in str(caught.value)
    assert server.count("GET") == 1


async def test_a_429_whose_wait_exceeds_max_retry_after_surfaces_at_once_with_the_wait_attached(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    _scripted(server, "GET", SHOW, [(429, {"Retry-After": "600"})])
    await server.start()
    kb = make_client(server.base_url, retry=RetryPolicy(max_retry_after=10, backoff_base=0.01))

    started = time.monotonic()
    with pytest.raises(RateLimitError) as caught:
        await kb.outgoing_invoices.get("inv_1")

    assert time.monotonic() - started < 1.0
    assert caught.value.retry_after == 600.0
    assert server.count("GET") == 1


# -- per-call options ---------------------------------------------------------------------------


async def test_request_options_max_retries_0_makes_a_single_attempt(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    _scripted(server, "GET", SHOW, [503, 503])
    await server.start()
    kb = make_client(server.base_url)

    with pytest.raises(InternalServerError):
        await kb.outgoing_invoices.get("inv_1", options=RequestOptions(max_retries=0))
    assert server.count("GET") == 1


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return web.json_response(invoice_json())


async def test_request_options_timeout_bounds_each_attempt(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    server.route("GET", SHOW, _slow)
    await server.start()
    kb = make_client(server.base_url)

    started = time.monotonic()
    with pytest.raises(APITimeoutError) as caught:
        await kb.outgoing_invoices.get("inv_1", options=RequestOptions(timeout=0.2, max_retries=1))

    assert time.monotonic() - started < 1.5
    assert server.count("GET") == 2
    assert "timed out" in str(caught.value)


async def test_the_client_timeout_applies_when_no_per_call_timeout_is_given(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    server.route("GET", SHOW, _slow)
    await server.start()
    kb = make_client(server.base_url, timeout=Timeout(total=0.2), retry=RetryPolicy(max_retries=0))

    started = time.monotonic()
    with pytest.raises(APITimeoutError):
        await kb.outgoing_invoices.get("inv_1")
    assert time.monotonic() - started < 1.0


async def test_a_timed_out_post_is_not_resent(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    server.route("POST", CREATE, _slow)
    await server.start()
    kb = make_client(server.base_url)

    with pytest.raises(APITimeoutError):
        await kb.outgoing_invoices.create_external(
            **invoice_fields_for_create(), file_url="https://x/a.pdf", options=RequestOptions(timeout=0.2)
        )
    assert server.count("POST") == 1


async def test_request_options_deadline_stops_retrying_when_the_next_wait_would_pass_it(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    _scripted(server, "GET", SHOW, [(503, {"Retry-After": "2"})])
    await server.start()
    kb = make_client(server.base_url)

    started = time.monotonic()
    with pytest.raises(InternalServerError):
        await kb.outgoing_invoices.get("inv_1", options=RequestOptions(deadline=1.0))
    assert time.monotonic() - started < 1.0
    assert server.count("GET") == 1


# -- logging --------------------------------------------------------------------------------------


async def test_each_retry_is_logged_with_method_path_attempt_wait_and_reason(
    server: LoopbackServer, make_client: Callable[..., KanbertClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Two drops: aiohttp itself silently resends a GET once on a dropped connection.
    _scripted(server, "GET", SHOW, [503, (429, {"Retry-After": "0.2"}), "drop", "drop"])
    await server.start()
    kb = make_client(server.base_url, retry=RetryPolicy(max_retries=3, backoff_base=0.01, jitter=0.0))

    await kb.outgoing_invoices.get("inv_1")

    retries = [r for r in caplog.records if r.name == "kanbert_async" and "retrying" in r.getMessage()]
    assert [r.levelno for r in retries] == [logging.WARNING] * 3
    messages = [r.getMessage() for r in retries]
    assert messages[0] == "retrying GET /outgoing-invoices/{id} (attempt 1 of 3, waiting 0.01s): HTTP 503"
    assert messages[1] == (
        "retrying GET /outgoing-invoices/{id} (attempt 2 of 3, waiting 0.20s): HTTP 429, server asked 0.2s"
    )
    assert (
        messages[2] == "retrying GET /outgoing-invoices/{id} (attempt 3 of 3, waiting 0.04s): connection lost"
    )
    assert kb.stats.retries == 3
