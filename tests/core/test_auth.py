"""Specification of authentication: bearer tokens, OAuth2 refresh (single-flight), PKCE helpers."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from base64 import urlsafe_b64encode
from collections.abc import Mapping
from urllib.parse import parse_qs, urlsplit

import pytest

from kanbert_async._core.auth import (
    Auth,
    BearerToken,
    OAuth2,
    PKCEPair,
    Secret,
    TokenPair,
    build_authorize_url,
    exchange_code,
    generate_pkce_pair,
    pkce_challenge,
)
from kanbert_async._core.errors import AuthenticationError

ACCESS = "acc_SUPERSECRET_4711"
REFRESH = "ref_SUPERSECRET_0815"
CLIENT_SECRET = "cs_SUPERSECRET_1234"
NEW_ACCESS = "acc_FRESHSECRET_9999"
NEW_REFRESH = "ref_ROTATEDSECRET_2222"
ALL_SECRETS = [ACCESS, REFRESH, CLIENT_SECRET, NEW_ACCESS, NEW_REFRESH, "SUPERSECRET", "SECRET_"]
NOW = 1_700_000_000.0


def assert_no_secret(text: str) -> None:
    for secret in ALL_SECRETS:
        assert secret not in text


class FakeTokenEndpoint:
    """Counts token requests; answers with fresh tokens after a short pause (to invite races)."""

    def __init__(self, *, status: int = 200, body: bytes | None = None, delay: float = 0.02) -> None:
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.status = status
        self.body = body
        self.delay = delay

    async def post_form(self, url: str, data: Mapping[str, str]) -> tuple[int, bytes]:
        self.calls.append((url, dict(data)))
        await asyncio.sleep(self.delay)
        if self.body is not None:
            return self.status, self.body
        payload = {
            "access_token": f"{NEW_ACCESS}-{len(self.calls)}",
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": f"{NEW_REFRESH}-{len(self.calls)}",
            "scope": "outgoing-invoice:read",
        }
        return self.status, json.dumps(payload).encode()


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def expired_oauth(clock: Clock | None = None, **kw: object) -> OAuth2:
    return OAuth2(
        client_id="my-app",
        client_secret=kw.pop("client_secret", CLIENT_SECRET),  # type: ignore[arg-type]
        access_token=ACCESS,
        refresh_token=REFRESH,
        expires_at=NOW - 10,
        clock=clock or Clock(),
        **kw,  # type: ignore[arg-type]
    )


# --- Secret --------------------------------------------------------------------------------------


def test_secret_never_shows_its_value() -> None:
    secret = Secret(ACCESS)
    assert repr(secret) == "Secret('****')"
    assert str(secret) == "****"
    assert f"{secret}" == "****"
    assert f"{secret:>20}" == "****"
    assert ACCESS not in f"{secret!r} {secret!s:>40}"
    assert "%s %r" % (secret, secret) == "**** Secret('****')"  # noqa: UP031


def test_secret_get_returns_the_value() -> None:
    assert Secret(ACCESS).get() == ACCESS


def test_secrets_compare_by_value() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert Secret("a") != "a"


def test_token_pair_repr_hides_tokens() -> None:
    pair = TokenPair(Secret(ACCESS), Secret(REFRESH), expires_at=NOW, scope="x")
    assert_no_secret(repr(pair))
    assert_no_secret(str(pair))


# --- BearerToken ---------------------------------------------------------------------------------


async def test_static_bearer_token_authorizes_with_bearer_prefix() -> None:
    assert await BearerToken(ACCESS).authorize(FakeTokenEndpoint()) == f"Bearer {ACCESS}"


async def test_static_bearer_token_does_not_retry_after_401() -> None:
    auth = BearerToken(ACCESS)
    assert await auth.on_unauthorized(FakeTokenEndpoint(), f"Bearer {ACCESS}") is False


async def test_sync_provider_is_asked_for_every_request() -> None:
    tokens = iter(["one", "two"])
    auth = BearerToken(lambda: next(tokens))
    assert await auth.authorize(FakeTokenEndpoint()) == "Bearer one"
    assert await auth.authorize(FakeTokenEndpoint()) == "Bearer two"


async def test_async_provider_is_awaited() -> None:
    async def provide() -> str:
        return ACCESS

    assert await BearerToken(provide).authorize(FakeTokenEndpoint()) == f"Bearer {ACCESS}"


async def test_provider_retry_after_401_only_when_the_token_changed() -> None:
    current = {"token": "old"}
    auth = BearerToken(lambda: current["token"])
    sent = await auth.authorize(FakeTokenEndpoint())
    assert await auth.on_unauthorized(FakeTokenEndpoint(), sent) is False
    current["token"] = "new"
    assert await auth.on_unauthorized(FakeTokenEndpoint(), sent) is True


async def test_empty_token_is_an_authentication_error() -> None:
    with pytest.raises(AuthenticationError):
        await BearerToken(lambda: "").authorize(FakeTokenEndpoint())


def test_bearer_token_repr_hides_the_token() -> None:
    assert_no_secret(repr(BearerToken(ACCESS)))
    assert_no_secret(str(BearerToken(ACCESS)))


def test_auth_objects_satisfy_the_auth_protocol() -> None:
    assert isinstance(BearerToken(ACCESS), Auth)
    assert isinstance(expired_oauth(), Auth)


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


# --- PKCE and the authorization-code flow --------------------------------------------------------


def test_pkce_challenge_matches_rfc_7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_generated_pkce_pair_follows_rfc_7636() -> None:
    pair = generate_pkce_pair()
    assert 43 <= len(pair.verifier) <= 128
    allowed = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
    assert set(pair.verifier) <= allowed
    expected = urlsafe_b64encode(hashlib.sha256(pair.verifier.encode()).digest()).rstrip(b"=").decode()
    assert pair.challenge == expected
    assert "=" not in pair.challenge
    assert pair.method == "S256"


@pytest.mark.parametrize("length", [43, 128])
def test_pkce_verifier_length_can_be_chosen_within_the_rfc_range(length: int) -> None:
    assert len(generate_pkce_pair(length).verifier) == length


@pytest.mark.parametrize("length", [42, 129])
def test_pkce_verifier_length_outside_the_rfc_range_is_refused(length: int) -> None:
    with pytest.raises(ValueError):
        generate_pkce_pair(length)


def test_pkce_verifiers_are_random() -> None:
    assert len({generate_pkce_pair().verifier for _ in range(20)}) == 20


def test_pkce_pair_repr_hides_the_verifier() -> None:
    pair = PKCEPair(verifier="verifier_SUPERSECRET_xyz" + "a" * 30, challenge="c")
    assert "SUPERSECRET" not in repr(pair)


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_authorize_url_carries_the_code_grant_parameters() -> None:
    request = build_authorize_url(
        "my-app",
        "http://localhost:8765/callback",
        scope=["outgoing-invoice:read", "client:write"],
        state="s123",
        code_challenge="chal",
    )
    assert request.url.startswith("https://api.kanbert.com/oauth/authorize?")
    assert query_of(request.url) == {
        "response_type": ["code"],
        "client_id": ["my-app"],
        "redirect_uri": ["http://localhost:8765/callback"],
        "scope": ["outgoing-invoice:read client:write"],
        "state": ["s123"],
        "code_challenge": ["chal"],
        "code_challenge_method": ["S256"],
    }
    assert "%20" in request.url and "+" not in request.url
    assert request.state == "s123"


def test_authorize_url_makes_an_unguessable_state_when_none_is_given() -> None:
    first = build_authorize_url("my-app", "http://localhost/cb")
    second = build_authorize_url("my-app", "http://localhost/cb")
    assert len(first.state) >= 16
    assert first.state != second.state
    assert query_of(first.url)["state"] == [first.state]


def test_authorize_url_without_pkce_or_scope_leaves_them_out() -> None:
    query = query_of(build_authorize_url("my-app", "http://localhost/cb", scope="a:read").url)
    assert query["scope"] == ["a:read"]
    assert "code_challenge" not in query and "code_challenge_method" not in query


def test_authorize_url_keeps_an_existing_query() -> None:
    url = build_authorize_url(
        "my-app", "http://x/cb", authorize_url="https://auth.example/authorize?tenant=1"
    ).url
    assert query_of(url)["tenant"] == ["1"]
    assert query_of(url)["client_id"] == ["my-app"]


async def test_exchange_code_posts_the_code_and_verifier_and_returns_tokens() -> None:
    http = FakeTokenEndpoint()
    pair = await exchange_code(
        http,
        client_id="my-app",
        code="code_SUPERSECRET",
        redirect_uri="http://localhost/cb",
        code_verifier="v" * 43,
        clock=Clock(),
    )
    assert http.calls == [
        (
            "https://api.kanbert.com/oauth/token",
            {
                "grant_type": "authorization_code",
                "code": "code_SUPERSECRET",
                "redirect_uri": "http://localhost/cb",
                "client_id": "my-app",
                "code_verifier": "v" * 43,
            },
        )
    ]
    assert pair.access_token.get() == f"{NEW_ACCESS}-1"
    assert pair.expires_at == NOW + 3600


async def test_exchange_code_with_a_client_secret_sends_it() -> None:
    http = FakeTokenEndpoint()
    await exchange_code(http, client_id="my-app", code="c", redirect_uri="r", client_secret=CLIENT_SECRET)
    assert http.calls[0][1]["client_secret"] == CLIENT_SECRET


async def test_failed_code_exchange_says_to_start_again_and_names_no_secret() -> None:
    http = FakeTokenEndpoint(status=400, body=b'{"error": "invalid_grant"}')
    with pytest.raises(AuthenticationError, match="start the authorization again") as caught:
        await exchange_code(
            http, client_id="my-app", code="code_SUPERSECRET", redirect_uri="r", client_secret=CLIENT_SECRET
        )
    assert_no_secret(str(caught.value))
    assert_no_secret(repr(caught.value))
