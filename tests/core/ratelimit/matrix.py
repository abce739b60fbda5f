"""The limiter against a wider matrix than the conformance cells, on the virtual clock: windows of
1 s to a minute, three throttles, every header style, three latencies, four workloads. A developer
tool, not a test (many of its cells miss a bar today); it prints the cells that do, one per line,
so two versions of the limiter can be compared with ``diff``.

    python -m tests.core.ratelimit.matrix                     # the default matrix (about a minute)
    python -m tests.core.ratelimit.matrix 10/s,60/60s 0.05    # rates and latencies of your own

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
    allowed_seconds,
    export_killed_and_resumed,
    export_uninterrupted,
    fan_out_after_spent,
    fan_out_after_walked,
    measure,
    walkers,
)

RATES = "5/s,10/s,15/s,20/s,25/s,50/s,20/2s,30/10s,60/60s"
LATENCIES = "0.02,0.05,0.15"
WORKLOADS = {
    "scan": (functools.partial(walkers, calls=150, concurrency=8), 150),
    "fan": (functools.partial(fan_out_after_spent, calls=100, concurrency=16), 100),
    "walked": (functools.partial(fan_out_after_walked, calls=100, concurrency=16), 100),
}


def cells_over_a_bar(server: Server) -> list[str]:
    """What misses a bar against ``server``, one line per cell."""
    window = server.limit.window
    max_429s = 10 if server.headers == "none" else 3
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


def main(argv: list[str]) -> None:
    rates = (argv[0] if argv else RATES).split(",")
    latencies = [float(x) for x in (argv[1] if len(argv) > 1 else LATENCIES).split(",")]
    total = 0
    for rate, algorithm, (headers, retry_after), latency in itertools.product(
        rates, ALGORITHMS, STYLES, latencies
    ):
        server = Server(rate, algorithm, headers, retry_after, latency=latency)
        for cell in cells_over_a_bar(server):
            print(f"{rate} {algorithm} {headers}/{retry_after} L={latency} {cell}", flush=True)
            total += 1
    print(f"{total} cells over a bar", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
