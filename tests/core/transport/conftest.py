"""Fixtures of the transport tests: a loopback server and a client factory that closes its clients."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import aiohttp
import aioresponses.core
import pytest
from yarl import URL

from kanbert_async import KanbertClient, RetryPolicy
from tests.core.transport.loopback import TOKEN, LoopbackServer


@pytest.fixture
async def server() -> AsyncIterator[LoopbackServer]:
    srv = LoopbackServer()
    yield srv
    await srv.stop()


@pytest.fixture
def fast_retry() -> RetryPolicy:
    return RetryPolicy(max_retries=3, backoff_base=0.01, backoff_max=0.05)


@pytest.fixture
async def make_client(fast_retry: RetryPolicy) -> AsyncIterator[Callable[..., KanbertClient]]:
    clients: list[KanbertClient] = []

    def make(base_url: str, **kwargs: Any) -> KanbertClient:
        kwargs.setdefault("retry", fast_retry)
        if "auth" not in kwargs:
            kwargs.setdefault("token", TOKEN)
        client = KanbertClient(base_url=base_url, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


class _CompatClientResponse(aiohttp.ClientResponse):
    """aioresponses 0.7.9 builds responses without ``stream_writer``, which aiohttp 3.14 requires."""

    def __init__(self, method: str, url: URL, **kwargs: Any) -> None:
        if _NEEDS_STREAM_WRITER and "stream_writer" not in kwargs:
            kwargs["stream_writer"] = SimpleNamespace(output_size=0)
        super().__init__(method, url, **kwargs)


_NEEDS_STREAM_WRITER = "stream_writer" in inspect.signature(aiohttp.ClientResponse.__init__).parameters


@pytest.fixture(autouse=True)
def _aioresponses_compat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aioresponses.core, "ClientResponse", _CompatClientResponse)
