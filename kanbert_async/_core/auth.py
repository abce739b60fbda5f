"""Authentication: a static or provided bearer token, and OAuth 2.0 with refresh and PKCE helpers.

The transport talks to every auth object through one small interface, :class:`Auth`:

- ``await auth.authorize(http)`` before each request returns the ``Authorization`` header value;
- ``await auth.on_unauthorized(http, sent_authorization)`` once after a 401 says whether one retry
  with fresh credentials makes sense.

``http`` is a :class:`TokenEndpoint` — the transport's way to POST a form to the token URL, so the
auth objects never own a session. Every token and secret is held in a :class:`Secret`, which never
shows its value in a repr, str, f-string, log line or exception message.

Example::

    auth = OAuth2(client_id="my-app", access_token=access, refresh_token=refresh,
                  expires_at=expires_at, on_token=save_tokens)
    kb = KanbertClient(auth=auth)
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import hashlib
import hmac
import inspect
import logging
import re
import secrets
import string
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Protocol, runtime_checkable
from urllib.parse import quote, urlencode

import msgspec

from .errors import AuthenticationError

__all__ = [
    "DEFAULT_AUTHORIZE_URL",
    "DEFAULT_TOKEN_URL",
    "Auth",
    "AuthorizeRequest",
    "BearerToken",
    "OAuth2",
    "PKCEPair",
    "Secret",
    "TokenEndpoint",
    "TokenPair",
    "build_authorize_url",
    "exchange_code",
    "generate_pkce_pair",
    "pkce_challenge",
]

DEFAULT_TOKEN_URL = "https://api.kanbert.com/oauth/token"
DEFAULT_AUTHORIZE_URL = "https://api.kanbert.com/oauth/authorize"

logger = logging.getLogger("kanbert_async.auth")

# RFC 7636 §4.1: the verifier's alphabet is the URI "unreserved" set.
_UNRESERVED = string.ascii_letters + string.digits + "-._~"
# OAuth error codes are short snake_case words (RFC 6749 §5.2); anything else is not echoed.
_ERROR_CODE_RE = re.compile(r"^[a-z_]{1,64}$")


class Secret:
    """A string that keeps itself out of sight: ``repr``, ``str`` and formatting show ``****``.

    ``.get()`` returns the value. Comparison is constant-time.

    >>> Secret("tok_123")
    Secret('****')
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        """The secret value itself; pass it on, never print it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('****')"

    def __str__(self) -> str:
        return "****"

    def __format__(self, spec: str) -> str:
        return "****"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


def _secret(value: str | Secret | None) -> Secret | None:
    if value is None or isinstance(value, Secret):
        return value
    return Secret(value)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class TokenEndpoint(Protocol):
    """What auth needs from the transport: POST a form, get ``(status, body)`` back.

    The transport must send it without an ``Authorization`` header, outside the 401 handling,
    and must never log the form data (it carries secrets).
    """

    async def post_form(self, url: str, data: Mapping[str, str]) -> tuple[int, bytes]:
        """POST ``data`` as ``application/x-www-form-urlencoded`` to ``url``."""
        ...


@runtime_checkable
class Auth(Protocol):
    """The interface the transport uses for every kind of authentication."""

    async def authorize(self, http: TokenEndpoint) -> str:
        """Return the full ``Authorization`` header value (``"Bearer …"``), refreshing first if due."""
        ...

    async def on_unauthorized(self, http: TokenEndpoint, sent_authorization: str) -> bool:
        """After a 401 to a request sent with ``sent_authorization``: is one retry worth it?

        Returns True when fresh credentials are now available (call :meth:`authorize` again and
        resend once), False when a retry would only get another 401.
        """
        ...


_TokenProvider = Callable[[], str] | Callable[[], Awaitable[str]]


class BearerToken:
    """A fixed API token, or a function (sync or async) that returns the current one.

    With a provider, a 401 leads to one retry only when the provider now returns a different token.

    Example: ``BearerToken(os.environ["KANBERT_API_TOKEN"])`` or ``BearerToken(vault.read_token)``.
    """

    def __init__(self, token: str | Secret | _TokenProvider) -> None:
        self._static: Secret | None = None
        self._provider: _TokenProvider | None = None
        if isinstance(token, str | Secret):
            self._static = _secret(token)
        elif callable(token):
            self._provider = token
        else:
            raise TypeError("BearerToken takes a token string or a function returning one")

    def __repr__(self) -> str:
        kind = "provider" if self._provider is not None else "static"
        return f"BearerToken(<{kind}>)"

    async def _current(self) -> str:
        if self._static is not None:
            value = self._static.get()
        else:
            assert self._provider is not None
            result = self._provider()
            value = await result if inspect.isawaitable(result) else result
        if not isinstance(value, str) or not value:
            raise AuthenticationError(
                "No API token available: the token (or its provider) gave an empty value.",
                status=401,
            )
        return f"Bearer {value}"

    async def authorize(self, http: TokenEndpoint) -> str:
        """Return ``"Bearer <token>"``."""
        return await self._current()

    async def on_unauthorized(self, http: TokenEndpoint, sent_authorization: str) -> bool:
        """True only for a provider whose token changed since the request was sent."""
        if self._provider is None:
            return False
        return not _same(await self._current(), sent_authorization)


@dataclasses.dataclass(frozen=True, slots=True)
class TokenPair:
    """An OAuth token set: what :class:`OAuth2` holds and what ``on_token`` receives to persist.

    ``expires_at`` is unix time (None = unknown). Tokens are :class:`Secret`; the repr hides them.
    """

    access_token: Secret
    refresh_token: Secret | None = None
    expires_at: float | None = None
    scope: str | None = None
    token_type: str = "Bearer"


class _TokenResponse(msgspec.Struct):
    access_token: str
    token_type: str = "Bearer"
    expires_in: float | None = None
    refresh_token: str | None = None
    scope: str | None = None


class _TokenError(msgspec.Struct):
    error: str = ""


_token_decoder = msgspec.json.Decoder(_TokenResponse)
_error_decoder = msgspec.json.Decoder(_TokenError)


def _error_code(body: bytes) -> str | None:
    # Only the RFC 6749 error code is echoed: a free-text description might quote what we sent.
    try:
        code = _error_decoder.decode(body).error
    except msgspec.DecodeError:
        return None
    return code if _ERROR_CODE_RE.match(code) else None


async def _request_tokens(
    http: TokenEndpoint,
    url: str,
    form: Mapping[str, str],
    *,
    requested_at: float,
    operation: str,
    remedy: str,
    previous_refresh: Secret | None = None,
) -> TokenPair:
    status, body = await http.post_form(url, form)

    def failed(what: str, error_body: object = None) -> AuthenticationError:
        return AuthenticationError(
            f"{what}; {remedy}", status=status, body=error_body, method="POST", url=url, operation=operation
        )

    if status != 200:
        code = _error_code(body)
        if code:
            raise failed(f"the token endpoint refused ({code})", {"error": code})
        raise failed("the token endpoint refused")
    try:
        payload = _token_decoder.decode(body)
    except msgspec.DecodeError:
        raise failed("the token endpoint sent no readable token") from None
    if not payload.access_token:
        raise failed("the token endpoint sent an empty access token")
    refresh = Secret(payload.refresh_token) if payload.refresh_token else previous_refresh
    return TokenPair(
        access_token=Secret(payload.access_token),
        refresh_token=refresh,
        # Counted from before the request: the token's clock started while we waited.
        expires_at=None if payload.expires_in is None else requested_at + payload.expires_in,
        scope=payload.scope,
        token_type=payload.token_type or "Bearer",
    )


_OnToken = Callable[[TokenPair], Awaitable[None] | None]


class OAuth2:
    """OAuth 2.0 credentials that refresh themselves: ahead of expiry and once after a 401.

    ``client_secret`` is optional (PKCE/public clients have none). ``expires_at`` is unix time.
    The token is refreshed ``refresh_margin`` seconds before it expires. Refreshes are
    single-flight: however many tasks find the token due at once, one refresh happens and the
    others use its result. Every new token pair goes to ``on_token`` (sync or async) so a
    rotated refresh token can be saved.

    Example::

        auth = OAuth2(client_id="my-app", refresh_token=stored_refresh, on_token=store.save)
    """

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str | Secret | None = None,
        access_token: str | Secret | None = None,
        refresh_token: str | Secret | None = None,
        expires_at: float | None = None,
        scope: str | None = None,
        token_url: str = DEFAULT_TOKEN_URL,
        refresh_margin: float = 60.0,
        on_token: _OnToken | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if access_token is None and refresh_token is None:
            raise ValueError("OAuth2 needs an access_token, a refresh_token, or both")
        self.client_id = client_id
        self.token_url = token_url
        self.refresh_margin = refresh_margin
        self._client_secret = _secret(client_secret)
        self._tokens: TokenPair | None = None
        if access_token is not None:
            access = _secret(access_token)
            assert access is not None
            self._tokens = TokenPair(access, _secret(refresh_token), expires_at, scope)
        self._refresh_token = _secret(refresh_token)
        self._on_token = on_token
        self._clock = clock
        self._lock = asyncio.Lock()
        # Lets tasks that queued behind a failed refresh share its error instead of each retrying.
        self._attempts = 0
        self._last_error: Exception | None = None

    @classmethod
    def from_token_pair(
        cls,
        tokens: TokenPair,
        *,
        client_id: str,
        client_secret: str | Secret | None = None,
        token_url: str = DEFAULT_TOKEN_URL,
        refresh_margin: float = 60.0,
        on_token: _OnToken | None = None,
        clock: Callable[[], float] = time.time,
    ) -> OAuth2:
        """Build from a :class:`TokenPair`, e.g. the result of :func:`exchange_code` or a saved one."""
        return cls(
            client_id=client_id,
            client_secret=client_secret,
            access_token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            expires_at=tokens.expires_at,
            scope=tokens.scope,
            token_url=token_url,
            refresh_margin=refresh_margin,
            on_token=on_token,
            clock=clock,
        )

    def __repr__(self) -> str:
        expires = "unknown" if self.expires_at is None else f"{self.expires_at:.0f}"
        return f"OAuth2(client_id={self.client_id!r}, token_url={self.token_url!r}, expires_at={expires})"

    @property
    def tokens(self) -> TokenPair | None:
        """The current token pair (None before the first refresh when only a refresh token was given)."""
        return self._tokens

    @property
    def expires_at(self) -> float | None:
        """When the current access token expires (unix time), if known."""
        return None if self._tokens is None else self._tokens.expires_at

    def _due(self) -> bool:
        if self._tokens is None:
            return True
        expires_at = self._tokens.expires_at
        return expires_at is not None and self._clock() >= expires_at - self.refresh_margin

    def _header(self) -> str | None:
        return None if self._tokens is None else f"Bearer {self._tokens.access_token.get()}"

    async def authorize(self, http: TokenEndpoint) -> str:
        """Return ``"Bearer <access token>"``, refreshing first when it is (nearly) expired.

        Without a refresh token an expired access token is still sent; the server has the last word.
        """
        if self._due() and self._refresh_token is not None:
            attempts = self._attempts
            async with self._lock:
                # Another task may have refreshed while we queued for the lock.
                if self._due():
                    await self._refresh_once(http, attempts)
        header = self._header()
        if header is None:
            raise AuthenticationError("No OAuth access token is available; re-authorize the app.", status=401)
        return header

    async def on_unauthorized(self, http: TokenEndpoint, sent_authorization: str) -> bool:
        """Refresh once after a 401, unless another task already did since the request was sent."""
        current = self._header()
        if current is not None and not _same(current, sent_authorization):
            return True
        if self._refresh_token is None:
            return False
        attempts = self._attempts
        async with self._lock:
            current = self._header()
            if current is not None and not _same(current, sent_authorization):
                return True
            await self._refresh_once(http, attempts)
        return True

    async def _refresh_once(self, http: TokenEndpoint, attempts_seen: int) -> None:
        # Called with the lock held. If a refresh failed while this task queued, that failure is
        # this task's answer too: N waiters behind a refused refresh token make one request, not N.
        # ``_attempts`` counts finished attempts: a task that arrives while one is in flight (an
        # uncontended asyncio.Lock is taken without yielding) saw the count before it ended.
        if self._attempts != attempts_seen and self._last_error is not None:
            raise self._last_error
        error: Exception | None = None
        try:
            await self._refresh(http)
        except Exception as exc:
            error = exc
            raise
        finally:
            # A cancelled attempt leaves no error to share: the next task tries for itself.
            self._last_error = error
            self._attempts += 1

    async def _refresh(self, http: TokenEndpoint) -> None:
        refresh = self._refresh_token
        assert refresh is not None
        form = {"grant_type": "refresh_token", "refresh_token": refresh.get(), "client_id": self.client_id}
        if self._client_secret is not None:
            form["client_secret"] = self._client_secret.get()
        logger.debug("Refreshing the OAuth access token for client %s", self.client_id)
        requested_at = self._clock()
        tokens = await _request_tokens(
            http,
            self.token_url,
            form,
            requested_at=requested_at,
            operation="OAuth token refresh",
            remedy="re-authorize the app to get a new refresh token",
            previous_refresh=refresh,
        )
        self._tokens = tokens
        self._refresh_token = tokens.refresh_token
        logger.debug(
            "Refreshed the OAuth access token for client %s (expires in %s)",
            self.client_id,
            "unknown" if tokens.expires_at is None else f"{tokens.expires_at - requested_at:.0f}s",
        )
        if self._on_token is not None:
            result = self._on_token(tokens)
            if inspect.isawaitable(result):
                await result


# --- Authorization-code flow helpers -----------------------------------------------------------


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
    secret = _secret(client_secret)
    if secret is not None:
        form["client_secret"] = secret.get()
    verifier = _secret(code_verifier)
    if verifier is not None:
        form["code_verifier"] = verifier.get()
    return await _request_tokens(
        http,
        token_url,
        form,
        requested_at=clock(),
        operation="OAuth code exchange",
        remedy="authorization codes are single-use, so start the authorization again",
    )
