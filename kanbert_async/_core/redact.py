"""What may be shown of a request or response: credentials replaced by ``<redacted>``.

Used wherever request details leave the SDK's hands — log lines, hook arguments, error attributes —
so a token, an OAuth secret or a cookie never reaches a log, a trace or an error tracker.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlsplit

__all__ = ["REDACTED", "is_secret_name", "redact_headers", "redact_pairs", "redact_url_query"]

REDACTED = "<redacted>"

_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"})
#: Query and form names holding credentials: OAuth's (RFC 6749, 7636) and the usual API-key names.
_SECRET_FIELDS = frozenset({"code", "code_verifier", "client_secret", "password", "assertion"})
_SECRET_WORDS = ("token", "secret", "password", "api_key", "apikey", "signature")


def is_secret_name(name: str) -> bool:
    """Whether a header, query or form field of this name carries a credential."""
    lowered = name.lower()
    if lowered in _SECRET_HEADERS or lowered in _SECRET_FIELDS:
        return True
    return any(word in lowered for word in _SECRET_WORDS)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers with every credential replaced (``Authorization``, cookies, anything named token)."""
    return {k: (REDACTED if is_secret_name(k) else v) for k, v in headers.items()}


def redact_pairs(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Query or form pairs with the values of credential fields replaced."""
    return [(k, REDACTED if is_secret_name(k) else v) for k, v in pairs]


def redact_url_query(url: str) -> list[tuple[str, str]]:
    """The query of ``url`` as decoded pairs, credentials replaced."""
    return redact_pairs(parse_qsl(urlsplit(url).query, keep_blank_values=True))
