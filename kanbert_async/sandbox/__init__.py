"""A local, stateful Kanbert for demos, end-to-end tests, benchmarks and your own tests.

It serves the outgoing-invoice operations of the API description on loopback with realistic,
seeded data, Laravel's cursor pagination, filters in both formats, scopes, OAuth with rotating
refresh tokens, Laravel's throttle, and on request, bad days (latency, errors, drops)::

    from kanbert_async import KanbertClient
    from kanbert_async.sandbox import Sandbox

    async with Sandbox(invoices=5000, seed=1) as sb:
        async with KanbertClient(sb.token, base_url=sb.base_url) as kb:
            async for invoice in kb.outgoing_invoices.list(include=["line_items"]):
                ...

From a shell: ``python -m kanbert_async.sandbox --port 8765 --invoices 5000 --seed 1``.
"""

from __future__ import annotations

from .app import create_app
from .auth import OAuthTokens
from .buckets import RateLimitBucket
from .config import SandboxConfig
from .counters import Counters
from .faults import FAULT_KINDS, FaultKind
from .server import Sandbox
from .store import Store

__all__ = [
    "FAULT_KINDS",
    "Counters",
    "FaultKind",
    "OAuthTokens",
    "RateLimitBucket",
    "Sandbox",
    "SandboxConfig",
    "Store",
    "create_app",
]
