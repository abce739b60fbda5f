"""Multipart uploads: file arguments made replayable and measured before anything is sent.

A file argument (bytes, a path, or an async stream of chunks) is spooled once per call: kept as
bytes, read from its path, or — for a stream — buffered in memory while small and in a temporary
file once large. Each attempt then builds a fresh form from the spool (retries resend it), and a
file over the operation's limit is refused before the first byte goes out.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from .encoding import encode_form_fields, is_unset
from .errors import InvalidRequestError

if TYPE_CHECKING:
    from .operation import Operation

__all__ = ["Spooled", "form_data", "remove_file", "spool_files"]

_SPOOL_IN_MEMORY = 1024 * 1024
#: The size limit of a file field the description states none for.
_NO_LIMIT = 2**63


@dataclass(slots=True)
class Spooled:
    """A file argument made replayable (retries resend it) and measured before anything is sent."""

    filename: str
    size: int
    data: bytes | None = None
    path: Path | None = None
    #: A temporary file this spool created (a large stream), deleted on close.
    temp: Path | None = None

    def open_payload(self) -> Any:
        """What one attempt's form sends for this file."""
        # A fresh file object per attempt: aiohttp closes the one it was given once it is sent.
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.open("rb")

    def close(self) -> None:
        """Delete the temporary file this spool created, if any."""
        if self.temp is not None:
            remove_file(self.temp)


async def spool_files(operation: Operation[Any], body: Mapping[str, Any] | None) -> dict[str, Spooled]:
    """Every file argument of ``body``, spooled and checked against the operation's size limits."""
    files: dict[str, Spooled] = {}
    for name in dict.fromkeys([*operation.files, *operation.file_limits]):
        value = (body or {}).get(name)
        if is_unset(value):
            continue
        spooled = await _spool(value, name, operation.file_limits.get(name, _NO_LIMIT), operation.id)
        files[name] = spooled
    return files


def _too_large(
    operation_id: str, name: str, size: int, limit: int, *, more: bool = False
) -> InvalidRequestError:
    # Sizes in bytes and the limit in its own binary megabytes: "15.0 MB, over the 15 MB limit"
    # would read as a contradiction.
    return InvalidRequestError(
        f"{operation_id}: {name!r} is {size:,} bytes{' or more' if more else ''}, over the API's limit of "
        f"{limit / 2**20:.0f} MB ({limit:,} bytes); nothing was sent. "
        "Compress the file or pass a public file_url instead."
    )


async def _spool(value: Any, name: str, limit: int, operation_id: str) -> Spooled:
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        if len(data) > limit:
            raise _too_large(operation_id, name, len(data), limit)
        return Spooled(filename=f"{name}.pdf", size=len(data), data=data)
    if isinstance(value, str | os.PathLike):
        path = Path(value)
        try:
            size = os.stat(path).st_size
        except OSError as exc:
            raise InvalidRequestError(
                f"{operation_id}: cannot read {name!r} from {path}: {exc.strerror}"
            ) from exc
        if size > limit:
            raise _too_large(operation_id, name, size, limit)
        return Spooled(filename=path.name, size=size, path=path)
    if hasattr(value, "__aiter__"):
        return await _spool_stream(value, name, limit, operation_id)
    raise InvalidRequestError(
        f"{operation_id}: {name!r} must be bytes, a file path, or an async iterator of bytes, "
        f"not {type(value).__name__}"
    )


async def _spool_stream(value: Any, name: str, limit: int, operation_id: str) -> Spooled:
    """Read a stream once, into memory while small, else into a named temporary file."""
    buffer = bytearray()
    temp: Any = None
    size = 0
    try:
        async for chunk in value:
            size += len(chunk)
            if size > limit:
                raise _too_large(operation_id, name, size, limit, more=True)
            if temp is None:
                buffer += chunk
                if len(buffer) > _SPOOL_IN_MEMORY:
                    temp = tempfile.NamedTemporaryFile(prefix="kanbert-upload-", suffix=".part", delete=False)  # noqa: SIM115
                    temp.write(buffer)
                    buffer.clear()
            else:
                temp.write(chunk)
    except BaseException:
        if temp is not None:
            temp.close()
            remove_file(temp.name)
        raise
    if temp is None:
        return Spooled(filename=f"{name}.pdf", size=size, data=bytes(buffer))
    temp.close()
    return Spooled(filename=f"{name}.pdf", size=size, path=Path(temp.name), temp=Path(temp.name))


def remove_file(path: str | os.PathLike[str]) -> None:
    """Delete ``path`` if it is there."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def form_data(body: Mapping[str, Any], files: Mapping[str, Spooled]) -> aiohttp.FormData:
    """One attempt's multipart form: the fields PHP-style, each file from its spool."""
    # Always multipart, as the operation declares, also when only file_url and fields are sent.
    form = aiohttp.FormData(default_to_multipart=True)
    for name, value in body.items():
        if name in files:
            spooled = files[name]
            form.add_field(
                name, spooled.open_payload(), filename=spooled.filename, content_type="application/pdf"
            )
            continue
        for field_name, text in encode_form_fields(name, value):
            form.add_field(field_name, text)
    return form
