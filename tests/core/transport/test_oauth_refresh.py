"""OAuth2 through the transport: one refresh for many concurrent 401s or an expiring token."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from aiohttp import web

from kanbert_async import AuthenticationError, KanbertClient, OAuth2, TokenPair
from tests.core.transport.loopback import LoopbackServer, invoice_json

CALLS = 50
# A pace of our own: the client sends its concurrent calls at once (a cold client that knows nothing
# of the server would start slowly), so all of them meet the stale token together.
KNOWN_RATE = "1000/s"


class OAuthServer:
    """An API that accepts only its current access token, and a token endpoint that rotates both tokens."""

    def __init__(self, server: LoopbackServer, *, hold_401s: int = 0, refuse_refresh: bool = False) -> None:
        self.server = server
        # The client's access token (acc_1) has expired server-side: only a refreshed one is accepted.
        self.access: str | None = None
        self.refresh = "ref_1"
        self.refresh_calls: list[dict[str, str]] = []
        self.refuse_refresh = refuse_refresh
        self.hold_401s = hold_401s
        self.rejected = 0
        self.all_rejected = asyncio.Event()
        server.route("GET", "/api/v1/outgoing-invoices/{id}", self.show)
        server.route("POST", "/oauth/token", self.token)

    @property
    def token_url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}/oauth/token"

    async def show(self, request: web.Request) -> web.Response:
        if self.access is None or request.headers.get("Authorization") != f"Bearer {self.access}":
            self.rejected += 1
            if self.rejected == self.hold_401s:
                self.all_rejected.set()
            if self.rejected <= self.hold_401s:
                # Every one of the first calls is answered 401 only once all of them were sent.
                await asyncio.wait_for(self.all_rejected.wait(), 5)
            return web.json_response({"message": "Unauthenticated."}, status=401)
        return web.json_response(invoice_json(request.match_info["id"]))

    async def token(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.refresh_calls.append({k: str(v) for k, v in form.items()})
        await asyncio.sleep(0.05)  # a slow token endpoint widens any race
        if self.refuse_refresh or form.get("refresh_token") != self.refresh:
            return web.json_response({"error": "invalid_grant", "error_description": "bad"}, status=400)
        n = len(self.refresh_calls) + 1
        self.access, self.refresh = f"acc_{n}", f"ref_{n}"
        return web.json_response(
            {
                "access_token": self.access,
                "refresh_token": self.refresh,
                "expires_in": 3600,
                "token_type": "Bearer",
            }
        )

    def api_authorizations(self) -> list[str | None]:
        return [hit.headers.get("Authorization") for hit in self.server.hits if hit.path.startswith("/api/")]


async def test_fifty_concurrent_401s_lead_to_exactly_one_refresh_and_all_calls_succeed(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    api = OAuthServer(server, hold_401s=CALLS)
    await server.start()
    saved: list[TokenPair] = []
    auth = OAuth2(
        client_id="my-app",
        access_token="acc_1",
        refresh_token="ref_1",
        token_url=api.token_url,
        on_token=saved.append,
    )
    kb = make_client(server.base_url, auth=auth, rate_limit=KNOWN_RATE)

    invoices = await asyncio.gather(*(kb.outgoing_invoices.get(f"inv_{n}") for n in range(CALLS)))

    assert [invoice.id for invoice in invoices] == [f"inv_{n}" for n in range(CALLS)]
    assert api.rejected == CALLS
    assert len(api.refresh_calls) == 1
    assert api.refresh_calls[0]["grant_type"] == "refresh_token"
    assert api.refresh_calls[0]["refresh_token"] == "ref_1"
    assert api.refresh_calls[0]["client_id"] == "my-app"
    assert api.api_authorizations().count("Bearer acc_2") == CALLS
    assert len(saved) == 1
    assert saved[0].access_token.get() == "acc_2"
    assert saved[0].refresh_token is not None and saved[0].refresh_token.get() == "ref_2"
    assert kb.stats.refreshes == 1


async def test_a_token_about_to_expire_is_refreshed_once_before_fifty_concurrent_calls(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    api = OAuthServer(server)
    await server.start()
    saved: list[TokenPair] = []

    async def save(tokens: TokenPair) -> None:
        saved.append(tokens)

    auth = OAuth2(
        client_id="my-app",
        access_token="acc_1",
        refresh_token="ref_1",
        expires_at=time.time() + 30,  # inside the 60 s refresh margin
        token_url=api.token_url,
        on_token=save,
    )
    kb = make_client(server.base_url, auth=auth, rate_limit=KNOWN_RATE)

    await asyncio.gather(*(kb.outgoing_invoices.get(f"inv_{n}") for n in range(CALLS)))

    assert len(api.refresh_calls) == 1
    assert api.rejected == 0
    assert api.api_authorizations() == ["Bearer acc_2"] * CALLS
    assert [t.refresh_token.get() for t in saved if t.refresh_token] == ["ref_2"]
    assert auth.expires_at is not None and auth.expires_at > time.time() + 3000


async def test_a_refused_refresh_fails_every_waiting_call_with_one_token_request(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    api = OAuthServer(server, hold_401s=CALLS, refuse_refresh=True)
    await server.start()
    auth = OAuth2(client_id="my-app", access_token="acc_1", refresh_token="ref_1", token_url=api.token_url)
    kb = make_client(server.base_url, auth=auth, rate_limit=KNOWN_RATE)

    results = await asyncio.gather(
        *(kb.outgoing_invoices.get(f"inv_{n}") for n in range(CALLS)), return_exceptions=True
    )

    assert all(isinstance(r, AuthenticationError) for r in results)
    assert len(api.refresh_calls) == 1
    message = str(results[0])
    assert "invalid_grant" in message
    assert "re-authorize the app" in message


async def test_a_401_with_a_static_token_is_not_retried_and_says_to_check_the_token(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    OAuthServer(server)
    await server.start()
    kb = make_client(server.base_url, token="acc_wrong")

    with pytest.raises(AuthenticationError, match="KANBERT_API_TOKEN"):
        await kb.outgoing_invoices.get("inv_1")
    assert server.count("GET") == 1
