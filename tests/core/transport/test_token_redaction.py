"""No credential ever shows up in logs, errors or reprs — checked during runs where everything fails."""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from kanbert_async import KanbertClient, OAuth2, RequestOptions, RetryPolicy, TokenPair
from tests.core.transport.loopback import (
    LoopbackServer,
    drop_connection,
    free_port,
    invoice_fields_for_create,
    invoice_json,
)

TOKEN = "tok_SECRET_abc123"
REFRESH = "ref_SECRET_xyz789"
CLIENT_SECRET = "cs_SECRET_def456"
ROTATED_ACCESS = "tok_SECRET_rotated1"
ROTATED_REFRESH = "ref_SECRET_rotated1"
SECRETS = [TOKEN, REFRESH, CLIENT_SECRET, ROTATED_ACCESS, ROTATED_REFRESH]
FAILURES: list[Any] = [401, (429, {"Retry-After": "0"}), 500, 502, 503, "drop", 422, 404, 403, 400]


def _failing_api(server: LoopbackServer) -> None:
    """Every API route fails, in turn, in every way the transport handles."""
    counter = iter(range(10**6))

    async def fail(request: web.Request) -> web.StreamResponse:
        if request.can_read_body:
            await request.read()
        step = FAILURES[next(counter) % len(FAILURES)]
        if step == "drop":
            drop_connection(request)
            await asyncio.sleep(0.02)
            raise web.HTTPServiceUnavailable()
        status, headers = step if isinstance(step, tuple) else (step, {})
        body = {"message": f"failed with {status}", "errors": {"title": ["The title field is required."]}}
        # A generous advertised limit: the client's pacing after each 429 stays quick.
        headers = {"X-Request-Id": "req-1", "X-RateLimit-Limit": "600000", **headers}
        return web.json_response(body, status=status, headers=headers)

    server.route("*", "/api/v1/{tail:.*}", fail)


def _texts_of(error: BaseException) -> Iterable[str]:
    yield str(error)
    yield repr(error)
    yield repr(vars(error))
    yield "".join(traceback.format_exception(error))
    for arg in error.args:
        yield repr(arg)


def _assert_clean(texts: Iterable[str]) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} leaked into: {text[:400]}"


async def _exercise(kb: KanbertClient, tmp_path: Path) -> list[BaseException]:
    """Calls of every kind; returns the errors they raised."""
    errors: list[BaseException] = []

    async def capture(call: Any) -> None:
        try:
            await call
        except Exception as exc:
            errors.append(exc)

    for n in range(len(FAILURES) + 2):
        await capture(kb.outgoing_invoices.get(f"inv_{n}"))
    await capture(kb.outgoing_invoices.list(page_size=5).to_list())
    await capture(kb.outgoing_invoices.download_pdf("inv_1").save(tmp_path / "a.pdf"))
    await capture(kb.outgoing_invoices.download_pdf("inv_1").read())
    for external_id in (None, "X"):
        await capture(
            kb.outgoing_invoices.create_external(
                **invoice_fields_for_create(), external_id=external_id, file=b"%PDF", options=RequestOptions()
            )
        )
    return errors


async def test_a_bearer_token_appears_in_no_log_error_or_repr_while_everything_fails(
    server: LoopbackServer,
    make_client: Callable[..., KanbertClient],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    _failing_api(server)
    await server.start()
    kb = make_client(server.base_url, token=TOKEN, retry=RetryPolicy(max_retries=2, backoff_base=0.001))
    unreachable = make_client(f"http://127.0.0.1:{free_port()}/api/v1", token=TOKEN)

    errors = await _exercise(kb, tmp_path)
    errors += await _exercise(unreachable, tmp_path)

    assert len(errors) > 20
    assert any(r.name == "kanbert_async" for r in caplog.records)
    for error in errors:
        _assert_clean(_texts_of(error))
    _assert_clean([caplog.text, *(repr(r.args) for r in caplog.records)])
    _assert_clean([repr(kb), str(kb), repr(kb._transport.auth), repr(kb.stats), repr(kb.outgoing_invoices)])


async def test_a_failing_call_keeps_the_token_out_of_traceback_locals(
    server: LoopbackServer, make_client: Callable[..., KanbertClient], tmp_path: Path
) -> None:
    # Error trackers (Sentry and the like) record each frame's locals with their reprs.
    _failing_api(server)
    await server.start()
    kb = make_client(server.base_url, token=TOKEN, retry=RetryPolicy(max_retries=2, backoff_base=0.001))

    errors = await _exercise(kb, tmp_path)

    assert errors
    for error in errors:
        formatted = traceback.TracebackException.from_exception(error, capture_locals=True).format()
        _assert_clean(["".join(formatted)])


class _OAuthApi:
    """Rejects every access token; the token endpoint refuses, or rotates and the API still fails."""

    def __init__(self, server: LoopbackServer, *, refuse: bool) -> None:
        self.refuse = refuse
        self.refreshes = 0
        server.route("POST", "/oauth/token", self.token)
        _failing_api(server)

    async def token(self, request: web.Request) -> web.Response:
        self.refreshes += 1
        await request.post()
        if self.refuse:
            # A careless server that echoes what it was sent: the SDK must not repeat it.
            return web.json_response(
                {"error": "invalid_grant", "error_description": f"refresh token {REFRESH} was revoked"},
                status=400,
            )
        return web.json_response(
            {"access_token": ROTATED_ACCESS, "refresh_token": ROTATED_REFRESH, "expires_in": 3600}
        )


@pytest.mark.parametrize("refuse", [True, False], ids=["refresh refused", "refresh rotates"])
async def test_oauth_tokens_and_the_client_secret_appear_in_no_log_error_or_repr(
    refuse: bool,
    server: LoopbackServer,
    make_client: Callable[..., KanbertClient],
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)
    api = _OAuthApi(server, refuse=refuse)
    await server.start()
    saved: list[TokenPair] = []
    auth = OAuth2(
        client_id="my-app",
        client_secret=CLIENT_SECRET,
        access_token=TOKEN,
        refresh_token=REFRESH,
        token_url=f"http://127.0.0.1:{server.port}/oauth/token",
        on_token=saved.append,
    )
    kb = make_client(server.base_url, auth=auth, retry=RetryPolicy(max_retries=2, backoff_base=0.001))

    errors = await _exercise(kb, tmp_path)

    assert api.refreshes >= 1
    assert errors
    for error in errors:
        _assert_clean(_texts_of(error))
    _assert_clean([caplog.text, *(repr(r.args) for r in caplog.records)])
    _assert_clean([repr(kb), repr(auth), str(auth), repr(auth.tokens), *(repr(t) for t in saved)])
    if not refuse:
        assert saved and saved[0].access_token.get() == ROTATED_ACCESS  # the secret is there, just not shown


async def test_a_request_still_carries_the_real_token(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    # The redaction is of what is shown, never of what is sent.
    async def show(request: web.Request) -> web.Response:
        return web.json_response(invoice_json())

    server.route("GET", "/api/v1/outgoing-invoices/{id}", show)
    await server.start()
    kb = make_client(server.base_url, token=TOKEN)

    await kb.outgoing_invoices.get("inv_1")

    assert server.hits[0].headers["Authorization"] == f"Bearer {TOKEN}"
