"""The rate limiter against every throttle and header style, on a virtual clock (the fast cells of
the conformance matrix; ``bench/throttles.py`` runs the full cells against the sandbox in real time).

Servers: the sandbox's fixed window (Laravel's, opened by the first hit), token bucket (gateways)
and sliding log; each states its limit Laravel's way, the IETF way, or not at all (a 429 with
``Retry-After`` in seconds, as a date, or nothing). And a throttle we did not write: slowapi on the
`limits` library (:mod:`.slowapi_throttle`: fixed window, moving window, sliding window counter;
with slowapi's headers or none). 50 ms round trips, 1 s windows. Windows of 2 s
to a minute and other latencies: ``python -m tests.core.ratelimit.matrix`` (a developer tool; judge a
limiter change by it, not by these cells alone); one cell request by request, with what the server
answered: ``python -m tests.core.ratelimit.trace``.
"""

from __future__ import annotations

import functools
import itertools

import pytest

from kanbert_async.sandbox.ratelimit import ALGORITHMS

from .simulation import (
    STYLES,
    Run,
    Server,
    ThrottledServer,
    allowed_seconds,
    cold_burst,
    export_killed_and_resumed,
    export_uninterrupted,
    fan_out_after_spent,
    fan_out_after_walked,
    measure,
    walkers,
)
from .slowapi_throttle import HEADERS, STRATEGIES, SlowapiServer

RATES = ["10/s", "20/s"]
SERVERS: list[ThrottledServer] = [
    *(
        Server(rate=rate, algorithm=algorithm, headers=headers, retry_after=retry_after)
        for rate, algorithm, (headers, retry_after) in itertools.product(RATES, ALGORITHMS, STYLES)
    ),
    *(
        SlowapiServer(rate=rate.replace("/s", "/second"), strategy=strategy, headers=on, retry_after=after)
        for rate, strategy, (on, after) in itertools.product(RATES, STRATEGIES, HEADERS)
    ),
]


def _id(server: ThrottledServer) -> str:
    if isinstance(server, SlowapiServer):
        return f"slowapi-{server.strategy}-{server.says}-{server.rate.replace('/second', 'pers')}"
    assert isinstance(server, Server)
    return f"{server.algorithm}-{server.headers}-{server.retry_after}-{server.rate.replace('/', 'per')}"


#: Cells that miss their bar today, all on servers that send no rate-limit headers: learning what a
#: window admits takes a 429 in a window that was the client's own from its start, and a client
#: that starts in someone else's window (or a bucket's burst) pays for it twice. Strict: a cell that
#: starts meeting its bar fails here until it is taken off this list.
KNOWN_MISSES = {
    ("fan-out", "fixed-none-date-10pers"),
    ("fan-out", "bucket-none-date-10pers"),
    # slowapi's sliding window counter gives a window's budget back gradually over the next
    # window. Once a request sent alone shows that, the limiter spends at the pace the counter's
    # Remaining shows (returns.py); until then it reckons a request back one window after it
    # counted (a sliding log's way), sends early, and pays each 429 with slowapi's Retry-After, a
    # second more than the truth. Scans within 2% of the bar; fan-outs 1.5x the bound, 2x with an
    # HTTP-date (never below a second); a fresh client (resume) learns it all again.
    *(
        (workload, f"slowapi-sliding-window-counter-{said}-{rate}")
        for workload, said, rate in [
            ("scan", "seconds", "10pers"),
            ("scan", "http-date", "10pers"),
            ("scan", "http-date", "20pers"),
            ("fan-out", "seconds", "20pers"),
            ("fan-out", "http-date", "10pers"),
            ("fan-out", "http-date", "20pers"),
            ("fan-out walked", "seconds", "10pers"),
            ("fan-out walked", "http-date", "10pers"),
            ("fan-out walked", "http-date", "20pers"),
            ("resume", "http-date", "10pers"),
        ]
    ),
    ("fan-out", "slowapi-sliding-window-counter-none-10pers"),
    ("fan-out walked", "slowapi-sliding-window-counter-none-10pers"),
    ("fan-out", "slowapi-sliding-window-counter-none-20pers"),
    # Within 3% of the bar: that Retry-After as an HTTP-date, in whole seconds and a second late.
    ("fan-out", "slowapi-fixed-window-http-date-20pers"),
    ("fan-out", "slowapi-moving-window-http-date-20pers"),
}


def _cells(workload: str) -> list[pytest.ParameterSet]:
    known = pytest.mark.xfail(strict=True, reason="known miss: see KNOWN_MISSES")
    return [
        pytest.param(server, id=_id(server), marks=[known] if (workload, _id(server)) in KNOWN_MISSES else [])
        for server in SERVERS
    ]


def _max_429s(server: ThrottledServer, *, with_headers: int, without: int) -> int:
    return with_headers if server.sends_headers else without


def _within_bound(server: ThrottledServer, run: Run, requests: int) -> None:
    bound, allowed = requests / server.per_second, allowed_seconds(server, requests)
    assert run.elapsed <= allowed, f"{run.elapsed:.2f}s against a bound of {bound:.2f}s"


@pytest.mark.parametrize("server", _cells("burst"))
def test_a_cold_burst_of_forty_calls_meets_few_429s(server: ThrottledServer) -> None:
    run = measure(server, functools.partial(cold_burst, calls=40))
    assert run.calls == 40
    assert run.refused <= _max_429s(server, with_headers=3, without=8)


@pytest.mark.parametrize("server", _cells("scan"))
def test_a_scan_of_150_pages_runs_at_the_servers_rate(server: ThrottledServer) -> None:
    run = measure(server, functools.partial(walkers, calls=150, concurrency=8))
    assert run.calls == 150, "every page exactly once"
    _within_bound(server, run, 150)
    assert run.refused <= _max_429s(server, with_headers=3, without=10)


@pytest.mark.parametrize("server", _cells("fan-out"))
def test_a_fan_out_started_after_another_client_spent_the_budget_recovers_in_windows(
    server: ThrottledServer,
) -> None:
    run = measure(server, functools.partial(fan_out_after_spent, calls=100, concurrency=16))
    assert run.calls == 100
    _within_bound(server, run, 100)
    assert run.refused <= _max_429s(server, with_headers=3, without=10)


@pytest.mark.parametrize("server", _cells("fan-out walked"))
def test_a_fan_out_started_after_another_client_walked_the_budget_away_recovers_in_windows(
    server: ThrottledServer,
) -> None:
    # The walker's requests leave a sliding log one at a time over the next window: the fan-out
    # meets a budget that comes back gradually, and a 429 there tells only a floor of it.
    run = measure(server, functools.partial(fan_out_after_walked, calls=100, concurrency=16))
    assert run.calls == 100
    _within_bound(server, run, 100)
    assert run.refused <= _max_429s(server, with_headers=3, without=10)


@pytest.mark.parametrize("server", _cells("resume"))
def test_an_export_killed_and_resumed_by_a_fresh_client_takes_about_as_long(server: ThrottledServer) -> None:
    whole = measure(server, export_uninterrupted)
    resumed = measure(server, export_killed_and_resumed)
    assert resumed.calls == whole.calls == 200
    assert resumed.elapsed <= 1.2 * whole.elapsed + server.window
