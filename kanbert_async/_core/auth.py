"""Authentication: the one interface the transport uses, :class:`Secret`, and bearer tokens.

OAuth 2.0 with refresh is :mod:`.oauth`; the authorization-code helpers (PKCE, authorize URL,
code exchange) are :mod:`.oauth_flow`.

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

import hmac
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol, runtime_checkable

from .errors import AuthenticationError

__all__ = ["Auth", "BearerToken", "Secret", "TokenEndpoint", "as_secret", "same_secret"]


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


def as_secret(value: str | Secret | None) -> Secret | None:
    """``value`` as a :class:`Secret` (None stays None)."""
    if value is None or isinstance(value, Secret):
        return value
    return Secret(value)


def same_secret(a: str, b: str) -> bool:
    """Whether two secret strings are equal, compared in constant time."""
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
            self._static = as_secret(token)
        elif callable(token):
            self._provider = token
        else:
            raise TypeError("BearerToken takes a token string or a function returning one")

    def __repr__(self) -> str:
        kind = "provider" if self._provider is not None else "static"
        return f"BearerToken(<{kind}>)"

    @property
    def fixed_token(self) -> Secret | None:
        """The token, when it is fixed (None for a provider, whose token may change)."""
        return self._static

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
        return not same_secret(await self._current(), sent_authorization)
