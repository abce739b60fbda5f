"""Binary downloads (an invoice PDF): read whole, streamed in chunks, or saved to a file atomically.

A save writes each attempt's body to a temporary file beside the destination and renames it into
place only when the whole body arrived, so the destination never holds a partial file. A body
that breaks off is an attempt like any other: the transport's retry layer starts it over.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from .errors import APIConnectionError
from .multipart import remove_file

if TYPE_CHECKING:
    from .operation import Operation, RequestOptions
    from .transport import Transport

__all__ = ["BinaryResponse"]

_CHUNK = 64 * 1024


class BinaryResponse:
    """A binary response (e.g. an invoice PDF), fetched when used.

    - ``data = await kb.outgoing_invoices.download_pdf(id)`` — the whole body as bytes (small files).
    - ``await kb.outgoing_invoices.download_pdf(id).save("invoice.pdf")`` — streamed to disk,
      written atomically (a temp file renamed into place), retried from the start if the
      connection drops mid-body. Returns the number of bytes written.
    - ``async with kb.outgoing_invoices.download_pdf(id).stream() as chunks: async for c in chunks`` —
      chunks as they arrive, never the whole body in memory.
    """

    def __init__(
        self, transport: Transport, operation: Operation[Any], url: str, options: RequestOptions | None
    ) -> None:
        self._transport = transport
        self._operation = operation
        self._url = url
        self._options = options
        #: Response headers of the last successful fetch (e.g. ``Content-Disposition``).
        self.headers: Mapping[str, str] = {}

    def __repr__(self) -> str:
        return f"<BinaryResponse {self._operation.id} {self._url}>"

    def __await__(self) -> Any:
        return self.read().__await__()

    async def read(self) -> bytes:
        """The whole body in memory."""
        response = await self._transport.send(self._operation, self._url, options=self._options)
        self.headers = response.headers
        return response.body

    @contextlib.asynccontextmanager
    async def stream(self, chunk_size: int = _CHUNK) -> AsyncIterator[AsyncIterator[bytes]]:
        """The body as an async iterator of chunks; the connection is released on exit.

        A body that breaks off midway raises :class:`APIConnectionError`; start the stream again.
        """
        async with self._transport.open_stream(self._operation, self._url, options=self._options) as response:
            self.headers = response.headers
            yield _Chunks(response, chunk_size, self._operation)

    async def save(self, destination: str | os.PathLike[str]) -> int:
        """Stream the body into ``destination`` atomically; returns the number of bytes written."""
        target = Path(destination)
        partial = _PartialFile(target)
        try:
            response = await self._transport.send(
                self._operation, self._url, options=self._options, reader=partial.write
            )
        except APIConnectionError as exc:
            raise type(exc)(
                f"{exc} Nothing was written to {target}.", method=exc.method, url=exc.url
            ) from exc
        assert partial.path is not None
        os.replace(partial.path, target)
        self.headers = response.headers
        return partial.size


class _PartialFile:
    """A save's temporary file beside its destination, written afresh by each attempt."""

    def __init__(self, target: Path) -> None:
        self._target = target
        self.path: Path | None = None
        self.size = 0

    async def write(self, response: aiohttp.ClientResponse) -> bytes:
        """Write the body to a new temporary file (removed again if the body fails to arrive)."""
        # A unique name per attempt: two saves to one destination must not write one partial file.
        fd, name = tempfile.mkstemp(prefix=f".{self._target.name}.", suffix=".part", dir=self._target.parent)
        self.path = Path(name)
        try:
            size = 0
            with os.fdopen(fd, "wb") as out:
                while chunk := await response.content.read(_CHUNK):
                    out.write(chunk)
                    size += len(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            remove_file(self.path)
            self.path = None
            raise
        self.size = size
        return b""


class _Chunks:
    """A response body as chunks; transport failures mid-body surface as :class:`APIConnectionError`."""

    def __init__(self, response: aiohttp.ClientResponse, chunk_size: int, operation: Operation[Any]) -> None:
        self._response = response
        self._chunk_size = chunk_size
        self._operation = operation

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> bytes:
        try:
            chunk = await self._response.content.read(self._chunk_size)
        except (aiohttp.ClientError, TimeoutError) as exc:
            url = str(self._response.url)
            raise APIConnectionError(
                f"{self._operation.id}: {self._operation.method} {url} broke off mid-body "
                f"({type(exc).__name__}). Nothing after the chunks already received will arrive; "
                "start the download again.",
                method=self._operation.method,
                url=url,
            ) from exc
        if not chunk:
            raise StopAsyncIteration
        return chunk
