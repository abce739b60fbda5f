"""The state of a running export — what survives a kill — and how a run finds it: a new export,
an unfinished one resumed, or the next ``--since-last`` generation of a finished one; refused,
with what to do instead, when ``--out`` holds anything else.

The state (``.kanbert-export/state.json``) holds the options, the fixed partition plan, and per
partition the cursor and part-file sizes of its last committed page; it is rewritten atomically
at every commit (:class:`Checkpoint`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import msgspec

from .._client import KanbertClient
from .._core.scan import PartitionRange
from .config import ExportError
from .durable import read_json, write_atomic
from .output import MANIFEST, STATE_FILE, WORK_DIR, Output

__all__ = [
    "AlreadyFinished",
    "Checkpoint",
    "PartState",
    "State",
    "open_state",
    "range_from_json",
    "range_to_json",
]

#: Identity keys that may differ between runs of one export: they shape no output (a cursor names
#: a position in the listing, not a page).
_RUN_ONLY_KEYS = frozenset({"page_size"})


class PartState(msgspec.Struct):
    """One partition: where its walk stands, and what its part files held at the last commit."""

    cursor: str | None = None
    done: bool = False
    sizes: dict[str, int] = {}
    counts: dict[str, int] = {}


class State(msgspec.Struct):
    """Everything a resumed run needs to write the bytes an uninterrupted one would."""

    identity: dict[str, Any]
    base_url: str
    started_at: str
    plan_field: str
    plan: list[dict[str, Any]] = []
    parts: dict[str, PartState] = {}
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    runs: int = 0
    #: "full", or "since-last" for an increment merged into a finished export.
    mode: str = "full"
    generation: int = 1
    #: The newest ``updated_at`` when this run began: where the next --since-last stops.
    watermark: str | None = None
    #: For --since-last: the previous generation's watermark, where this run's walk stops.
    since_watermark: str | None = None
    #: For --since-last, once merging began: how many records were added and updated.
    changes: dict[str, int] | None = None


class AlreadyFinished(Exception):
    """--resume found the same export already complete (a run killed during its final cleanup)."""

    def __init__(self, manifest: dict[str, Any]) -> None:
        super().__init__("the export is already finished")
        self.manifest = manifest


def range_to_json(r: PartitionRange) -> dict[str, Any]:
    """A partition's range as the state stores it."""

    def encode(value: Any) -> Any:
        return value.isoformat() if isinstance(value, dt.date) else value

    return {"low": encode(r.low), "high": encode(r.high), "nulls": r.nulls}


def range_from_json(data: dict[str, Any]) -> PartitionRange:
    """A partition's range from the state."""

    def decode(value: Any) -> Any:
        if isinstance(value, str):
            return dt.datetime.fromisoformat(value) if "T" in value else dt.date.fromisoformat(value)
        return value

    return PartitionRange(decode(data["low"]), decode(data["high"]), data["nulls"])


class Checkpoint:
    """Writes the state atomically; the request counts it records include earlier runs'."""

    def __init__(self, output: Output, kb: KanbertClient, state: State) -> None:
        self.path = output.work / STATE_FILE
        self.kb = kb
        self.state = state
        self._earlier = (state.requests, state.retries, state.rate_limited)

    async def save(self) -> None:
        """Record this run's requests so far, then write the state."""
        state, stats = self.state, self.kb.stats
        state.requests, state.retries, state.rate_limited = (
            self._earlier[0] + stats.requests,
            self._earlier[1] + stats.retries,
            self._earlier[2] + stats.rate_limited,
        )
        await asyncio.to_thread(write_atomic, self.path, msgspec.json.encode(state))


def read_manifest(output: Output) -> dict[str, Any] | None:
    """The manifest of a finished export in ``--out``, or None if there is none (or not ours)."""
    try:
        manifest = msgspec.json.decode((output.out / MANIFEST).read_bytes())
    except (OSError, msgspec.DecodeError):
        return None
    return manifest if isinstance(manifest, dict) and isinstance(manifest.get("identity"), dict) else None


def open_state(output: Output, base_url: str) -> tuple[State, dict[str, Any] | None]:
    """The state this run continues or starts, and for --since-last the manifest it adds to.

    Raises :class:`AlreadyFinished` when --resume finds the same export complete, and
    ExportError when ``--out`` holds something this run may not continue or overwrite.
    """
    config, out = output.config, output.out
    if out.exists() and not out.is_dir():
        raise ExportError(f"--out {out} is a file; choose a directory (new or empty)")
    state_path = output.work / STATE_FILE
    if state_path.exists():
        return _resume(output, base_url)
    manifest = read_manifest(output)
    if (out / MANIFEST).exists():
        if config.since_last:
            return _next_generation(output, base_url, manifest)
        if config.resume and manifest is not None and not _differing(output, manifest["identity"]):
            raise AlreadyFinished(manifest)
        raise ExportError(
            f"{out} already holds a finished export; add --since-last to bring it up to date, "
            "or choose an empty --out directory"
        )
    if config.since_last:
        raise ExportError(
            f"--since-last: {out} holds no finished export to continue; run a full export first "
            "(without --since-last)"
        )
    # A run killed before its first checkpoint leaves at most an empty working directory:
    # starting afresh is then exactly what resuming it means.
    leftovers = [p for p in out.iterdir() if p.name != WORK_DIR] if out.exists() else []
    if leftovers:
        raise ExportError(
            f"{out} is not empty and holds no export of kanbert-async; choose an empty or new "
            "--out directory (nothing in it was changed)"
        )
    return _new_state(output, base_url, mode="full", generation=1), None


def _differing(output: Output, identity: dict[str, Any]) -> list[str]:
    mine = output.config.identity()
    return sorted(
        k for k in mine.keys() | identity.keys() if k not in _RUN_ONLY_KEYS and mine.get(k) != identity.get(k)
    )


def _new_state(
    output: Output, base_url: str, *, mode: str, generation: int, since_watermark: str | None = None
) -> State:
    return State(
        identity=output.config.identity(),
        base_url=base_url,
        started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        plan_field="",
        runs=1,
        mode=mode,
        generation=generation,
        since_watermark=since_watermark,
    )


def _resume(output: Output, base_url: str) -> tuple[State, dict[str, Any] | None]:
    config, out = output.config, output.out
    state_path = output.work / STATE_FILE
    incremental = "--since-last --resume"
    try:
        state: State = read_json(state_path, State)
    except (msgspec.DecodeError, msgspec.ValidationError, OSError) as exc:
        raise ExportError(f"cannot read the export state in {state_path}: {exc}") from None
    if not config.resume:
        again = incremental if state.mode == "since-last" else "--resume"
        raise ExportError(
            f"{out} already holds an unfinished export; add {again} to continue it, "
            "or choose an empty --out directory"
        )
    if state.mode == "since-last" and not config.since_last:
        raise ExportError(f"{out} holds an unfinished --since-last run; continue it with {incremental}")
    if state.mode != "since-last" and config.since_last:
        raise ExportError(
            f"{out} holds an unfinished full export; finish it with --resume (without --since-last) "
            "before adding what changed"
        )
    differing = _differing(output, state.identity)
    if differing:
        raise ExportError(
            f"--resume: {out} holds a different export (it differs in: {', '.join(differing)}); "
            "rerun with the original options or choose another --out"
        )
    if state.base_url != base_url:
        raise ExportError(f"--resume: {out} was exported from {state.base_url}, not {base_url}")
    previous = None
    if state.mode == "since-last":
        previous = read_manifest(output)
        if previous is None:
            raise ExportError(f"--since-last: the manifest in {out} is missing or unreadable")
    state.runs += 1
    return state, previous


def _next_generation(
    output: Output, base_url: str, manifest: dict[str, Any] | None
) -> tuple[State, dict[str, Any]]:
    out = output.out
    if manifest is None:
        raise ExportError(f"--since-last: cannot read {out / MANIFEST}; run a full export into a new --out")
    differing = _differing(output, manifest["identity"])
    if differing:
        raise ExportError(
            f"--since-last: the export in {out} was made with other options (they differ in: "
            f"{', '.join(differing)}); rerun with its options, which manifest.json lists under identity"
        )
    if manifest.get("base_url") != base_url:
        raise ExportError(f"--since-last: {out} was exported from {manifest.get('base_url')}, not {base_url}")
    if output.csv_columns and manifest.get("csv_formula_guard") != output.dialect.formula_guard():
        # An export of an earlier version: merging would mix guarded and unguarded cells.
        raise ExportError(
            f"--since-last: the CSV files in {out} guard formula cells differently than this version of "
            f"kanbert-async does for --csv-dialect {output.dialect.name}; run a full export into a new --out"
        )
    capabilities = output.plan.capabilities
    if capabilities is None or "updated_at" not in capabilities.sorts:
        raise ExportError(f"--since-last: {output.entity.name} cannot be sorted by updated_at")
    state = _new_state(
        output,
        base_url,
        mode="since-last",
        generation=int(manifest.get("generation", 1)) + 1,
        since_watermark=manifest.get("watermark"),
    )
    return state, manifest
