"""Crash-safe file operations: whatever instant a process dies, a file is either old or new."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import msgspec

__all__ = ["fsync_dir", "read_json", "write_atomic"]


def fsync_dir(directory: Path) -> None:
    """Persist a directory's entries (a rename is durable only once its directory is synced)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write-then-rename with fsync of the file and its directory."""
    temp = path.with_name(f".{path.name}.tmp")
    with temp.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temp, path)
    fsync_dir(path.parent)


def read_json(path: Path, type_: type[Any]) -> Any:
    """Decode a JSON file written by :func:`write_atomic` into ``type_``."""
    return msgspec.json.decode(path.read_bytes(), type=type_)
