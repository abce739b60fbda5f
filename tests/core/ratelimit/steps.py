"""Steps shared by the rate-limit rule tests: admitting, answering, a clock a test sets."""

from __future__ import annotations

from kanbert_async._core.ratelimit import Observation, RateLimitState, Ticket


def admit_all(state: RateLimitState, now: float) -> list[Ticket]:
    """Every request the state lets go at ``now``."""
    tickets = []
    while isinstance(ticket := state.admit(now), Ticket):
        tickets.append(ticket)
    return tickets


def answer(state: RateLimitState, tickets: list[Ticket], now: float, seen: Observation) -> None:
    """Every one of ``tickets`` passed at ``now``, the server saying ``seen``."""
    for ticket in tickets:
        state.on_answer(ticket, 200, seen, now)


class VirtualClock:
    """A clock that reads whatever the test set ``now`` to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now
