"""Binary downloads of the blocking client: :class:`SyncBinaryResponse`."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from .._core.download import BinaryResponse
from .portal import Portal

__all__ = ["SyncBinaryResponse"]

_DONE: Any = object()


class SyncBinaryResponse:
    """A binary response (an invoice PDF), fetched when used:

    - ``kb.outgoing_invoices.download_pdf(id).read()`` — the body as bytes;
    - ``.save("invoice.pdf")`` — streamed to disk atomically, retried from the start if it breaks off;
    - ``with .stream() as chunks: for chunk in chunks`` — chunks as they arrive.
    """

    def __init__(self, response: BinaryResponse, portal: Portal) -> None:
        self._response = response
        self._portal = portal

    def __repr__(self) -> str:
        return f"<Sync{self._response!r}"[:-1] + ">"

    @property
    def headers(self) -> Mapping[str, str]:
        """Response headers of the last successful fetch."""
        return self._response.headers

    def read(self) -> bytes:
        """The whole body in memory."""
        return self._portal.run(self._response.read())

    def save(self, destination: str | os.PathLike[str]) -> int:
        """Stream the body into ``destination`` atomically; returns the bytes written."""
        return self._portal.run(self._response.save(destination))

    @contextlib.contextmanager
    def stream(self, chunk_size: int = 64 * 1024) -> Iterator[Iterator[bytes]]:
        """The body as an iterator of chunks; the connection is released on exit."""
        opened = self._response.stream(chunk_size)
        chunks = self._portal.run(opened.__aenter__())
        try:
            yield self._chunks(chunks)
        finally:
            self._portal.run(opened.__aexit__(*sys.exc_info()))

    def _chunks(self, chunks: AsyncIterator[bytes]) -> Iterator[bytes]:
        while (chunk := self._portal.run(_next(chunks))) is not _DONE:
            yield chunk


async def _next(chunks: AsyncIterator[bytes]) -> Any:
    try:
        return await chunks.__anext__()
    except StopAsyncIteration:
        return _DONE
