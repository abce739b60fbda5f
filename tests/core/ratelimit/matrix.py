"""The limiter against a wider matrix than the conformance cells, on the virtual clock: windows of
1 s to a minute, three throttles, every header style, three latencies, four workloads. A developer
tool, not a test (many of its cells miss a bar today); it prints the cells that do, one per line,
so two versions of the limiter can be compared with ``diff``.

    python -m tests.core.ratelimit.matrix                     # the default matrix (about a minute)
    python -m tests.core.ratelimit.matrix 10/s,60/60s 0.05    # rates and latencies of your own
    python -m tests.core.ratelimit.matrix --slowapi           # slowapi's throttles instead

Bars are the conformance cells': scan and fan-out within 1.15x the bound plus one window, at most
3 429s with rate-limit headers (10 without); a resumed export within 1.2x an uninterrupted one
plus one window.
"""

from __future__ import annotations

import functools
import itertools
import sys

from kanbert_async.sandbox.ratelimit import ALGORITHMS

from .simulation import (
    STYLES,
    Server,
    ThrottledServer,
    allowed_seconds,
    export_killed_and_resumed,
    export_uninterrupted,
    fan_out_after_spent,
    fan_out_after_walked,
    measure,
    walkers,
)
from .slowapi_throttle import HEADERS, STRATEGIES, SlowapiServer

RATES = "5/s,10/s,15/s,20/s,25/s,50/s,20/2s,30/10s,60/60s"
LATENCIES = "0.02,0.05,0.15"
WORKLOADS = {
    "scan": (functools.partial(walkers, calls=150, concurrency=8), 150),
    "fan": (functools.partial(fan_out_after_spent, calls=100, concurrency=16), 100),
    "walked": (functools.partial(fan_out_after_walked, calls=100, concurrency=16), 100),
}


def cells_over_a_bar(server: ThrottledServer) -> list[str]:
    """What misses a bar against ``server``, one line per cell."""
    window = server.window
    max_429s = 3 if server.sends_headers else 10
    missed = []
    for name, (workload, calls) in WORKLOADS.items():
        run = measure(server, workload)
        bound, allowed = calls / server.per_second, allowed_seconds(server, calls)
        if run.elapsed > allowed or run.refused > max_429s:
            missed.append(f"{name}: {run.elapsed / bound:.2f}x/{allowed / bound:.2f} 429={run.refused}")
    whole, resumed = measure(server, export_uninterrupted), measure(server, export_killed_and_resumed)
    if resumed.elapsed > 1.2 * whole.elapsed + window:
        missed.append(f"resume: {resumed.elapsed:.1f}/{1.2 * whole.elapsed + window:.1f} s")
    return missed


def servers(rates: list[str], latencies: list[float], *, slowapi: bool) -> list[ThrottledServer]:
    """The sandbox's throttles (or slowapi's) at each rate ("10/s", "20/2s") and latency."""
    if slowapi:
        return [
            SlowapiServer(_limits_notation(rate), strategy, on, after, latency=latency)
            for rate, strategy, (on, after), latency in itertools.product(
                rates, STRATEGIES, HEADERS, latencies
            )
        ]
    return [
        Server(rate, algorithm, headers, retry_after, latency=latency)
        for rate, algorithm, (headers, retry_after), latency in itertools.product(
            rates, ALGORITHMS, STYLES, latencies
        )
    ]


def _limits_notation(rate: str) -> str:
    count, _, window = rate.partition("/")
    seconds = window.rstrip("s") or "1"
    return f"{count}/{seconds} seconds"


def server_name(server: ThrottledServer) -> str:
    """How a cell names its server: rate, throttle, what its answers say ("10/s fixed none/date")."""
    if isinstance(server, Server):
        return f"{server.rate} {server.algorithm} {server.headers}/{server.retry_after}"
    assert isinstance(server, SlowapiServer)
    return f"{server.rate.replace(' ', '')} {server.strategy} slowapi/{server.says}"


def main(argv: list[str]) -> None:
    slowapi = "--slowapi" in argv
    argv = [a for a in argv if a != "--slowapi"]
    rates = (argv[0] if argv else RATES).split(",")
    latencies = [float(x) for x in (argv[1] if len(argv) > 1 else LATENCIES).split(",")]
    total = 0
    for server in servers(rates, latencies, slowapi=slowapi):
        for cell in cells_over_a_bar(server):
            print(f"{server_name(server)} L={server.latency} {cell}", flush=True)
            total += 1
    print(f"{total} cells over a bar", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
