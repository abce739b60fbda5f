"""Bounded fan-out: run a coroutine per item, N at a time, results in completion order."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Generator, Iterable, Iterator
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
    cancels the rest and is raised; otherwise errors are collected per item. Breaking out of the
    loop (or cancelling it) cancels the calls still running.
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
        results = self.__aiter__()
        try:
            return [result async for result in results]
        finally:
            await results.aclose()

    def __aiter__(self) -> _Results[T, R]:
        return _Results(self)


async def _run(fn: Callable[[T], Awaitable[R]], item: T) -> MapResult[T, R]:
    try:
        return MapResult(item, await fn(item))
    except Exception as exc:  # collected per item; BaseException (cancellation) propagates
        return MapResult(item, error=exc)


class _Results(Generic[T, R]):
    """The results of a :class:`FanOut` as they complete (a class, not an async generator, so that
    dropping it on ``break`` cancels the calls still running at once, as the pagers do)."""

    def __init__(self, fanout: FanOut[T, R]) -> None:
        items = fanout._items
        self._fn = fanout._fn
        self._source: Iterator[T] | AsyncIterator[T] = (
            aiter(items) if isinstance(items, AsyncIterable) else iter(items)
        )
        self._concurrency = fanout._concurrency
        self._stop_on_error = fanout._stop_on_error
        # The tasks get the function and their item, not `self`: a task referring back to this
        # iterator would keep it alive, and __del__ could never cancel them on `break`.
        self._running: set[asyncio.Task[MapResult[T, R]]] = set()
        self._ready: collections.deque[MapResult[T, R]] = collections.deque()
        self._exhausted = False
        self._closed = False

    def __aiter__(self) -> _Results[T, R]:
        return self

    async def __anext__(self) -> MapResult[T, R]:
        if self._closed:
            raise StopAsyncIteration
        try:
            while not self._ready:
                await self._start_more()
                if not self._running:
                    raise StopAsyncIteration
                done, self._running = await asyncio.wait(self._running, return_when=asyncio.FIRST_COMPLETED)
                self._ready.extend(task.result() for task in done)
            result = self._ready.popleft()
            if result.error is not None and self._stop_on_error:
                raise result.error
            return result
        except BaseException:
            await self.aclose()
            raise

    async def _start_more(self) -> None:
        """Take items from the source while fewer than ``concurrency`` calls run (backpressure)."""
        while not self._exhausted and len(self._running) < self._concurrency:
            try:
                if isinstance(self._source, AsyncIterator):
                    item = await anext(self._source)
                else:
                    item = next(self._source)
            except (StopIteration, StopAsyncIteration):
                self._exhausted = True
                return
            self._running.add(asyncio.ensure_future(_run(self._fn, item)))

    async def aclose(self) -> None:
        """Stop: cancel the calls still running, wait for them, and close an async source."""
        if self._closed:
            return
        self._closed = True
        running, self._running = self._running, set()
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(BaseException):
                await task
        aclose = getattr(self._source, "aclose", None)
        if aclose is not None:
            await aclose()

    def __del__(self) -> None:
        # `break` out of `async for` drops the iterator without awaiting aclose(); cancel right away.
        for task in self._running:
            task.cancel()
