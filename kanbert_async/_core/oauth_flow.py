"""The OAuth 2.0 authorization-code flow: PKCE pairs, the authorize URL, the code exchange.

Example::

    pkce = generate_pkce_pair()
    request = build_authorize_url("my-app", "http://localhost:8765/callback",
                                  scope=["outgoing-invoice:read"], code_challenge=pkce.challenge)
    # open request.url; on the callback check state == request.state, then:
    tokens = await exchange_code(http, client_id="my-app", code=code,
                                 redirect_uri=request.redirect_uri, code_verifier=pkce.verifier)
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import secrets
import string
import time
from collections.abc import Callable, Sequence
from urllib.parse import quote, urlencode

from .auth import Secret, TokenEndpoint, as_secret
from .oauth import DEFAULT_TOKEN_URL, TokenPair, request_tokens

__all__ = [
    "DEFAULT_AUTHORIZE_URL",
    "AuthorizeRequest",
    "PKCEPair",
    "build_authorize_url",
    "exchange_code",
    "generate_pkce_pair",
    "pkce_challenge",
]

DEFAULT_AUTHORIZE_URL = "https://api.kanbert.com/oauth/authorize"

# RFC 7636 §4.1: the verifier's alphabet is the URI "unreserved" set.
_UNRESERVED = string.ascii_letters + string.digits + "-._~"


@dataclasses.dataclass(frozen=True, slots=True)
class PKCEPair:
    """A PKCE verifier (keep it until the code exchange; hidden from repr) and its challenge."""

    verifier: str = dataclasses.field(repr=False)
    challenge: str
    method: str = "S256"


def pkce_challenge(verifier: str) -> str:
    """The S256 challenge for a verifier: base64url(sha256(verifier)) without padding (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def generate_pkce_pair(length: int = 64) -> PKCEPair:
    """A fresh random PKCE verifier of ``length`` characters (43–128) and its S256 challenge."""
    if not 43 <= length <= 128:
        raise ValueError("a PKCE verifier must be 43 to 128 characters long (RFC 7636 §4.1)")
    verifier = "".join(secrets.choice(_UNRESERVED) for _ in range(length))
    return PKCEPair(verifier=verifier, challenge=pkce_challenge(verifier))


@dataclasses.dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    """Where to send the user, and the ``state`` to check when they come back to ``redirect_uri``."""

    url: str
    state: str
    redirect_uri: str
    code_challenge: str | None = None


def build_authorize_url(
    client_id: str,
    redirect_uri: str,
    *,
    scope: Sequence[str] | str | None = None,
    state: str | None = None,
    code_challenge: str | None = None,
    code_challenge_method: str = "S256",
    authorize_url: str = DEFAULT_AUTHORIZE_URL,
) -> AuthorizeRequest:
    """Build the authorization URL of the code grant; a random ``state`` is made when none is given.

    Example::

        pkce = generate_pkce_pair()
        request = build_authorize_url("my-app", "http://localhost:8765/callback",
                                      scope=["outgoing-invoice:read"], code_challenge=pkce.challenge)
        # open request.url; on the callback check state == request.state, then exchange_code(...)
    """
    state = state if state is not None else secrets.token_urlsafe(24)
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri}
    if scope is not None:
        params["scope"] = scope if isinstance(scope, str) else " ".join(scope)
    params["state"] = state
    if code_challenge is not None:
        params["code_challenge"] = code_challenge
        params["code_challenge_method"] = code_challenge_method
    separator = "&" if "?" in authorize_url else "?"
    url = f"{authorize_url}{separator}{urlencode(params, quote_via=quote)}"
    return AuthorizeRequest(url=url, state=state, redirect_uri=redirect_uri, code_challenge=code_challenge)


async def exchange_code(
    http: TokenEndpoint,
    *,
    client_id: str,
    code: str,
    redirect_uri: str,
    client_secret: str | Secret | None = None,
    code_verifier: str | Secret | None = None,
    token_url: str = DEFAULT_TOKEN_URL,
    clock: Callable[[], float] = time.time,
) -> TokenPair:
    """Exchange an authorization code for tokens (``grant_type=authorization_code``).

    Pass ``client_secret`` (server apps) or ``code_verifier`` (PKCE), or both. Raises
    :class:`AuthenticationError` when the server refuses; the code is single-use, so start the
    authorization again.
    """
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": client_id,
    }
    secret = as_secret(client_secret)
    if secret is not None:
        form["client_secret"] = secret.get()
    verifier = as_secret(code_verifier)
    if verifier is not None:
        form["code_verifier"] = verifier.get()
    return await request_tokens(
        http,
        token_url,
        form,
        requested_at=clock(),
        operation="OAuth code exchange",
        remedy="authorization codes are single-use, so start the authorization again",
    )
