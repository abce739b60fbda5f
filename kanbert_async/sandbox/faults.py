"""Bad days on demand: latency, server errors, dropped connections, truncated bodies, lost uploads.

Random faults come from ``random.Random(fault_seed)``, one draw per request in arrival order, so
the same requests in the same order meet the same faults. Latency draws from a separate stream,
so turning jitter on does not change which requests fail. A schedule (:meth:`FaultInjector.fail_next`)
comes first and is fully deterministic, for tests that need "the next PDF download drops".

Faults never corrupt state: errors and drops before the handler happen before anything is read
or written, drops after it (mid-body, lost upload) happen after the change is complete.
"""

from __future__ import annotations

import dataclasses
import random
from collections import deque
from collections.abc import Iterable
from typing import Literal, get_args

from .config import API_OPERATIONS, SandboxConfig

__all__ = ["BEFORE", "FAULT_KINDS", "Fault", "FaultInjector", "FaultKind"]

#: ``error``: a 500/502/503; ``drop``: close the connection without answering; ``drop_mid_body``:
#: send the headers and part of the body, then abort; ``slow``: wait ``slow_seconds`` first;
#: ``lost_upload``: process the request, then drop the connection; ``rate_limit``: a 429.
FaultKind = Literal["error", "drop", "drop_mid_body", "slow", "lost_upload", "rate_limit"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)

#: Faults that happen before the handler runs (the others act on its response).
BEFORE = frozenset({"error", "drop", "slow", "rate_limit"})


@dataclasses.dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault. ``status`` and ``empty_body`` shape an ``error``; ``retry_after`` a
    ``rate_limit``; ``seconds`` a ``slow`` response."""

    kind: FaultKind
    status: int = 500
    empty_body: bool = False
    retry_after: int = 1
    seconds: float = 30.0


@dataclasses.dataclass(slots=True)
class _Scheduled:
    fault: Fault
    remaining: int
    operations: frozenset[str] | None


class FaultInjector:
    """Decides, per request, whether and how it goes wrong."""

    def __init__(self, config: SandboxConfig) -> None:
        seed = config.seed if config.fault_seed is None else config.fault_seed
        self._config = config
        self._rng = random.Random(f"{seed}:faults")
        self._latency_rng = random.Random(f"{seed}:latency")
        self._schedule: deque[_Scheduled] = deque()
        self._operations = config.fault_operations if config.fault_operations is not None else API_OPERATIONS

    def latency(self) -> float:
        """Seconds to wait before handling a request: ``latency`` plus up to ``jitter``."""
        config = self._config
        if config.jitter <= 0:
            return config.latency
        return config.latency + self._latency_rng.uniform(0, config.jitter)

    def fail_next(
        self,
        n: int = 1,
        kind: FaultKind = "error",
        *,
        operations: Iterable[str] | None = None,
        status: int = 500,
        empty_body: bool = False,
        retry_after: int = 1,
        seconds: float | None = None,
    ) -> None:
        """Make the next ``n`` requests (to ``operations``, or any API operation) fail with ``kind``.

        Schedules queue up in order: ``fail_next(1, "drop"); fail_next(2, "error", status=503)``
        drops one request, then answers two with 503.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; use one of {', '.join(FAULT_KINDS)}")
        if n < 1:
            raise ValueError("n must be >= 1")
        ops = frozenset(operations) if operations is not None else None
        fault = Fault(
            kind, status, empty_body, retry_after, self._config.slow_seconds if seconds is None else seconds
        )
        self._schedule.append(_Scheduled(fault, n, ops))

    def clear(self) -> None:
        """Forget scheduled faults."""
        self._schedule.clear()

    def draw(self, operation: str) -> Fault | None:
        """The fault for the next request to ``operation``, if any (scheduled before random)."""
        for entry in self._schedule:
            wanted = API_OPERATIONS if entry.operations is None else entry.operations
            if operation in wanted:
                entry.remaining -= 1
                if entry.remaining == 0:
                    self._schedule.remove(entry)
                return entry.fault
        return self._random(operation)

    def _random(self, operation: str) -> Fault | None:
        config = self._config
        if operation not in self._operations:
            return None
        rates: list[tuple[FaultKind, float]] = [
            ("error", config.error_rate),
            ("drop", config.drop_rate),
            ("drop_mid_body", config.drop_mid_body_rate),
            ("slow", config.slow_rate),
        ]
        if operation == "outgoingInvoices.createExternal":
            rates.append(("lost_upload", config.lost_upload_rate))
        if not any(rate for _, rate in rates):
            return None
        roll = self._rng.random()
        # Details are drawn every time, so one request's fault does not shift the next one's.
        status = self._rng.choice((500, 502, 503))
        empty = self._rng.random() < 0.5
        for kind, rate in rates:
            if roll < rate:
                return Fault(kind, status, empty, 1, config.slow_seconds)
            roll -= rate
        return None
