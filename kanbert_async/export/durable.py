"""Crash-safe file operations: whatever instant a process dies, a file is either old or new.

Small files are written whole (:func:`write_atomic`); large ones grow under a temporary name and
are renamed into place when complete (:class:`AtomicFile`); the part files of a running export
are cut back to their last committed sizes when a run starts again (:class:`PartWriter`).
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

import msgspec

__all__ = ["AtomicFile", "PartWriter", "fsync_dir", "read_json", "sha256_of", "write_atomic"]

_CHUNK = 1 << 20


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


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file's contents, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class AtomicFile:
    """A final file written under a temporary name and renamed into place when complete."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.temp = target.with_name(f".{target.name}.tmp")
        self.digest = hashlib.sha256()
        self.handle = self.temp.open("wb")

    def write(self, data: bytes) -> None:
        """Append ``data``."""
        self.handle.write(data)
        self.digest.update(data)

    def write_from(self, source: Path) -> None:
        """Append the whole of the file ``source``, in chunks."""
        with source.open("rb") as piece:
            while chunk := piece.read(_CHUNK):
                self.write(chunk)

    def commit(self) -> str:
        """Sync the file and rename it into place; returns its sha256."""
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        os.replace(self.temp, self.target)
        return self.digest.hexdigest()


class PartWriter:
    """The part files of one partition in ``directory``, appended page by page; a page counts once
    :meth:`sync` has run and the caller has recorded :meth:`sizes` as committed."""

    def __init__(self, directory: Path, names: list[str], committed: dict[str, int]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.files: dict[str, io.BufferedRandom] = {}
        for name in names:
            path = directory / name
            handle = path.open("r+b" if path.exists() else "w+b")
            # Drop whatever a killed run wrote after its last commit.
            handle.truncate(committed.get(name, 0))
            handle.seek(0, os.SEEK_END)
            self.files[name] = handle

    def append(self, name: str, data: bytes) -> None:
        """Append ``data`` to the part file ``name``."""
        self.files[name].write(data)

    def sizes(self) -> dict[str, int]:
        """Each part file's size, as a checkpoint records it."""
        return {name: handle.tell() for name, handle in self.files.items()}

    def sync(self) -> None:
        """Flush and fsync every part file."""
        for handle in self.files.values():
            handle.flush()
            os.fsync(handle.fileno())

    def close(self) -> None:
        """Close every part file."""
        for handle in self.files.values():
            handle.close()
