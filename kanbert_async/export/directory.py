"""Which files in a directory an export of kanbert-async made — the only ones the tool may delete."""

from __future__ import annotations

import shutil
from pathlib import Path

import msgspec

from .entities import ENTITIES

__all__ = ["clear_own_export", "own_export_files"]

_WORK_DIR = ".kanbert-export"
_MANIFEST = "manifest.json"
_PDF_DIR = "pdfs"
_SUFFIXES = (".jsonl", ".csv", ".parquet")


def _names_an_export_writes() -> set[str]:
    stems = {e.stem for e in ENTITIES.values()} | {c for e in ENTITIES.values() for c in e.children}
    names = {f"{stem}{suffix}" for stem in stems for suffix in _SUFFIXES}
    return names | {f".{name}.tmp" for name in names} | {_MANIFEST, f".{_MANIFEST}.tmp"}


def own_export_files(out: Path) -> list[Path] | None:
    """The files of a finished or unfinished export in ``out``, or None if anything else is there.

    A finished export is known by its manifest (every file it lists, and the manifest); an
    unfinished one by the working directory with its state, and the names an export writes.
    """
    try:
        manifest = msgspec.json.decode((out / _MANIFEST).read_bytes())
    except (OSError, msgspec.DecodeError):
        manifest = None
    finished = isinstance(manifest, dict) and str(manifest.get("sdk", "")).startswith("kanbert-async")
    unfinished = (out / _WORK_DIR / "state.json").is_file()
    if not finished and not unfinished:
        return None
    listed = set(manifest.get("files", {})) if finished and isinstance(manifest, dict) else set()
    allowed = listed | {_MANIFEST} | (_names_an_export_writes() if unfinished else set())
    found: list[Path] = []
    for path in sorted(out.rglob("*")):
        relative = path.relative_to(out)
        if relative.parts[0] == _WORK_DIR or (path.is_dir() and relative.as_posix() == _PDF_DIR):
            continue
        name = relative.as_posix()
        own_pdf = unfinished and relative.parts[0] == _PDF_DIR and path.suffix == ".pdf"
        if path.is_dir() or (name not in allowed and not own_pdf):
            return None
        found.append(path)
    return found


def clear_own_export(out: Path) -> bool:
    """Delete an export of kanbert-async in ``out`` file by file; False (nothing deleted) if
    ``out`` holds anything else. A missing or empty ``out`` counts as cleared."""
    if not out.exists() or not any(out.iterdir()):
        return True
    files = own_export_files(out)
    if files is None:
        return False
    for path in files:
        path.unlink()
    pdfs = out / _PDF_DIR
    if pdfs.is_dir() and not any(pdfs.iterdir()):
        pdfs.rmdir()
    shutil.rmtree(out / _WORK_DIR, ignore_errors=True)
    return True
