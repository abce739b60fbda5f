"""Bounded fan-out: run a coroutine per item, N at a time, results in completion order."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Generator, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["FanOut", "MapResult"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class MapResult(Generic[T, R]):
    """The outcome for one item: ``value`` on success, ``error`` when its coroutine raised."""

    item: T
    value: R | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        """The coroutine returned normally."""
        return self.error is None


class FanOut(Generic[T, R]):
    """``fn`` over ``items`` with at most ``concurrency`` running; see :meth:`KanbertClient.map`.

    Async-iterate for results as they complete (the source is read only as fast as results are
    taken: backpressure), or ``await`` it for the list. With ``stop_on_error=True`` the first error
    cancels the rest and is raised; otherwise errors are collected per item.
    """

    def __init__(
        self,
        fn: Callable[[T], Awaitable[R]],
        items: Iterable[T] | AsyncIterable[T],
        *,
        concurrency: int,
        stop_on_error: bool,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, not {concurrency}")
        self._fn = fn
        self._items = items
        self._concurrency = concurrency
        self._stop_on_error = stop_on_error

    def __await__(self) -> Generator[Any, None, list[MapResult[T, R]]]:
        return self._collect().__await__()

    async def _collect(self) -> list[MapResult[T, R]]:
        return [result async for result in self]

    async def _run(self, item: T) -> MapResult[T, R]:
        try:
            return MapResult(item, await self._fn(item))
        except Exception as exc:  # collected per item; BaseException (cancellation) propagates
            return MapResult(item, error=exc)

    async def __aiter__(self) -> AsyncIterator[MapResult[T, R]]:
        source = _aiter(self._items)
        running: set[asyncio.Task[MapResult[T, R]]] = set()
        exhausted = False
        try:
            while True:
                while not exhausted and len(running) < self._concurrency:
                    try:
                        item = await anext(source)
                    except StopAsyncIteration:
                        exhausted = True
                        break
                    running.add(asyncio.ensure_future(self._run(item)))
                if not running:
                    return
                done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    result = task.result()
                    if result.error is not None and self._stop_on_error:
                        raise result.error
                    yield result
        finally:
            for task in running:
                task.cancel()
            for task in running:
                with contextlib.suppress(BaseException):
                    await task
            if hasattr(source, "aclose"):
                await source.aclose()


async def _aiter(items: Iterable[T] | AsyncIterable[T]) -> AsyncIterator[T]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item
