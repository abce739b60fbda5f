"""Seeing each request: one log line per attempt, and hooks for tracing and metrics.

The transport's observing layer sits just above the wire (below the rate limiter, so a request
waiting for its turn is not timed as if it were on its way). For each attempt it builds an
:class:`Attempt`, runs the ``"request"`` hooks, sends, then runs the ``"response"`` or ``"error"``
hooks with the same object and logs one line on the ``kanbert_async`` logger:

- INFO: method, path template and its values, status, milliseconds, request id, attempt number,
  and the rate-limit budget the server says is left;
- DEBUG: also the query and the headers of the request and of the response.

Credentials never appear: headers, query and form values named like one are ``<redacted>``
(:mod:`.redact`). With no hooks and the logger below INFO, the layer costs one check per attempt.
"""

from __future__ import annotations

import functools
import inspect
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args
from urllib.parse import unquote, urlsplit

from .errors import InvalidRequestError
from .redact import redact_headers, redact_pairs, redact_url_query
from .retry import get_header

if TYPE_CHECKING:
    from .exchange import Outcome, Request

__all__ = ["Attempt", "EventHooks", "Hook", "HookEvent", "Observer", "logger"]

logger = logging.getLogger("kanbert_async")

#: When a hook runs: a request is about to go, its response arrived, or it failed without one.
HookEvent = Literal["request", "response", "error"]
HOOK_EVENTS: tuple[str, ...] = get_args(HookEvent)

#: A hook: a function or coroutine function of the :class:`Attempt`.
Hook = Callable[["Attempt"], Awaitable[None] | None]
#: ``{"request": [...], "response": [...], "error": [...]}``, as httpx's ``event_hooks``.
EventHooks = Mapping[HookEvent, Sequence[Hook]]


@dataclass(slots=True, eq=False)
class Attempt:
    """One request on the wire, as hooks and log handlers see it.

    The same object goes to the ``"request"`` hooks and then to the ``"response"`` or ``"error"``
    hooks, so a tracer can keep its span in ``state``. ``number`` counts the call's requests from 1
    (a retry or a resend after a token refresh is the next number). ``headers`` are the request's,
    credentials redacted. After the answer: ``status``, ``response_headers``, ``elapsed`` (seconds
    on the wire, to the response's headers); after a failure: ``error`` and ``elapsed``.
    """

    operation: str
    method: str
    #: The path template (``/outgoing-invoices/{id}``) and its values (``{"id": "inv_1"}``).
    path: str
    path_params: Mapping[str, str]
    url: str = field(repr=False)
    number: int
    headers: Mapping[str, str] = field(repr=False)
    status: int | None = None
    response_headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    elapsed: float | None = None
    error: BaseException | None = None
    #: Free for hooks: what the request hook leaves here, the response hook finds.
    state: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def request_id(self) -> str | None:
        """The response's ``X-Request-Id``, once it arrived."""
        return get_header(self.response_headers, "X-Request-Id")

    @property
    def rate_limit_remaining(self) -> str | None:
        """What the response says is left of the rate-limit budget (as sent), once it arrived."""
        headers = self.response_headers
        return get_header(headers, "X-RateLimit-Remaining") or get_header(headers, "RateLimit-Remaining")


class Observer:
    """Runs a client's hooks and writes its request log lines."""

    __slots__ = ("_hooks",)

    def __init__(self, hooks: EventHooks | None = None) -> None:
        hooks = hooks or {}
        unknown = set(hooks) - set(HOOK_EVENTS)
        if unknown:
            raise InvalidRequestError(
                f"event_hooks: unknown event(s) {sorted(unknown)}; use {', '.join(HOOK_EVENTS)}"
            )
        self._hooks: dict[str, tuple[Hook, ...]] = {k: tuple(v) for k, v in hooks.items() if v}

    def watching(self) -> bool:
        """Whether anyone looks at attempts: a hook, or the logger at INFO or below."""
        return bool(self._hooks) or logger.isEnabledFor(logging.INFO)

    def attempt(
        self, operation: str, method: str, template: str, url: str, base_url: str, headers: Mapping[str, str]
    ) -> Attempt:
        """The attempt about to go (its number is set by the caller)."""
        return Attempt(
            operation=operation,
            method=method,
            path=template,
            path_params=path_values(template, urlsplit(url).path[len(urlsplit(base_url).path) :]),
            url=url,
            number=0,
            headers=redact_headers(headers),
        )

    async def observe(
        self, request: Request, base_url: str, send: Callable[[Request], Awaitable[Outcome]]
    ) -> Outcome:
        """Send one attempt through ``send`` with its hooks run and its log lines written."""
        operation = request.operation
        attempt = self.attempt(
            operation.id, operation.method, operation.path, request.url, base_url, request.headers
        )
        attempt.number = request.attempts
        await self.before(attempt)
        started = time.monotonic()
        outcome = await send(request)
        attempt.elapsed = time.monotonic() - started
        if outcome.live is not None:
            attempt.status = outcome.live.status
            attempt.response_headers = outcome.live.headers
        else:
            attempt.error = outcome.error
        try:
            await self.after(attempt)
        except BaseException:
            if outcome.live is not None:  # a hook failed: the response is not going anywhere
                outcome.live.release()
            raise
        return outcome

    async def before(self, attempt: Attempt) -> None:
        """Log the request (DEBUG) and run the ``"request"`` hooks."""
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "→ %s %s query=%s headers=%s",
                attempt.method,
                _path_of(attempt.url),
                dict(redact_url_query(attempt.url)),
                dict(attempt.headers),
                extra={"kanbert_attempt": attempt},
            )
        await _run(self._hooks.get("request", ()), attempt)

    async def after(self, attempt: Attempt) -> None:
        """Log the outcome (INFO; headers at DEBUG) and run the ``"response"`` or ``"error"`` hooks."""
        if logger.isEnabledFor(logging.INFO):
            logger.info(summary(attempt), extra={"kanbert_attempt": attempt})
            if attempt.status is not None and logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    "← %s headers=%s",
                    attempt.status,
                    redact_headers(attempt.response_headers),
                    extra={"kanbert_attempt": attempt},
                )
        event = "response" if attempt.error is None else "error"
        await _run(self._hooks.get(event, ()), attempt)


def summary(attempt: Attempt) -> str:
    """The INFO line of an attempt, e.g.
    ``GET /outgoing-invoices/{id} id=inv_1 → 200 in 12.3 ms (outgoingInvoices.show, attempt 1,
    request id r-1, rate limit 58 left)``."""
    values = "".join(f" {k}={v}" for k, v in attempt.path_params.items())
    elapsed = f"{(attempt.elapsed or 0.0) * 1000:.1f} ms"
    if attempt.status is not None:
        outcome = f"{attempt.status} in {elapsed}"
    else:
        outcome = f"failed after {elapsed}: {type(attempt.error).__name__}"
    details = [attempt.operation, f"attempt {attempt.number}"]
    if attempt.request_id:
        details.append(f"request id {attempt.request_id}")
    if attempt.rate_limit_remaining is not None:
        details.append(f"rate limit {attempt.rate_limit_remaining} left")
    return f"{attempt.method} {attempt.path}{values} → {outcome} ({', '.join(details)})"


def form_summary(url: str, form: Mapping[str, str]) -> str:
    """A form request for the DEBUG log (the OAuth token endpoint), its secrets redacted."""
    return f"→ POST {_path_of(url)} form={dict(redact_pairs(form.items()))}"


async def _run(hooks: Sequence[Hook], attempt: Attempt) -> None:
    for hook in hooks:
        result = hook(attempt)
        if inspect.isawaitable(result):
            await result


def _path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path


@functools.lru_cache(maxsize=512)
def _template_pattern(template: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    names = tuple(re.findall(r"\{([^}]+)\}", template))
    literal = re.split(r"\{[^}]+\}", template)
    pattern = "([^/]+)".join(re.escape(part) for part in literal)
    return re.compile(pattern + r"\Z"), names


def path_values(template: str, path: str) -> dict[str, str]:
    """The values a request path gives a template's parameters.

    Example: ``path_values("/a/{id}", "/a/x%20y")`` → ``{"id": "x y"}``.
    """
    pattern, names = _template_pattern(template)
    if not names:
        return {}
    match = pattern.match(path)
    if match is None:
        return {}
    return {name: unquote(value) for name, value in zip(names, match.groups(), strict=True)}
