"""Tokens, scopes and a minimal OAuth 2.0 server (authorization code with PKCE, refresh rotation).

- Every operation's required scopes come from the generated ``Operation`` constants (see
  :mod:`.routing`); a token needs all of them.
- ``/oauth/authorize`` approves at once and redirects back with ``code`` and ``state``.
- ``/oauth/token`` exchanges a code (checking the PKCE S256 verifier when a challenge was given)
  or a refresh token. Refresh tokens rotate: each is good for one use. As in Laravel Passport, a
  refresh also revokes the access token it replaces (configurable).
- Access tokens from OAuth expire after ``access_token_ttl`` seconds; expired ones get 401.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

__all__ = ["OAuthError", "OAuthTokens", "TokenInfo", "TokenRegistry"]

_CODE_TTL = 600.0


class OAuthError(Exception):
    """An OAuth request refused with an RFC 6749 error code (HTTP 400, or 401 for a client error)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        """The JSON body: RFC 6749's ``error``/``error_description`` plus Laravel's ``message``."""
        return {"error": self.error, "error_description": self.description, "message": self.description}


@dataclasses.dataclass(frozen=True, slots=True)
class TokenInfo:
    """What a bearer token stands for: scopes, user, integration (the default ``origin``), expiry."""

    token: str
    scopes: frozenset[str]
    user_id: str
    origin: str
    expires_at: float | None = None  # time.monotonic() deadline; None = never
    client_id: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class OAuthTokens:
    """An access token, its refresh token and lifetime, as the token endpoint answers them."""

    access_token: str
    refresh_token: str
    expires_in: float
    scope: str

    def body(self) -> dict[str, Any]:
        """The token endpoint's JSON answer."""
        return {
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "scope": self.scope,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class _Grant:
    client_id: str
    redirect_uri: str
    scopes: frozenset[str]
    challenge: str | None
    expires_at: float


@dataclasses.dataclass(frozen=True, slots=True)
class _Refresh:
    client_id: str
    scopes: frozenset[str]
    access_token: str


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class TokenRegistry:
    """Issues and checks tokens. ``all_scopes`` is what an unrestricted token gets."""

    def __init__(
        self,
        *,
        all_scopes: Iterable[str],
        user_id: str,
        origin: str,
        access_token_ttl: float,
        revoke_on_refresh: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.all_scopes = frozenset(all_scopes)
        self._user_id = user_id
        self._origin = origin
        self._ttl = access_token_ttl
        self._revoke_on_refresh = revoke_on_refresh
        self._clock = clock
        self._tokens: dict[str, TokenInfo] = {}
        self._codes: dict[str, _Grant] = {}
        self._refresh: dict[str, _Refresh] = {}

    # -- bearer tokens --------------------------------------------------------------------------

    def issue(
        self,
        scopes: Iterable[str] | None = None,
        *,
        ttl: float | None = None,
        origin: str | None = None,
        user_id: str | None = None,
        token: str | None = None,
        client_id: str | None = None,
    ) -> TokenInfo:
        """A new bearer token (random unless ``token`` is given) with ``scopes`` (None: all)."""
        value = token or f"sbx_{secrets.token_urlsafe(24)}"
        info = TokenInfo(
            token=value,
            scopes=self.all_scopes if scopes is None else frozenset(scopes),
            user_id=user_id or self._user_id,
            origin=origin or self._origin,
            expires_at=None if ttl is None else self._clock() + ttl,
            client_id=client_id,
        )
        self._tokens[value] = info
        return info

    def lookup(self, token: str) -> TokenInfo | None:
        """The token's info, or None when it is unknown, revoked or expired."""
        info = self._tokens.get(token)
        if info is None:
            return None
        if info.expires_at is not None and self._clock() >= info.expires_at:
            return None
        return info

    def revoke(self, token: str) -> None:
        """Make ``token`` unusable."""
        self._tokens.pop(token, None)

    # -- OAuth ----------------------------------------------------------------------------------

    def authorize(self, params: Mapping[str, str]) -> str:
        """Approve an authorization request; returns the redirect URL carrying ``code`` and ``state``."""
        if params.get("response_type") != "code":
            raise OAuthError("unsupported_response_type", "Only response_type=code is supported.")
        client_id, redirect_uri = params.get("client_id", ""), params.get("redirect_uri", "")
        if not client_id:
            raise OAuthError("invalid_request", "The client_id parameter is required.")
        parts = urlsplit(redirect_uri)
        if not parts.scheme or not parts.netloc:
            raise OAuthError("invalid_request", "The redirect_uri parameter must be an absolute URL.")
        challenge = params.get("code_challenge") or None
        method = params.get("code_challenge_method", "S256" if challenge else "")
        if challenge is not None and method != "S256":
            raise OAuthError("invalid_request", "Only code_challenge_method=S256 is supported.")
        scope_text = params.get("scope", "").strip()
        scopes = frozenset(scope_text.split()) if scope_text else self.all_scopes
        code = secrets.token_urlsafe(24)
        self._codes[code] = _Grant(client_id, redirect_uri, scopes, challenge, self._clock() + _CODE_TTL)
        query = {"code": code}
        if "state" in params:
            query["state"] = params["state"]
        separator = "&" if parts.query else "?"
        return f"{redirect_uri}{separator}{urlencode(query)}"

    def exchange_code(self, form: Mapping[str, str]) -> OAuthTokens:
        """``grant_type=authorization_code``: a code (single use) for an access and refresh token."""
        grant = self._codes.pop(form.get("code", ""), None)
        if grant is None or self._clock() >= grant.expires_at:
            raise OAuthError("invalid_grant", "The authorization code is invalid, expired or already used.")
        if form.get("client_id") != grant.client_id:
            raise OAuthError("invalid_client", "Client authentication failed.", status=401)
        if form.get("redirect_uri", grant.redirect_uri) != grant.redirect_uri:
            raise OAuthError("invalid_grant", "The redirect_uri does not match the authorization request.")
        if grant.challenge is not None:
            verifier = form.get("code_verifier", "")
            if not verifier or not hmac.compare_digest(_s256(verifier), grant.challenge):
                raise OAuthError("invalid_grant", "Failed to verify the code_verifier.")
        return self._pair(grant.client_id, grant.scopes)

    def refresh(self, form: Mapping[str, str]) -> OAuthTokens:
        """``grant_type=refresh_token``: rotate — the refresh token used here stops working."""
        old = self._refresh.pop(form.get("refresh_token", ""), None)
        if old is None:
            raise OAuthError("invalid_grant", "The refresh token is invalid.")
        client_id = form.get("client_id")
        if client_id is not None and client_id != old.client_id:
            self._refresh[form["refresh_token"]] = old  # a wrong client does not burn the token
            raise OAuthError("invalid_client", "Client authentication failed.", status=401)
        if self._revoke_on_refresh:
            self.revoke(old.access_token)
        return self._pair(old.client_id, old.scopes)

    def issue_oauth_tokens(
        self, scopes: Iterable[str] | None = None, *, client_id: str = "sandbox-client"
    ) -> OAuthTokens:
        """An OAuth token pair without the authorize round trip (for tests)."""
        return self._pair(client_id, self.all_scopes if scopes is None else frozenset(scopes))

    def _pair(self, client_id: str, scopes: frozenset[str]) -> OAuthTokens:
        access = self.issue(scopes, ttl=self._ttl, client_id=client_id)
        refresh = f"sbr_{secrets.token_urlsafe(32)}"
        self._refresh[refresh] = _Refresh(client_id, scopes, access.token)
        return OAuthTokens(access.token, refresh, self._ttl, " ".join(sorted(scopes)))
