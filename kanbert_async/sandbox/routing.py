"""Which operation a request is for, matched on the raw (still percent-encoded) path.

Routes and methods come from the API description itself (:mod:`.description`), not from the
client's generated code: a path codegen misread finds no route here.

The path is matched segment by segment *before* decoding, and only the ``{id}`` segment is then
unquoted: ``/outgoing-invoices/a%2Fb/pdf`` is the PDF of invoice ``a/b``, and ``%2E%2E`` is the
id ``..``, never a step up. (aiohttp's router decodes ``%2F`` before matching, so it cannot be
used for ids.) Literal segments win over parameters: ``/outgoing-invoices/master`` is the
masters listing, not invoice ``master``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from urllib.parse import unquote

from .description import DescribedOperation

__all__ = ["Match", "Router"]


@dataclasses.dataclass(frozen=True, slots=True)
class Match:
    """A matched route: the operation and its decoded path parameters."""

    operation: DescribedOperation
    params: Mapping[str, str]


@dataclasses.dataclass(frozen=True, slots=True)
class _Route:
    operation: DescribedOperation
    segments: tuple[str, ...]  # literal segments, or "{name}"
    literals: int


class Router:
    """Matches ``(method, raw path)`` against the operations' path templates under ``prefix``."""

    def __init__(self, operations: Mapping[str, DescribedOperation], prefix: str = "/api/v1") -> None:
        self.prefix = prefix.rstrip("/")
        self._routes: list[_Route] = []
        for op in operations.values():
            segments = tuple(op.path.strip("/").split("/"))
            literals = sum(1 for s in segments if not s.startswith("{"))
            self._routes.append(_Route(op, segments, literals))
        # Most literal segments first: a literal beats a parameter at the same place.
        self._routes.sort(key=lambda r: (-r.literals, r.operation.path))

    def match(self, method: str, raw_path: str) -> Match | list[str] | None:
        """The match; or the allowed methods when only the method is wrong; or None (no route)."""
        path = raw_path.split("?", 1)[0]
        if not path.startswith(self.prefix + "/"):
            return None
        segments = path[len(self.prefix) + 1 :].split("/")
        allowed: list[str] = []
        best: int | None = None
        for route in self._routes:
            params = self._params(route, segments)
            if params is None:
                continue
            if route.operation.method == method.upper():
                return Match(route.operation, params)
            # A 405's Allow names the methods of the most literal route only: POST for
            # /outgoing-invoices/external, although GET would read "external" as an invoice id.
            if best is None or route.literals == best:
                best = route.literals
                allowed.append(route.operation.method)
        return sorted(set(allowed)) or None

    @staticmethod
    def _params(route: _Route, segments: list[str]) -> dict[str, str] | None:
        if len(segments) != len(route.segments):
            return None
        params: dict[str, str] = {}
        for template, raw in zip(route.segments, segments, strict=True):
            if template.startswith("{"):
                if not raw:
                    return None
                params[template[1:-1]] = unquote(raw)
            elif raw != template:
                return None
        return params
