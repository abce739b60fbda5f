"""Several throttle budgets per token, as real servers keep them, and which one a request draws on.

GitHub counts ``search`` apart from ``core`` (and names the one in ``X-RateLimit-Resource``);
Discord has a bucket per route (``X-RateLimit-Bucket``); the IETF draft names the policy
(``RateLimit-Policy: "name";q=100;w=60``). Here each extra bucket is a name, an fnmatch glob over
operation ids and a rate: an operation matching a bucket's glob (the first that matches, in
order) is counted and decided by that bucket's throttle only; every other one by the main
throttle, named :data:`MAIN_BUCKET`. Each bucket keeps its own state per token, so a spent bucket
refuses its own operations and no other.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Collection, Iterable
from fnmatch import fnmatchcase
from typing import Any, NamedTuple

from .ratelimit import Algorithm, RateLimit, Throttle, make_throttle

__all__ = [
    "MAIN_BUCKET",
    "RateLimitBucket",
    "Throttles",
    "check_bucket",
    "check_buckets",
    "make_throttles",
]

#: The name of the main bucket (``rate_limit``) once extra buckets are configured, as GitHub's.
MAIN_BUCKET = "core"

_NAME_RE = re.compile(r"[A-Za-z0-9_.-]+")
_FIELD = "rate_limit_buckets"


class RateLimitBucket(NamedTuple):
    """An extra budget: operations whose id matches ``glob`` draw on ``rate`` under ``name``.

    ``glob`` is an fnmatch pattern matched case-sensitively against operation ids
    (``outgoingInvoices.pdf``, ``outgoingInvoices.*``); ``rate`` is written like ``rate_limit``
    (``"5/s"``, ``"100/10s"``). A named tuple, so a configuration holding buckets still survives
    ``dataclasses.asdict`` and hashing unchanged.
    """

    name: str
    glob: str
    rate: str

    @classmethod
    def parse(cls, text: str) -> RateLimitBucket:
        """``"NAME:GLOB=RATE"``, e.g. ``"pdfs:outgoingInvoices.pdf=5/s"`` (the CLI's syntax).

        Only the form is checked here; :func:`check_bucket` checks the parts.
        """
        name, colon, rest = text.partition(":")
        # The last "=": a rate never holds one, a glob might.
        glob, equals, rate = rest.rpartition("=")
        if not (colon and equals and name.strip() and glob.strip() and rate.strip()):
            raise ValueError(f"{text!r} is not a bucket; write it as NAME:GLOB=RATE, e.g. pdfs:*.pdf=5/s")
        return cls(name.strip(), glob.strip(), rate.strip())

    def matches(self, operation: str) -> bool:
        """Whether requests for ``operation`` draw on this bucket."""
        return fnmatchcase(operation, self.glob)


def _bucket(item: Any) -> RateLimitBucket:
    if isinstance(item, RateLimitBucket):
        return item
    # A plain (name, glob, rate) tuple or list is what a bucket becomes after JSON or asdict().
    if isinstance(item, tuple | list) and len(item) == 3 and all(isinstance(part, str) for part in item):
        return RateLimitBucket(*item)
    raise ValueError(f"{_FIELD}: {item!r} is not a bucket; give RateLimitBucket(name, glob, rate)")


def check_bucket(bucket: RateLimitBucket, operations: Collection[str]) -> None:
    """A ``ValueError`` saying what is wrong with ``bucket`` on its own, if anything.

    Its name must be non-empty, of ``[A-Za-z0-9_.-]`` and not ``core`` (the main bucket's); its
    glob must match one of ``operations`` (a glob matching nothing is a typo that would silently
    throttle nothing); its rate must parse.
    """
    if not _NAME_RE.fullmatch(bucket.name):
        raise ValueError(f"bucket name {bucket.name!r} must be non-empty letters, digits, '_', '.' or '-'")
    if bucket.name == MAIN_BUCKET:
        raise ValueError(f"bucket name {MAIN_BUCKET!r} is the main bucket's; pick another")
    if not any(bucket.matches(op) for op in operations):
        raise ValueError(
            f"bucket {bucket.name!r}: glob {bucket.glob!r} matches no operation; "
            f"operation ids: {', '.join(sorted(operations))}"
        )
    try:
        RateLimit.parse(bucket.rate)
    except ValueError as exc:
        raise ValueError(f"bucket {bucket.name!r}: {exc}") from None


def check_buckets(
    buckets: Iterable[Any], *, rate_limit: str | None, operations: Collection[str]
) -> tuple[RateLimitBucket, ...]:
    """``buckets`` as a tuple of :class:`RateLimitBucket`, or a ``ValueError`` naming the field.

    Each bucket must pass :func:`check_bucket`, their names must be unique, and buckets need a
    main ``rate_limit``.
    """
    if isinstance(buckets, str | bytes):
        raise ValueError(f"{_FIELD} must be a sequence of buckets, not a string")
    found = tuple(_bucket(item) for item in buckets)
    if found and rate_limit is None:
        raise ValueError(f"{_FIELD} needs rate_limit (the main {MAIN_BUCKET!r} bucket); set it too")
    seen: set[str] = set()
    for bucket in found:
        try:
            check_bucket(bucket, operations)
        except ValueError as exc:
            raise ValueError(f"{_FIELD}: {exc}") from None
        if bucket.name in seen:
            raise ValueError(f"{_FIELD}: bucket name {bucket.name!r} is given twice; names must be unique")
        seen.add(bucket.name)
    return found


@dataclasses.dataclass(frozen=True, slots=True)
class Throttles:
    """The main throttle and one per extra bucket; :meth:`pick` says which one a request draws on."""

    main: Throttle
    extra: tuple[tuple[RateLimitBucket, Throttle], ...] = ()

    @property
    def named(self) -> bool:
        """Whether answers name their bucket: only a server with several has names to give."""
        return bool(self.extra)

    def pick(self, operation: str) -> tuple[str, Throttle]:
        """The name and throttle of the bucket ``operation`` draws on (the first match, else the main)."""
        for bucket, throttle in self.extra:
            if bucket.matches(operation):
                return bucket.name, throttle
        return MAIN_BUCKET, self.main


def make_throttles(
    rate_limit: str,
    buckets: Iterable[RateLimitBucket] = (),
    algorithm: Algorithm = "fixed",
    *,
    burst: int | None = None,
    clock: Callable[[], float] | None = None,
) -> Throttles:
    """The main throttle admitting ``rate_limit`` and one per bucket, all ``algorithm`` with ``burst``.

    ``clock`` as for :func:`~.ratelimit.make_throttle` (shared by all, so a test fakes one clock).
    """

    def throttle(rate: str) -> Throttle:
        return make_throttle(RateLimit.parse(rate), algorithm, burst=burst, clock=clock)

    return Throttles(throttle(rate_limit), tuple((b, throttle(b.rate)) for b in buckets))
