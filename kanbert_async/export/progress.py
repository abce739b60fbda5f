"""Progress of an export: a live line on a terminal, periodic log lines otherwise (CI, pipes)."""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

__all__ = ["Progress"]


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return (
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        if seconds >= 3600
        else f"{seconds // 60}:{seconds % 60:02d}"
    )


class Progress:
    """Called with a snapshot after every committed page; renders at most a few times a second."""

    def __init__(
        self, stream: TextIO | None = None, *, live: bool | None = None, interval: float = 5.0
    ) -> None:
        # sys.stderr as it is now, not as it was when this module was imported (it may be replaced).
        stream = sys.stderr if stream is None else stream
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self.interval = 0.2 if self.live else interval
        self._last = 0.0
        self._snapshot: dict[str, Any] | None = None

    def __call__(self, snapshot: dict[str, Any]) -> None:
        """Take the latest snapshot; render it if the last rendering is old enough."""
        self._snapshot = snapshot
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self._render(snapshot)

    def clear_line(self) -> str:
        """What to write before another line of output so it does not run into the live line."""
        return "\r\x1b[K" if self.live else ""

    def _line(self, s: dict[str, Any]) -> str:
        rate = s["items"] / s["elapsed"] if s["elapsed"] > 0 else 0.0
        eta = ""
        if 0 < s["fraction"] < 1:
            eta = f", ETA {_duration(s['elapsed'] * (1 - s['fraction']) / s['fraction'])}"
        return (
            f"{s['items']} records saved ({rate:.0f}/s), {s['pdfs']} PDFs, "
            f"{s['partitions_done']}/{s['partitions']} partitions done, {s['requests']} requests, "
            f"{s['retries']} retries, {s['rate_limited']} × 429, {_duration(s['elapsed'])} elapsed{eta}"
        )

    def _render(self, snapshot: dict[str, Any]) -> None:
        if self.live:
            self.stream.write("\r\x1b[K" + self._line(snapshot))
        else:
            self.stream.write("export: " + self._line(snapshot) + "\n")
        self.stream.flush()

    def close(self) -> None:
        """Show the final state and end the live line."""
        if self._snapshot is not None:
            self._render(self._snapshot)
        if self.live:
            self.stream.write("\n")
            self.stream.flush()
