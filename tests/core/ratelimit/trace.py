"""One matrix cell, request by request: when each reached the server, whether it passed, and the
rate-limit headers of its answer. A developer tool: the matrix says which cells miss a bar, this
says where one loses its time.

    python -m tests.core.ratelimit.trace 10/s fixed none/date 0.05 fan
    python -m tests.core.ratelimit.trace --slowapi 10/s sliding-window-counter seconds 0.05 scan

The server is named as the matrix prints it: a rate, a throttle, what its answers say (the
sandbox's ``laravel/seconds``, ``none/omit``, ...; slowapi's ``seconds``, ``http-date`` or
``none``), a latency, and a workload (``scan``, ``fan``, ``walked``).
"""

from __future__ import annotations

import dataclasses
import sys
import time

from .matrix import WORKLOADS, server_name, servers
from .simulation import Answers, ThrottledServer, allowed_seconds, measure

_SAID = ("x-ratelimit-", "ratelimit", "retry-after")


@dataclasses.dataclass
class Answered:
    """One request the server counted (any client's): at what virtual time, the unix time it
    read then, and its answer."""

    at: float
    wall: float
    passed: bool
    headers: dict[str, str]

    def said(self) -> str:
        """The answer's rate-limit headers; a reset given as unix time, as seconds from then."""
        words = []
        for name, value in sorted(self.headers.items()):
            if not name.lower().startswith(_SAID):
                continue
            try:
                stamp = float(value)
            except ValueError:
                stamp = 0.0
            words.append(f"{name}=+{stamp - self.wall:.3f}s" if stamp > 1e9 else f"{name}={value}")
        return " ".join(words)


@dataclasses.dataclass
class _RecordingAnswers:
    inner: Answers
    log: list[Answered]

    def answer(self, wall: float) -> tuple[bool, dict[str, str]]:
        passed, headers = self.inner.answer(wall)
        self.log.append(Answered(time.monotonic(), wall, passed, headers))
        return passed, headers


@dataclasses.dataclass
class Recorded:
    """``server``, with every answer it gives written to ``log``."""

    server: ThrottledServer
    log: list[Answered] = dataclasses.field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.server.per_second

    @property
    def window(self) -> float:
        return self.server.window

    @property
    def sends_headers(self) -> bool:
        return self.server.sends_headers

    @property
    def latency(self) -> float:
        return self.server.latency

    def answers(self) -> Answers:
        return _RecordingAnswers(self.server.answers(), self.log)


def find_server(rate: str, throttle: str, says: str, latency: float, *, slowapi: bool) -> ThrottledServer:
    """The matrix's server of that name."""
    wanted = [throttle, f"slowapi/{says}" if slowapi else says]
    for server in servers([rate], [latency], slowapi=slowapi):
        if server_name(server).split()[1:] == wanted:
            return server
    raise SystemExit(f"no such server in the matrix: {rate} {throttle} {says}")


def main(argv: list[str]) -> None:
    slowapi = "--slowapi" in argv
    argv = [a for a in argv if a != "--slowapi"]
    if len(argv) != 5 or argv[4] not in WORKLOADS:
        raise SystemExit(__doc__)
    rate, throttle, says, latency, workload = argv
    recorded = Recorded(find_server(rate, throttle, says, float(latency), slowapi=slowapi))
    cell, calls = WORKLOADS[workload]
    run = measure(recorded, cell)
    bound = calls / recorded.per_second
    print(
        f"{server_name(recorded.server)} L={latency} {workload}: {run.elapsed:.2f} s, "
        f"{run.elapsed / bound:.2f}x the bound (bar {allowed_seconds(recorded, calls) / bound:.2f}x), "
        f"{run.refused} x 429, {run.calls} calls"
    )
    start = recorded.log[0].at if recorded.log else 0.0
    for answered in recorded.log:
        print(f"{answered.at - start:8.3f} {'200' if answered.passed else '429'} {answered.said()}")


if __name__ == "__main__":
    main(sys.argv[1:])
