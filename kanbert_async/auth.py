"""Authentication: bearer tokens and OAuth2 (``kanbert_async.auth``); see :mod:`kanbert_async._core.auth`."""

from ._core.auth import Auth, BearerToken, Secret, TokenEndpoint
from ._core.oauth import DEFAULT_TOKEN_URL, OAuth2, TokenPair
from ._core.oauth_flow import (
    DEFAULT_AUTHORIZE_URL,
    AuthorizeRequest,
    PKCEPair,
    build_authorize_url,
    exchange_code,
    generate_pkce_pair,
    pkce_challenge,
)

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
