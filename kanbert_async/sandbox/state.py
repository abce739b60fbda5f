"""What the handlers share: the store, tokens, counters, faults, throttle, router and listers."""

from __future__ import annotations

import asyncio
import dataclasses

from aiohttp import web

from .auth import TokenRegistry
from .buckets import Throttles
from .config import SandboxConfig
from .counters import Counters
from .faults import FaultInjector
from .listing import Lister
from .paging import CursorCodec
from .routing import Router
from .store import Store

__all__ = ["STATE", "SandboxState"]


@dataclasses.dataclass(slots=True)
class SandboxState:
    """Everything the handlers share; one per application."""

    config: SandboxConfig
    store: Store
    tokens: TokenRegistry
    counters: Counters
    faults: FaultInjector
    #: The main throttle and the extra buckets' (None: no rate limit).
    throttles: Throttles | None
    router: Router
    codec: CursorCodec
    listers: dict[str, Lister]
    closing: asyncio.Event
    #: The all-scopes bearer token (``config.token``, or a random one).
    token: str


STATE = web.AppKey("kanbert_sandbox_state", SandboxState)
