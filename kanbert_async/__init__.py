"""kanbert-async: the async-first, fast, typed Python SDK for the Kanbert REST API.

Example::

    from kanbert_async import KanbertClient

    async with KanbertClient() as kb:          # reads KANBERT_API_TOKEN
        async for invoice in kb.outgoing_invoices.list(include=["line_items"]):
            print(invoice.invoice_number, invoice.sum_gross)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._client import DEFAULT_BASE_URL, KanbertClient
from ._core.auth import BearerToken
from ._core.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    InternalServerError,
    InvalidRequestError,
    KanbertError,
    NotFoundError,
    PaginationError,
    PermissionDeniedError,
    RateLimitError,
    ResponseDecodeError,
    UnprocessableEntityError,
)
from ._core.observe import Attempt, EventHooks, Hook
from ._core.ratelimit import LocalStore, RateLimitInfo, RateLimitStore
from ._core.retry import RetryPolicy
from ._core.settings import Timeout
from ._core.transport import Stats
from ._logging import setup_logging_from_env
from ._version import __version__

if TYPE_CHECKING:
    from ._core.download import BinaryResponse
    from ._core.fanout import FanOut, MapResult
    from ._core.model import Model
    from ._core.oauth import OAuth2, TokenPair
    from ._core.oauth_flow import build_authorize_url, exchange_code, generate_pkce_pair
    from ._core.operation import RequestOptions
    from ._core.page import Page
    from ._core.pager import AsyncPager
    from ._core.ratelimit.redis_store import RedisStore
    from ._core.raw import RawResponse
    from ._core.reporting import ResponseInfo
    from ._core.scan import PartitionedScan
    from .filters import Computed, F, desc

#: Names that load their module when first asked for: every program pays for what
#: ``import kanbert_async`` loads, and most use only some of these (listings, OAuth, sharing a
#: budget through Redis...). Type checkers see them through the imports above.
_LAZY = {
    "AsyncPager": "._core.pager",
    "BinaryResponse": "._core.download",
    "Computed": ".filters",
    "F": ".filters",
    "FanOut": "._core.fanout",
    "MapResult": "._core.fanout",
    "Model": "._core.model",
    "OAuth2": "._core.oauth",
    "Page": "._core.page",
    "PartitionedScan": "._core.scan",
    "RawResponse": "._core.raw",
    "RedisStore": "._core.ratelimit.redis_store",
    "RequestOptions": "._core.operation",
    "ResponseInfo": "._core.reporting",
    "TokenPair": "._core.oauth",
    "build_authorize_url": "._core.oauth_flow",
    "desc": ".filters",
    "exchange_code": "._core.oauth_flow",
    "generate_pkce_pair": "._core.oauth_flow",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # asked once: a plain attribute from then on
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "DEFAULT_BASE_URL",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncPager",
    "Attempt",
    "AuthenticationError",
    "BadRequestError",
    "BearerToken",
    "BinaryResponse",
    "Computed",
    "ConflictError",
    "EventHooks",
    "F",
    "FanOut",
    "Hook",
    "InternalServerError",
    "InvalidRequestError",
    "KanbertClient",
    "KanbertError",
    "LocalStore",
    "MapResult",
    "Model",
    "NotFoundError",
    "OAuth2",
    "Page",
    "PaginationError",
    "PartitionedScan",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimitInfo",
    "RateLimitStore",
    "RawResponse",
    "RedisStore",
    "RequestOptions",
    "ResponseDecodeError",
    "ResponseInfo",
    "RetryPolicy",
    "Stats",
    "Timeout",
    "TokenPair",
    "UnprocessableEntityError",
    "__version__",
    "build_authorize_url",
    "desc",
    "exchange_code",
    "generate_pkce_pair",
]

setup_logging_from_env()
