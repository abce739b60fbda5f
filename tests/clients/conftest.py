"""Both clients, the async one and the blocking one, through the same tests against the sandbox.

Each test here runs twice (``kb`` is either client). It is written once, for both: ``await
ready(x)`` takes what a call returned (a coroutine for the async client, the result for the
blocking one) and ``each(x)`` iterates either kind of iterable. The sandbox runs in a thread of its
own (the plugin's ``kanbert_sandbox``), so a blocking call made from the test's loop cannot starve it.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from typing import Any

import pytest

from kanbert_async import KanbertClient, RetryPolicy
from kanbert_async.sandbox import Sandbox
from kanbert_async.sync import KanbertClient as SyncKanbertClient

FAST_RETRY = RetryPolicy(max_retries=4, backoff_base=0.01, backoff_max=0.05)


async def ready(value: Any) -> Any:
    """The result of a call of either client."""
    return await value if inspect.isawaitable(value) else value


async def each(values: AsyncIterable[Any] | Iterable[Any]) -> AsyncIterator[Any]:
    """The items of an async or a blocking iterable."""
    if isinstance(values, AsyncIterable):
        async for value in values:
            yield value
    else:
        for value in values:
            yield value


@pytest.fixture(params=["async", "sync"])
async def kb(request: pytest.FixtureRequest, kanbert_sandbox: Sandbox) -> AsyncIterator[Any]:
    options: dict[str, Any] = {"base_url": kanbert_sandbox.base_url, "retry": FAST_RETRY}
    if request.param == "async":
        async with KanbertClient(kanbert_sandbox.token, **options) as client:
            yield client
    else:
        with SyncKanbertClient(kanbert_sandbox.token, **options) as blocking:
            yield blocking
