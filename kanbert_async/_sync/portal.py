"""The private event-loop thread of a blocking client, and how a blocking call waits on it.

One daemon thread per client runs an asyncio loop forever; :meth:`Portal.run` submits a coroutine
to it and blocks the calling thread until it finishes (Ctrl-C cancels it in the loop). Any number
of threads may call at once. The last call's :class:`~kanbert_async.ResponseInfo` is kept per
calling thread (``kb.last_response``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from .._core.errors import KanbertError
from .._core.reporting import LastResponse, ResponseInfo

__all__ = ["Portal"]

R = TypeVar("R")


class Portal:
    """An event loop in a thread of its own, and blocking calls into it."""

    def __init__(self, last_response: LastResponse) -> None:
        self._last_response = last_response
        self._local = threading.local()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name="kanbert-async-loop", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    @property
    def closed(self) -> bool:
        """Whether the loop has stopped."""
        return self.loop.is_closed() or not self._thread.is_alive()

    def run(self, coroutine: Coroutine[Any, Any, R]) -> R:
        """Run ``coroutine`` on the loop thread and return its result (or raise its error)."""
        if self.closed:
            coroutine.close()
            raise KanbertError("the client is closed; create a new KanbertClient (or use `with`)")
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise KanbertError(
                "a blocking client method was called from one of its own hooks; hooks run on the "
                "client's event loop and must not call the client"
            )
        future = asyncio.run_coroutine_threadsafe(self._tracked(coroutine), self.loop)
        try:
            result, info = future.result()
        except BaseException:
            future.cancel()  # Ctrl-C while waiting: stop the request too
            raise
        if info is not None:
            self._local.last = info
        return result

    async def _tracked(self, coroutine: Coroutine[Any, Any, R]) -> tuple[R, ResponseInfo | None]:
        result = await coroutine
        return result, self._last_response.get()

    def last_response(self) -> ResponseInfo | None:
        """The last successful call made from the calling thread."""
        last: ResponseInfo | None = getattr(self._local, "last", None)
        return last

    def close(self, final: Coroutine[Any, Any, None] | None = None) -> None:
        """Run ``final`` (closing the session), then stop the loop and its thread."""
        if self.closed:
            if final is not None:
                final.close()
            return
        if final is not None:
            asyncio.run_coroutine_threadsafe(final, self.loop).result()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()

    def close_soon(self, final: Coroutine[Any, Any, None]) -> None:
        """Close without waiting (from a finaliser): ``final`` runs, then the loop stops."""
        if self.closed:
            final.close()
            return

        async def finish() -> None:
            try:
                await final
            finally:
                self.loop.stop()

        self.loop.call_soon_threadsafe(lambda: self.loop.create_task(finish()))
