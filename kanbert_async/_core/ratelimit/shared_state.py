"""One budget shared by many processes: the rules' own state, plus who holds each request in flight.

Stored whole under one key of a shared store (:mod:`.shared_gate`): a process reads it, lets the
same :class:`~.state.RateLimitState` rules decide, and writes it back only if nobody wrote in
between. Nothing here decides anything the rules do not; this module only adds what sharing needs:

- **Holders.** Every request in flight names the process (a *holder*: a random id, nothing derived
  from the token or the machine) that sent it. A holder is heard from with every write it makes,
  and writes at least every :data:`HEARTBEAT` seconds while it holds requests. One not heard from
  for :data:`HOLDER_TIMEOUT` is gone (crashed, killed, cut off): its requests end as requests that
  got no answer — they may have counted, so they are held against the budget for a window, as
  the rules hold any lost request. A crashed process never holds budget for longer.
- **Late answers.** An answer to a request that is no longer in flight (its holder was taken for
  gone, or the store lost its data) changes nothing: its end is already accounted for.

Times are the store's clock (Redis ``TIME``, unix seconds), the one clock all processes share.
"""

from __future__ import annotations

import msgspec

from .observation import Observation
from .state import RateLimitState, Ticket

__all__ = ["HEARTBEAT", "HOLDER_TIMEOUT", "SharedBudget", "copy_rules", "decode_budget", "encode_budget"]

#: Seconds after its last write that a holder is taken for gone, and its requests with it.
HOLDER_TIMEOUT = 10.0
#: A holder with requests in flight writes at least this often (seconds), to be heard.
HEARTBEAT = 3.0


class SharedBudget(msgspec.Struct):
    """The shared state of one budget: the rules' state, the requests in flight and their holders.

    ``out`` maps each ticket in flight to when it left and who holds it; ``heard`` maps each holder
    to when it last wrote. Every method takes ``now`` on the store's clock.
    """

    rules: RateLimitState = msgspec.field(default_factory=RateLimitState)
    out: dict[int, tuple[float, str]] = {}
    heard: dict[str, float] = {}

    def hear(self, holder: str, now: float) -> bool:
        """``holder`` writes now; holders silent for longer than :data:`HOLDER_TIMEOUT` are gone
        (True if any was), and their requests end as lost."""
        self.heard[holder] = now
        gone = {other for other, last in self.heard.items() if now - last > HOLDER_TIMEOUT}
        if not gone:
            return False
        for other in gone:
            del self.heard[other]
        for number, (sent_at, other) in list(self.out.items()):
            if other in gone:
                del self.out[number]
                self.rules.on_no_answer(Ticket(number, sent_at), now)
        return True

    def admit(self, holder: str, now: float) -> Ticket | float | None:
        """The rules' :meth:`~.state.RateLimitState.admit`; a ticket is held by ``holder``."""
        admitted = self.rules.admit(now)
        if isinstance(admitted, Ticket):
            self.out[admitted.number] = (admitted.sent_at, holder)
        return admitted

    def _end(self, ticket: Ticket) -> bool:
        """Take ``ticket`` out of flight; False if it was not in flight (a late answer)."""
        held = self.out.get(ticket.number)
        if held is None or held[0] != ticket.sent_at:
            return False
        del self.out[ticket.number]
        return True

    def answer(self, ticket: Ticket, status: int, seen: Observation, now: float) -> None:
        """The answer to ``ticket``'s request arrived at ``now`` (see the rules' ``on_answer``)."""
        if self._end(ticket):
            self.rules.on_answer(ticket, status, seen, now)

    def no_answer(self, ticket: Ticket, now: float, *, sent: bool) -> None:
        """``ticket``'s request ended without an answer (see the rules' ``on_no_answer``)."""
        if self._end(ticket):
            self.rules.on_no_answer(ticket, now, sent=sent)

    def adopt(self, sent_at: float, status: int, seen: Observation, now: float) -> None:
        """The answer to a request another budget's gate let go at ``sent_at``, counted in this one."""
        self.rules.on_answer(self.rules.adopt(sent_at), status, seen, now)

    def held_by(self, holder: str) -> int:
        """How many requests ``holder`` has in flight."""
        return sum(1 for _, other in self.out.values() if other == holder)


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(SharedBudget)
_rules_decoder = msgspec.msgpack.Decoder(RateLimitState)


def encode_budget(budget: SharedBudget) -> bytes:
    """The bytes a store keeps (MessagePack, fields by name: an SDK version that adds a field still
    reads what an older one wrote)."""
    return _encoder.encode(budget)


def decode_budget(data: bytes | None) -> SharedBudget:
    """A stored budget; a fresh one when there is none or it cannot be read (written by an
    incompatible version, or damaged): the rules then start from nothing known, as a new client."""
    if data is None:
        return SharedBudget()
    try:
        return _decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
        return SharedBudget()


def copy_rules(rules: RateLimitState) -> RateLimitState:
    """A deep copy of ``rules`` (for a fallback that goes on alone from the shared state)."""
    return _rules_decoder.decode(_encoder.encode(rules))
