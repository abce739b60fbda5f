"""Tokens that must never show, a fake token endpoint, a clock: shared by the auth tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping

from kanbert_async.auth import (
    OAuth2,
)

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
