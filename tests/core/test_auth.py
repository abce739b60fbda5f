"""Secrets stay out of sight; bearer tokens, static or provided, and the Auth interface."""

from __future__ import annotations

import pytest

from kanbert_async._core.errors import AuthenticationError
from kanbert_async.auth import (
    Auth,
    BearerToken,
    Secret,
    TokenPair,
)
from tests.core.auth_fixtures import (
    ACCESS,
    NOW,
    REFRESH,
    FakeTokenEndpoint,
    assert_no_secret,
    expired_oauth,
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
