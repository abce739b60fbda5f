"""OAuth2 refreshes ahead of expiry and once after a 401, single-flight, and never shows a token."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from kanbert_async._core.errors import AuthenticationError
from kanbert_async.auth import (
    OAuth2,
    Secret,
    TokenPair,
)
from tests.core.auth_fixtures import (
    ACCESS,
    CLIENT_SECRET,
    NEW_ACCESS,
    NEW_REFRESH,
    NOW,
    REFRESH,
    Clock,
    FakeTokenEndpoint,
    assert_no_secret,
    expired_oauth,
)

# --- OAuth2: refreshing --------------------------------------------------------------------------


async def test_valid_token_is_used_without_refreshing() -> None:
    http = FakeTokenEndpoint()
    auth = OAuth2(
        client_id="my-app", access_token=ACCESS, refresh_token=REFRESH, expires_at=NOW + 3600, clock=Clock()
    )
    assert await auth.authorize(http) == f"Bearer {ACCESS}"
    assert http.calls == []


async def test_expired_token_is_refreshed_with_a_refresh_token_grant() -> None:
    http = FakeTokenEndpoint()
    auth = expired_oauth()
    assert await auth.authorize(http) == f"Bearer {NEW_ACCESS}-1"
    assert http.calls == [
        (
            "https://api.kanbert.com/oauth/token",
            {
                "grant_type": "refresh_token",
                "refresh_token": REFRESH,
                "client_id": "my-app",
                "client_secret": CLIENT_SECRET,
            },
        )
    ]
    assert auth.expires_at == NOW + 3600


async def test_public_clients_send_no_client_secret() -> None:
    http = FakeTokenEndpoint()
    await expired_oauth(client_secret=None).authorize(http)
    assert "client_secret" not in http.calls[0][1]


async def test_token_is_refreshed_ahead_of_expiry_within_the_margin() -> None:
    http = FakeTokenEndpoint()
    clock = Clock()
    auth = OAuth2(
        client_id="my-app",
        access_token=ACCESS,
        refresh_token=REFRESH,
        expires_at=NOW + 100,
        refresh_margin=60,
        clock=clock,
    )
    await auth.authorize(http)
    assert len(http.calls) == 0
    clock.now = NOW + 41
    await auth.authorize(http)
    assert len(http.calls) == 1


async def test_only_a_refresh_token_means_refreshing_before_the_first_request() -> None:
    http = FakeTokenEndpoint()
    auth = OAuth2(client_id="my-app", refresh_token=REFRESH, clock=Clock())
    assert await auth.authorize(http) == f"Bearer {NEW_ACCESS}-1"


async def test_expired_token_without_refresh_token_is_sent_and_left_to_the_server() -> None:
    http = FakeTokenEndpoint()
    auth = OAuth2(client_id="my-app", access_token=ACCESS, expires_at=NOW - 10, clock=Clock())
    assert await auth.authorize(http) == f"Bearer {ACCESS}"
    assert await auth.on_unauthorized(http, f"Bearer {ACCESS}") is False
    assert http.calls == []


def test_oauth2_needs_some_token() -> None:
    with pytest.raises(ValueError):
        OAuth2(client_id="my-app")


async def test_fifty_concurrent_authorize_calls_on_an_expired_token_refresh_once() -> None:
    http = FakeTokenEndpoint(delay=0.05)
    auth = expired_oauth()
    headers: list[str] = []

    async def call() -> None:
        headers.append(await auth.authorize(http))

    async with asyncio.TaskGroup() as tg:
        for _ in range(50):
            tg.create_task(call())
    assert len(http.calls) == 1
    assert headers == [f"Bearer {NEW_ACCESS}-1"] * 50


async def test_fifty_concurrent_401s_with_the_same_token_refresh_once() -> None:
    http = FakeTokenEndpoint(delay=0.05)
    auth = OAuth2(
        client_id="my-app", access_token=ACCESS, refresh_token=REFRESH, expires_at=NOW + 3600, clock=Clock()
    )
    sent = await auth.authorize(http)
    answers: list[bool] = []

    async def got_401() -> None:
        answers.append(await auth.on_unauthorized(http, sent))

    async with asyncio.TaskGroup() as tg:
        for _ in range(50):
            tg.create_task(got_401())
    assert len(http.calls) == 1
    assert answers == [True] * 50
    assert await auth.authorize(http) == f"Bearer {NEW_ACCESS}-1"


async def test_401_for_an_already_replaced_token_retries_without_refreshing() -> None:
    http = FakeTokenEndpoint()
    auth = expired_oauth()
    await auth.authorize(http)
    assert await auth.on_unauthorized(http, f"Bearer {ACCESS}") is True
    assert len(http.calls) == 1


async def test_401_for_the_current_token_refreshes() -> None:
    http = FakeTokenEndpoint()
    auth = OAuth2(
        client_id="my-app", access_token=ACCESS, refresh_token=REFRESH, expires_at=NOW + 3600, clock=Clock()
    )
    assert await auth.on_unauthorized(http, f"Bearer {ACCESS}") is True
    assert await auth.authorize(http) == f"Bearer {NEW_ACCESS}-1"


async def test_on_token_receives_the_rotated_refresh_token_and_it_is_used_next() -> None:
    http = FakeTokenEndpoint()
    clock = Clock()
    received: list[TokenPair] = []
    auth = expired_oauth(clock, on_token=received.append)
    await auth.authorize(http)
    assert len(received) == 1
    pair = received[0]
    assert pair.access_token.get() == f"{NEW_ACCESS}-1"
    assert pair.refresh_token is not None and pair.refresh_token.get() == f"{NEW_REFRESH}-1"
    assert (pair.expires_at, pair.scope) == (NOW + 3600, "outgoing-invoice:read")

    clock.now = NOW + 7200
    await auth.authorize(http)
    assert http.calls[1][1]["refresh_token"] == f"{NEW_REFRESH}-1"


async def test_async_on_token_is_awaited() -> None:
    saved: list[str] = []

    async def save(pair: TokenPair) -> None:
        await asyncio.sleep(0)
        saved.append(pair.access_token.get())

    await expired_oauth(on_token=save).authorize(FakeTokenEndpoint())
    assert saved == [f"{NEW_ACCESS}-1"]


async def test_a_refresh_response_without_refresh_token_keeps_the_old_one() -> None:
    body = json.dumps({"access_token": NEW_ACCESS, "token_type": "Bearer", "expires_in": 60}).encode()
    received: list[TokenPair] = []
    auth = expired_oauth(on_token=received.append)
    await auth.authorize(FakeTokenEndpoint(body=body))
    assert received[0].refresh_token == Secret(REFRESH)


async def test_refresh_failure_says_to_reauthorize_and_names_no_token() -> None:
    http = FakeTokenEndpoint(status=400, body=b'{"error": "invalid_grant", "error_description": "bad"}')
    with pytest.raises(AuthenticationError) as caught:
        await expired_oauth().authorize(http)
    error = caught.value
    assert error.status == 400
    assert "re-authorize" in str(error)
    assert "invalid_grant" in str(error)
    for text in (str(error), repr(error), repr(error.body), repr(error.args)):
        assert_no_secret(text)


async def test_refresh_failure_never_echoes_a_free_text_error() -> None:
    http = FakeTokenEndpoint(status=400, body=json.dumps({"error": f"no such token {REFRESH}"}).encode())
    with pytest.raises(AuthenticationError) as caught:
        await expired_oauth().authorize(http)
    assert_no_secret(str(caught.value))
    assert_no_secret(repr(caught.value.body))


@pytest.mark.parametrize("body", [b"<html>oops</html>", b'{"token_type": "Bearer"}', b'{"access_token": ""}'])
async def test_unreadable_token_response_is_an_authentication_error(body: bytes) -> None:
    with pytest.raises(AuthenticationError, match="re-authorize"):
        await expired_oauth().authorize(FakeTokenEndpoint(body=body))


async def test_concurrent_callers_behind_a_failed_refresh_share_its_error() -> None:
    http = FakeTokenEndpoint(status=401, body=b'{"error": "invalid_client"}', delay=0.05)
    auth = expired_oauth()
    errors: list[Exception] = []

    async def call() -> None:
        try:
            await auth.authorize(http)
        except AuthenticationError as exc:
            errors.append(exc)

    async with asyncio.TaskGroup() as tg:
        for _ in range(50):
            tg.create_task(call())
    assert len(http.calls) == 1
    assert len(errors) == 50


async def test_a_later_call_after_a_failed_refresh_tries_again() -> None:
    http = FakeTokenEndpoint(status=503, body=b"")
    auth = expired_oauth()
    for _ in range(2):
        with pytest.raises(AuthenticationError):
            await auth.authorize(http)
    assert len(http.calls) == 2


async def test_no_token_appears_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    auth = expired_oauth()
    await auth.authorize(FakeTokenEndpoint())
    await auth.on_unauthorized(FakeTokenEndpoint(), await auth.authorize(FakeTokenEndpoint()))
    with pytest.raises(AuthenticationError):
        await expired_oauth().authorize(FakeTokenEndpoint(status=400, body=b'{"error": "invalid_grant"}'))
    assert caplog.records, "refreshing should be logged"
    assert_no_secret(caplog.text)


async def test_oauth2_and_its_tokens_never_show_secrets() -> None:
    auth = expired_oauth()
    assert_no_secret(repr(auth))
    assert_no_secret(str(auth))
    await auth.authorize(FakeTokenEndpoint())
    assert_no_secret(repr(auth.tokens))


async def test_from_token_pair_uses_the_pair() -> None:
    pair = TokenPair(Secret(ACCESS), Secret(REFRESH), expires_at=NOW + 3600)
    auth = OAuth2.from_token_pair(pair, client_id="my-app", clock=Clock())
    assert await auth.authorize(FakeTokenEndpoint()) == f"Bearer {ACCESS}"
    assert auth.tokens == pair
