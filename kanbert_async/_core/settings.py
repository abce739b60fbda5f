"""How a client is set up: its timeouts, and a base URL checked before any token travels to it."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import InvalidRequestError

__all__ = ["Timeout", "check_base_url"]


@dataclass(frozen=True, slots=True)
class Timeout:
    """Seconds allowed to connect, and for a whole attempt (connect, send, and read the body)."""

    total: float | None = 60.0
    connect: float | None = 10.0


def check_base_url(base_url: str, *, allow_insecure_http: bool) -> str:
    """Refuse plain ``http://`` to anything but loopback (a token would cross the network in clear)."""
    parts = urlsplit(base_url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidRequestError(
            f"base_url {base_url!r} is not an http(s) URL, e.g. https://api.kanbert.com/api/v1"
        )
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        raise InvalidRequestError(
            f"base_url {base_url!r} uses plain http to a non-loopback host, which would send the token "
            "unencrypted. Use https, or pass allow_insecure_http=True if you really mean it."
        )
    return base_url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
