"""Seeing what happens: one log line per attempt, hooks per attempt, what a call reports, and errors
that say how many attempts they took and how the rate limit stood — never a credential."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from kanbert_async import APIStatusError, Attempt, KanbertClient, NotFoundError
from kanbert_async._core.observe import path_values
from tests.core.transport.loopback import TOKEN, LoopbackServer, invoice_json, page_json

SHOW = "/api/v1/outgoing-invoices/{id}"


def _flaky_show(server: LoopbackServer, statuses: list[int]) -> None:
    answers = iter(statuses)

    async def show(request: web.Request) -> web.Response:
        status = next(answers, 200)
        headers = {
            "X-Request-Id": f"req-{len(server.hits)}",
            "X-RateLimit-Remaining": str(60 - len(server.hits)),
        }
        if status != 200:
            return web.json_response({"message": "nope"}, status=status, headers=headers)
        return web.json_response(invoice_json(request.match_info["id"]), headers=headers)

    server.route("GET", SHOW, show)


async def test_info_logs_one_line_per_attempt_with_template_values_status_time_request_id_and_budget(
    server: LoopbackServer, make_client: Callable[..., KanbertClient], caplog: pytest.LogCaptureFixture
) -> None:
    _flaky_show(server, [503])
    await server.start()
    kb = make_client(server.base_url)
    with caplog.at_level(logging.INFO, logger="kanbert_async"):
        await kb.outgoing_invoices.get("inv 7")
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert len(lines) == 2, lines
    assert lines[0].startswith("GET /outgoing-invoices/{id} id=inv 7 → 503 in ")
    assert "(outgoingInvoices.show, attempt 1, request id req-1, rate limit 59 left)" in lines[0]
    assert lines[1].startswith("GET /outgoing-invoices/{id} id=inv 7 → 200 in ")
    assert "attempt 2, request id req-2" in lines[1]
    assert all(isinstance(r.kanbert_attempt, Attempt) for r in caplog.records if r.levelno == logging.INFO)  # type: ignore[attr-defined]


async def test_debug_adds_query_and_headers_with_every_credential_redacted(
    server: LoopbackServer, make_client: Callable[..., KanbertClient], caplog: pytest.LogCaptureFixture
) -> None:
    _flaky_show(server, [])
    await server.start()
    kb = make_client(server.base_url, default_headers={"X-Api-Key": "key-secret-1"})
    with caplog.at_level(logging.DEBUG, logger="kanbert_async"):
        await kb.outgoing_invoices.get("inv_1", find_by="id", extra_query={"access_token": "qs-secret-2"})
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "'find_by': 'id'" in text and "'access_token': '<redacted>'" in text
    assert "'X-Api-Key': '<redacted>'" in text and "'Accept': 'application/json'" in text
    assert "X-RateLimit-Remaining" in text  # the response's headers, at debug
    for secret in (TOKEN, "key-secret-1", "qs-secret-2"):
        assert secret not in text


async def test_hooks_run_once_per_attempt_with_the_same_attempt_for_request_and_its_answer(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    _flaky_show(server, [502])
    await server.start()
    seen: list[tuple[str, int, int | None]] = []

    def on_request(attempt: Attempt) -> None:
        attempt.state["started"] = True
        seen.append(("request", attempt.number, attempt.status))
        assert attempt.headers.get("Authorization") in (None, "<redacted>")

    async def on_response(attempt: Attempt) -> None:
        assert attempt.state["started"] and attempt.elapsed is not None and attempt.elapsed >= 0
        assert attempt.path == "/outgoing-invoices/{id}" and attempt.path_params == {"id": "inv_1"}
        seen.append(("response", attempt.number, attempt.status))

    kb = make_client(server.base_url, event_hooks={"request": [on_request], "response": [on_response]})
    await kb.outgoing_invoices.get("inv_1")
    assert seen == [("request", 1, None), ("response", 1, 502), ("request", 2, None), ("response", 2, 200)]


async def test_the_error_hook_sees_a_request_that_got_no_answer(
    make_client: Callable[..., KanbertClient],
) -> None:
    from tests.core.transport.loopback import free_port

    errors: list[Attempt] = []
    kb = make_client(
        f"http://127.0.0.1:{free_port()}/api/v1",
        max_retries=0,
        retry=None,
        event_hooks={"error": [errors.append]},
    )
    with pytest.raises(Exception, match="could not reach"):
        await kb.outgoing_invoices.get("inv_1")
    assert len(errors) == 1 and errors[0].status is None and isinstance(errors[0].error, aiohttp.ClientError)


async def test_a_failing_hook_fails_the_call_and_releases_the_connection(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    _flaky_show(server, [])
    await server.start()

    def broken(attempt: Attempt) -> None:
        raise RuntimeError("metrics backend down")

    kb = make_client(server.base_url, event_hooks={"response": [broken]}, max_connections=1)
    for _ in range(2):  # a second call would hang if the first kept the only connection slot
        with pytest.raises(RuntimeError, match="metrics backend down"):
            await kb.outgoing_invoices.get("inv_1")


def test_unknown_hook_events_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown event"):
        KanbertClient("t", event_hooks={"responses": []})  # type: ignore[dict-item]


async def test_aiohttp_trace_configs_see_every_request(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    _flaky_show(server, [])
    await server.start()
    starts: list[str] = []

    async def on_start(session: Any, context: Any, params: aiohttp.TraceRequestStartParams) -> None:
        starts.append(str(params.url.path))

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_start)
    kb = make_client(server.base_url, trace_configs=[trace])
    await kb.outgoing_invoices.get("inv_1")
    assert starts == ["/api/v1/outgoing-invoices/inv_1"]


async def test_a_call_reports_status_request_id_time_and_retries_without_asking_for_a_raw_response(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    _flaky_show(server, [503, 500])
    await server.start()
    kb = make_client(server.base_url)
    assert kb.last_response is None
    await kb.outgoing_invoices.get("inv_1")
    info = kb.last_response
    assert info is not None
    assert (info.status, info.status_code, info.request_id, info.retries, info.attempts) == (
        200,
        200,
        "req-3",
        2,
        3,
    )
    assert info.elapsed > 0 and info.operation == "outgoingInvoices.show"


async def test_every_status_error_carries_attempts_status_code_and_the_rate_limit_it_met(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    _flaky_show(server, [503, 404])
    await server.start()
    kb = make_client(server.base_url)
    with pytest.raises(NotFoundError) as caught:
        await kb.outgoing_invoices.get("inv_1")
    error: APIStatusError = caught.value
    assert (error.status_code, error.attempts, error.request_id) == (404, 2, "req-2")
    assert error.rate_limit.remaining == 58


async def test_a_page_knows_its_response_and_walks_on_by_hand(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    async def index(request: web.Request) -> web.Response:
        cursor = request.query.get("page[cursor]")
        if cursor is None:
            return web.json_response(page_json([invoice_json("a")], "c2"), headers={"X-Request-Id": "p1"})
        return web.json_response(page_json([invoice_json("b")]), headers={"X-Request-Id": "p2"})

    server.route("GET", "/api/v1/outgoing-invoices", index)
    await server.start()
    kb = make_client(server.base_url)
    page = await kb.outgoing_invoices.list(page_size=1)
    assert [i.id for i in page.items] == ["a"] and page.request_id == "p1" and page.has_next_page()
    last = await page.next_page()
    assert [i.id for i in last.items] == ["b"] and last.request_id == "p2" and not last.has_next_page()
    assert server.hits[-1].query == {
        "page[size]": "1",
        "page[cursor]": "c2",
    }  # the listing's arguments carried on
    with pytest.raises(Exception, match="last page"):
        await last.next_page()


def test_path_values_read_a_template_back_from_a_path() -> None:
    assert path_values("/a/{x}/b/{y}", "/a/1%2F2/b/z") == {"x": "1/2", "y": "z"}
    assert path_values("/a/{x}", "/other") == {}


def test_KANBERT_LOG_turns_request_logging_on_in_a_fresh_process() -> None:
    code = (
        "import logging, kanbert_async;l=logging.getLogger('kanbert_async'); print(l.level, len(l.handlers))"
    )
    for value, level in (("info", logging.INFO), ("debug", logging.DEBUG)):
        out = subprocess.run(
            [sys.executable, "-c", code],
            env={"KANBERT_LOG": value},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert out.split() == [str(level), "1"]
    out = subprocess.run([sys.executable, "-c", code], env={}, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "0"]
