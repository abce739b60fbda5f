"""The authorization-code flow: PKCE pairs (RFC 7636), the authorize URL, the code exchange."""

from __future__ import annotations

import hashlib
from base64 import urlsafe_b64encode
from urllib.parse import parse_qs, urlsplit

import pytest

from kanbert_async._core.errors import AuthenticationError
from kanbert_async.auth import (
    PKCEPair,
    build_authorize_url,
    exchange_code,
    generate_pkce_pair,
    pkce_challenge,
)
from tests.core.auth_fixtures import (
    CLIENT_SECRET,
    NEW_ACCESS,
    NOW,
    Clock,
    FakeTokenEndpoint,
    assert_no_secret,
)

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
