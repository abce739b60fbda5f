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

import sys

from .matrix import WORKLOADS, server_name, servers
from .simulation import Answered, ThrottledServer, allowed_seconds, measure

_SAID = ("x-ratelimit-", "ratelimit", "retry-after")


def said(answered: Answered) -> str:
    """The answer's rate-limit headers; a reset given as unix time, as seconds from then."""
    words = []
    for name, value in sorted(answered.headers.items()):
        if not name.lower().startswith(_SAID):
            continue
        try:
            stamp = float(value)
        except ValueError:
            stamp = 0.0
        words.append(f"{name}=+{stamp - answered.wall:.3f}s" if stamp > 1e9 else f"{name}={value}")
    return " ".join(words)


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
    server = find_server(rate, throttle, says, float(latency), slowapi=slowapi)
    cell, calls = WORKLOADS[workload]
    run = measure(server, cell)
    bound = calls / server.per_second
    print(
        f"{server_name(server)} L={latency} {workload}: {run.elapsed:.2f} s, "
        f"{run.elapsed / bound:.2f}x the bound (bar {allowed_seconds(server, calls) / bound:.2f}x), "
        f"{run.refused} x 429, {run.calls} calls"
    )
    start = run.answered[0].at if run.answered else 0.0
    for answered in run.answered:
        print(f"{answered.at - start:8.3f} {'200' if answered.passed else '429'} {said(answered)}")


if __name__ == "__main__":
    main(sys.argv[1:])
