"""kanbert-async: the async-first, fast, typed Python SDK for the Kanbert REST API.

Example::

    from kanbert_async import KanbertClient

    async with KanbertClient() as kb:          # reads KANBERT_API_TOKEN
        async for invoice in kb.outgoing_invoices.list(include=["line_items"]):
            print(invoice.invoice_number, invoice.sum_gross)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._client import DEFAULT_BASE_URL, KanbertClient
from ._core.auth import BearerToken
from ._core.download import BinaryResponse
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
from ._core.fanout import FanOut, MapResult
from ._core.model import Model
from ._core.oauth import OAuth2, TokenPair
from ._core.oauth_flow import build_authorize_url, exchange_code, generate_pkce_pair
from ._core.observe import Attempt, EventHooks, Hook
from ._core.operation import RequestOptions
from ._core.page import Page
from ._core.pager import AsyncPager
from ._core.ratelimit import LocalStore, RateLimitInfo, RateLimitStore
from ._core.raw import RawResponse
from ._core.reporting import ResponseInfo
from ._core.retry import RetryPolicy
from ._core.scan import PartitionedScan
from ._core.settings import Timeout
from ._core.transport import Stats
from ._logging import setup_logging_from_env
from ._version import __version__
from .filters import Computed, F, desc

if TYPE_CHECKING:
    from ._core.ratelimit.redis_store import RedisStore


def __getattr__(name: str) -> object:
    # RedisStore (and the shared limiter behind it) loads when asked for: most programs never share
    # a budget, and every program pays for what `import kanbert_async` loads.
    if name == "RedisStore":
        from ._core.ratelimit.redis_store import RedisStore

        return RedisStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
