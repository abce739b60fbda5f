"""OAuth (PKCE, rotation, expiry, the SDK's single-flight refresh) and Laravel's throttle."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from kanbert_async import KanbertClient, OAuth2
from kanbert_async.auth import generate_pkce_pair
from kanbert_async.sandbox import Sandbox
from kanbert_async.sandbox.ratelimit import RateLimit

from .conftest import Api

REDIRECT = "http://localhost:9999/callback"


async def authorize(api: Api, challenge: str | None, scope: str = "outgoing-invoice:read") -> str:
    params = {
        "response_type": "code",
        "client_id": "app",
        "redirect_uri": REDIRECT,
        "state": "s-1",
        "scope": scope,
    }
    if challenge is not None:
        params |= {"code_challenge": challenge, "code_challenge_method": "S256"}
    response = await api.session.get(api.sandbox.authorize_url, params=params, allow_redirects=False)
    assert response.status == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["s-1"]
    return query["code"][0]


async def token_request(api: Api, **form: str) -> tuple[int, dict[str, str]]:
    response = await api.session.post(api.sandbox.token_url, data=form)
    return response.status, await response.json()


async def test_code_grant_with_pkce_and_refresh_rotation(api: Api) -> None:
    pkce = generate_pkce_pair()
    code = await authorize(api, pkce.challenge)
    status, body = await token_request(
        api,
        grant_type="authorization_code",
        code=code,
        client_id="app",
        redirect_uri=REDIRECT,
        code_verifier="x" * 43,
    )
    assert (status, body["error"]) == (400, "invalid_grant")
    code = await authorize(api, pkce.challenge)
    exchange = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": "app",
        "redirect_uri": REDIRECT,
    }
    status, tokens = await token_request(api, **exchange, code_verifier=pkce.verifier)
    assert status == 200 and tokens["token_type"] == "Bearer" and tokens["scope"] == "outgoing-invoice:read"
    status, body = await token_request(api, **exchange, code_verifier=pkce.verifier)
    assert (status, body["error"]) == (400, "invalid_grant"), "codes are single-use"
    read = Api(api.sandbox, api.session, tokens["access_token"])
    assert (await read.get("/outgoing-invoices")).status == 200
    assert (await read.post("/outgoing-invoices/external", {})).status == 403, "only the granted scope"

    status, fresh = await token_request(
        api, grant_type="refresh_token", refresh_token=tokens["refresh_token"], client_id="app"
    )
    assert status == 200 and fresh["refresh_token"] != tokens["refresh_token"]
    status, body = await token_request(api, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert (status, body["error"]) == (400, "invalid_grant"), "refresh tokens rotate"
    assert (await read.get("/outgoing-invoices")).status == 401, "the replaced access token is revoked"
    assert (
        await Api(api.sandbox, api.session, fresh["access_token"]).get("/outgoing-invoices")
    ).status == 200
    assert api.sandbox.counters.refreshes == 1 and api.sandbox.counters.code_exchanges == 1


async def test_code_grant_without_pkce_and_errors(api: Api) -> None:
    code = await authorize(api, None)
    status, body = await token_request(api, grant_type="authorization_code", code=code, client_id="other")
    assert (status, body["error"]) == (401, "invalid_client")
    status, body = await token_request(api, grant_type="password", username="x")
    assert (status, body["error"]) == (400, "unsupported_grant_type")
    response = await api.session.get(
        api.sandbox.authorize_url, params={"response_type": "token"}, allow_redirects=False
    )
    assert response.status == 400 and (await response.json())["error"] == "unsupported_response_type"


async def test_access_tokens_expire(session: aiohttp.ClientSession) -> None:
    async with Sandbox(invoices=10, seed=1, access_token_ttl=0.3) as sb:
        pair = sb.issue_oauth_tokens()
        api = Api(sb, session, pair.access_token)
        assert (await api.get("/outgoing-invoices")).status == 200
        await asyncio.sleep(0.35)
        response = await api.get("/outgoing-invoices")
        assert response.status == 401 and await response.json() == {"message": "Unauthenticated."}


@pytest.mark.parametrize("proactive", [True, False])
async def test_the_sdk_refreshes_once_for_many_concurrent_requests(proactive: bool) -> None:
    # The refreshed token lives as long: long enough for ten calls on a loaded machine.
    async with Sandbox(invoices=20, seed=1, access_token_ttl=1.0, latency=0.02) as sb:
        pair = sb.issue_oauth_tokens()
        await asyncio.sleep(1.05)  # the access token is now expired on the server
        auth = OAuth2(
            client_id="sandbox-client",
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            # Proactive: the client knows the expiry; reactive: it learns from the 401s.
            expires_at=time.time() - 1 if proactive else None,
            token_url=sb.token_url,
            refresh_margin=0,
        )
        async with KanbertClient(auth=auth, base_url=sb.base_url) as kb:
            results = await asyncio.gather(
                *(kb.outgoing_invoices.get(sb.store.invoices()[0].id) for _ in range(10))
            )
        assert {r.id for r in results} == {sb.store.invoices()[0].id}
        assert sb.counters.refreshes == 1
        # Reactive: the stale token is sent until the first 401 comes back (a cold client sends few
        # requests at first, so fewer than all ten meet it), then never again.
        unauthorized = sb.counters.statuses[401]
        assert unauthorized == 0 if proactive else 1 <= unauthorized <= 10


def test_rate_limit_parsing() -> None:
    assert RateLimit.parse("600/min") == RateLimit(600, 60.0)
    assert RateLimit.parse("50/s") == RateLimit(50, 1.0)
    assert RateLimit.parse("100/10s") == RateLimit(100, 10.0)
    assert RateLimit.parse("5000/hour") == RateLimit(5000, 3600.0)
    assert RateLimit.parse("2/minutes") == RateLimit(2, 60.0)
    for bad in ("600", "x/min", "0/s", "10/fortnight"):
        with pytest.raises(ValueError):
            RateLimit.parse(bad)


async def test_throttle_answers_like_laravel(session: aiohttp.ClientSession) -> None:
    async with Sandbox(invoices=10, seed=1, rate_limit="3/2s") as sb:
        api = Api(sb, session, sb.token)
        remaining = []
        for _ in range(3):
            response = await api.get("/outgoing-invoices")
            assert response.status == 200 and response.headers["X-RateLimit-Limit"] == "3"
            remaining.append(response.headers["X-RateLimit-Remaining"])
        assert remaining == ["2", "1", "0"]
        response = await api.get("/outgoing-invoices")
        assert response.status == 429 and await response.json() == {"message": "Too Many Attempts."}
        assert response.headers["X-RateLimit-Remaining"] == "0"
        assert 1 <= int(response.headers["Retry-After"]) <= 2
        assert 0 < int(response.headers["X-RateLimit-Reset"]) - time.time() <= 3
        other = Api(sb, session, sb.issue_token())
        assert (await other.get("/outgoing-invoices")).status == 200
        errors = await api.get("/outgoing-invoices/nope")
        assert errors.status == 429, "every request counts, whatever it asks for"
        assert sb.counters.rate_limited == 2 and sb.counters.statuses[429] == 2
        # Laravel floors its Retry-After (up to a second early, as the sandbox imitates): wait it out.
        await asyncio.sleep(float(response.headers["Retry-After"]) + 1.0)
        again = await api.get("/outgoing-invoices/nope")
        assert again.status == 404 and again.headers["X-RateLimit-Remaining"] == "2"


async def test_no_throttle_no_headers(api: Api) -> None:
    response = await api.get("/outgoing-invoices")
    assert "X-RateLimit-Limit" not in response.headers
