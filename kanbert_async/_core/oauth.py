"""OAuth 2.0 credentials that refresh themselves, ahead of expiry and once after a 401, single-flight.

:class:`OAuth2` holds a :class:`TokenPair`; every refresh (and the code exchange of
:mod:`.oauth_flow`) goes through :func:`request_tokens`, which reads the token endpoint's answer
and never echoes more of a refusal than its RFC 6749 error code.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping

import msgspec

from .auth import Secret, TokenEndpoint, as_secret, same_secret
from .errors import AuthenticationError

__all__ = ["DEFAULT_TOKEN_URL", "OAuth2", "TokenPair", "request_tokens"]

DEFAULT_TOKEN_URL = "https://api.kanbert.com/oauth/token"

logger = logging.getLogger("kanbert_async.auth")

# OAuth error codes are short snake_case words (RFC 6749 §5.2); anything else is not echoed.
_ERROR_CODE_RE = re.compile(r"^[a-z_]{1,64}$")


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


async def request_tokens(
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
        self._client_secret = as_secret(client_secret)
        self._tokens: TokenPair | None = None
        if access_token is not None:
            access = as_secret(access_token)
            assert access is not None
            self._tokens = TokenPair(access, as_secret(refresh_token), expires_at, scope)
        self._refresh_token = as_secret(refresh_token)
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
        if current is not None and not same_secret(current, sent_authorization):
            return True
        if self._refresh_token is None:
            return False
        attempts = self._attempts
        async with self._lock:
            current = self._header()
            if current is not None and not same_secret(current, sent_authorization):
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
        tokens = await request_tokens(
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
