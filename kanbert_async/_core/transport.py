"""The I/O edge: one aiohttp session, and the layers every request passes through on its way out.

A call is prepared once into a :class:`~.exchange.Request`, then handed down one layer per
concern, each an ``async`` method that calls the next (as httpx stacks ``_send_handling_auth`` →
``_send_handling_redirects`` → ``_send_single_request``)::

    send / open_stream            prepare the Request (URL, headers, body, timeout, policy)
    _send_handling_retries        retry or raise, backoff, retry log and stats
    _send_checking_existing       after an ambiguous create: does the record exist already?
    _send_handling_auth           401 → refresh once and send again
    _send_holding_connection      a pooled connection's slot; read the body, or keep it live
    _send_rate_limited            the rate limiter: admit the request, learn from its answer
    _send_single                  the Authorization header, one aiohttp request

Decisions (retry or not, how long to wait, may a request go now) are made by the pure modules
``retry`` and ``ratelimit``; the layers only carry them out. Each answer or failure comes back
up as an :class:`~.exchange.Outcome`; a layer that does not apply to a call (no duplicate check,
no auth) is skipped, not passed through.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import msgspec
from yarl import URL

from .auth import Auth
from .encoding import build_path, encode_form, query_string
from .errors import (
    APIConnectionError,
    KanbertError,
    RateLimitError,
)
from .exchange import BodyReader, Outcome, Request, Response, failure_error
from .multipart import form_data, spool_files
from .operation import Operation, RequestOptions
from .ratelimit import Limiter, Ticket
from .retry import Failure, RetryPolicy, decide_retry
from .settings import Timeout

__all__ = ["Response", "Stats", "Transport"]

logger = logging.getLogger("kanbert_async")

_UNLIMITED = 2**31


@dataclass(slots=True)
class Stats:
    """What a client has done so far: for progress displays, manifests and tests."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    refreshes: int = 0
    #: Creates whose outcome was unknown, found to have happened (returned, not sent again).
    duplicates_avoided: int = 0
    #: Times a shared rate-limit store (Redis) failed and the client went on pacing itself alone.
    rate_limit_store_fallbacks: int = 0


class Transport:
    """Sends operations over one aiohttp session with auth, pacing and retries."""

    def __init__(
        self,
        *,
        base_url: str,
        auth: Auth | None,
        timeout: Timeout,
        retry: RetryPolicy,
        limiter: Limiter,
        max_connections: int,
        session: aiohttp.ClientSession | None,
        user_agent: str,
        stats: Stats | None = None,
    ) -> None:
        self.base_url = base_url
        self.auth = auth
        self.timeout = timeout
        self.retry = retry
        self.limiter = limiter
        self.stats = stats if stats is not None else Stats()
        self._max_connections = max_connections
        self._session = session
        self._owns_session = session is None
        self._user_agent = user_agent
        self._closed = False
        # One slot per pooled connection, taken before the rate-limit gate: a request never waits
        # for a connection after passing the gate, so none slips out into a cooldown begun meanwhile.
        self._slots = asyncio.Semaphore(_pool_size(max_connections, session))

    # -- session lifecycle -------------------------------------------------------------------
    @property
    def session(self) -> aiohttp.ClientSession:
        """The session, created on first use inside the running event loop."""
        if self._closed:
            raise KanbertError("the client is closed; create a new KanbertClient (or use `async with`)")
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, limit_per_host=self._max_connections, ttl_dns_cache=300
            )
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"User-Agent": self._user_agent}
            )
        return self._session

    @property
    def owns_open_session(self) -> bool:
        """Whether closing this transport must close a session it created."""
        return self._owns_session and self._session is not None and not self._session.closed

    async def close(self) -> None:
        """Close the session if this transport created it (an injected session is left open)."""
        self._closed = True
        await self.limiter.aclose()
        if self._owns_session and self._session is not None:
            await self._session.close()

    # -- token endpoint for auth ---------------------------------------------------------------
    async def post_form(self, url: str, data: Mapping[str, str]) -> tuple[int, bytes]:
        """POST a form (the OAuth token endpoint); no Authorization header, no retries."""
        self.stats.refreshes += 1
        try:
            async with self.session.post(url, data=dict(data), timeout=self._client_timeout(None)) as resp:
                return resp.status, await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise APIConnectionError(
                f"token endpoint {url} unreachable: {type(exc).__name__}", url=url
            ) from exc

    # -- calls -----------------------------------------------------------------------------------
    def url_for(
        self, operation: Operation[Any], path: Mapping[str, Any] | None, query: Sequence[tuple[str, str]] = ()
    ) -> str:
        """The absolute, already-encoded URL of ``operation`` with its query."""
        url = self.base_url + build_path(operation.path, path, operation.id)
        return url + "?" + query_string(query) if query else url

    async def send(
        self,
        operation: Operation[Any],
        url: str,
        *,
        body: Mapping[str, Any] | None = None,
        options: RequestOptions | None = None,
        find_existing: Callable[[], Awaitable[Response | None]] | None = None,
        reader: BodyReader | None = None,
    ) -> Response:
        """Send and read the whole body, retrying as the policy allows; raise on a failed status.

        ``find_existing`` is a create's duplicate check (see :meth:`_send_checking_existing`);
        ``reader`` reads a success's body in its own way (the bytes it returns become the body).
        """
        request = self._prepare(operation, url, body, options, find_existing=find_existing, reader=reader)
        if operation.body != "multipart":
            outcome = await self._send_handling_retries(request)
        else:
            request.files = await spool_files(operation, body)
            try:
                outcome = await self._send_handling_retries(request)
            finally:
                for spooled in request.files.values():
                    spooled.close()
        assert outcome.response is not None
        return outcome.response

    @contextlib.asynccontextmanager
    async def open_stream(
        self, operation: Operation[Any], url: str, *, options: RequestOptions | None = None
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """A successful response whose body is still to be read; released, with its connection, on exit."""
        request = self._prepare(operation, url, None, options, stream=True)
        live = (await self._send_handling_retries(request)).live
        assert live is not None
        try:
            yield live
        finally:
            live.release()
            self._slots.release()

    def _prepare(
        self,
        operation: Operation[Any],
        url: str,
        body: Mapping[str, Any] | None,
        options: RequestOptions | None,
        *,
        stream: bool = False,
        find_existing: Callable[[], Awaitable[Response | None]] | None = None,
        reader: BodyReader | None = None,
    ) -> Request:
        # The media types the operation documents (a PDF download asks for the PDF first, JSON
        # second for error bodies): a server that negotiates answers 406 to anything else.
        headers = {"Accept": operation.accept}
        if not self._owns_session:
            # A session we created carries it already; an injected one is the caller's.
            headers["User-Agent"] = self._user_agent
        if options is not None and options.headers:
            headers.update(options.headers)
        content: bytes | None = None
        if operation.body == "json" and body is not None:
            content = msgspec.json.encode({k: v for k, v in body.items() if v is not msgspec.UNSET})
            headers["Content-Type"] = "application/json"
        elif operation.body == "form":
            content = encode_form(body or {})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return Request(
            operation=operation,
            url=url,
            wire_url=URL(url, encoded=True),
            headers=headers,
            timeout=self._client_timeout(options),
            policy=self._policy(options),
            started_at=time.time(),
            content=content,
            form=(body or {}) if operation.body == "multipart" else None,
            stream=stream,
            reader=reader,
            find_existing=find_existing,
        )

    # -- the layers, outermost first ---------------------------------------------------------------
    async def _send_handling_retries(self, request: Request) -> Outcome:
        """Attempts until one succeeds or the policy says stop; then the success or the error."""
        policy = request.policy
        operation = request.operation
        while True:
            if request.find_existing is None:
                outcome = await self._send_handling_auth(request)
            else:
                outcome = await self._send_checking_existing(request)
            status = outcome.status
            if status is not None and status < 400:
                return outcome
            response = outcome.response
            decision = decide_retry(
                policy,
                attempt=request.retries,
                method=operation.method,
                status=status,
                failure=outcome.failure,
                headers=response.headers if response is not None else {},
                now=time.time(),
                started_at=request.started_at,
                retry_unsafe=outcome.resend_safe,
            )
            if not decision.retry:
                raise failure_error(request, outcome, decision.server_wait)
            self.stats.retries += 1
            request.retries += 1
            logger.warning(
                "retrying %s %s (attempt %d of %d, waiting %.2fs): %s",
                operation.method,
                operation.path,
                request.retries,
                policy.max_retries,
                outcome.held_for if status == 429 else decision.wait,
                decision.reason,
            )
            # After a 429 the shared limiter holds every request (this one included) until the
            # server's wait has passed: one cooldown for the client, not one backoff per request.
            if status != 429:
                await asyncio.sleep(decision.wait)

    async def _send_checking_existing(self, request: Request) -> Outcome:
        """A create whose outcome is unknown (a 5xx, a dropped connection) may have happened: look the
        record up by its caller-chosen key, and return it instead of creating it twice."""
        outcome = await self._send_handling_auth(request)
        if not outcome.ambiguous:
            return outcome
        assert request.find_existing is not None
        found = await request.find_existing()
        if found is None:
            # Provably not created: sending it again cannot make a duplicate.
            outcome.resend_safe = True
            return outcome
        self.stats.duplicates_avoided += 1
        logger.warning(
            "%s: the create's outcome was unknown (%s); it had happened, so the existing "
            "record is returned instead of creating a duplicate",
            request.operation.id,
            outcome.failure.value if outcome.failure else f"HTTP {outcome.status}",
        )
        return Outcome(response=found)

    async def _send_handling_auth(self, request: Request) -> Outcome:
        """On a 401, refresh the credentials once per call and send again if that helps."""
        outcome = await self._send_holding_connection(request)
        if outcome.status != 401 or self.auth is None or request.refreshed:
            return outcome
        request.refreshed = True
        if await self.auth.on_unauthorized(self, request.authorization):
            return await self._send_holding_connection(request)
        return outcome

    async def _send_holding_connection(self, request: Request) -> Outcome:
        """One pooled connection's slot for the attempt; its body read (the slot and connection
        then released), or — a download stream's success — the live response, holding both."""
        await self._slots.acquire()
        keep_slot = False
        try:
            outcome = await self._send_rate_limited(request)
            live = outcome.live
            if live is None:
                return outcome
            if request.stream and live.status < 400:
                keep_slot = True  # released with the response, by open_stream
                return outcome
            outcome.live = None
            try:
                if live.status >= 400 and request.stream:
                    body = await _error_body(live)
                elif request.reader is not None and live.status < 400:
                    body = await request.reader(live)
                else:
                    body = await live.read()
            except TimeoutError as exc:
                return Outcome(failure=Failure.TIMEOUT, error=exc)
            except aiohttp.ClientError as exc:
                return Outcome(failure=Failure.BODY_BROKE_OFF, error=exc)
            finally:
                live.release()
            outcome.response = Response(live.status, live.headers, body)
            return outcome
        finally:
            if not keep_slot:
                self._slots.release()

    async def _send_rate_limited(self, request: Request) -> Outcome:
        """The one place the rate limiter admits a request and the one place it hears how it went."""
        cooling = self.limiter.cooldown_remaining()
        if cooling > request.policy.max_retry_after:
            # Another call's 429 asked for a wait longer than this call may take: say so now
            # instead of sleeping silently until it ends.
            raise RateLimitError(
                f"the client is held back by the rate limit for another {cooling:.0f}s",
                status=429,
                retry_after=cooling,
                method=request.operation.method,
                url=request.url,
                operation=request.operation.id,
            )
        ticket = await self.limiter.acquire()
        outcome: Outcome | None = None
        try:
            outcome = await self._send_single(request)
            return outcome
        finally:
            self._answered(ticket, outcome)

    def _answered(self, ticket: Ticket, outcome: Outcome | None) -> None:
        """What the limiter learns from an attempt: the answer's status and headers (a 429's wait
        among them), or that none came — cancelled (``outcome`` None), or failed on the way."""
        live = outcome.live if outcome is not None else None
        if outcome is None or live is None:
            # It may have reached the server and counted — unless the connection never opened.
            never_sent = outcome is not None and outcome.failure is Failure.CONNECT
            self.limiter.release(ticket, sent=not never_sent)
            return
        self.limiter.observe(ticket, live.status, live.headers)
        if live.status == 429:
            self.stats.rate_limited += 1
            outcome.held_for = self.limiter.cooldown_remaining()

    async def _send_single(self, request: Request) -> Outcome:
        """One request on the wire, with the Authorization of this moment; the response still live."""
        headers = request.headers
        if self.auth is not None:
            request.authorization = headers["Authorization"] = await self.auth.authorize(self)
        data: Any = request.content
        if request.files is not None:
            assert request.form is not None
            data = form_data(request.form, request.files)
        self.stats.requests += 1
        try:
            live = await self.session.request(
                request.operation.method,
                request.wire_url,
                headers=headers,
                data=data,
                timeout=request.timeout,
                allow_redirects=False,
            )
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            return Outcome(failure=Failure.CONNECT, error=exc)
        except TimeoutError as exc:
            return Outcome(failure=Failure.TIMEOUT, error=exc)
        except aiohttp.ClientError as exc:
            return Outcome(failure=Failure.CONNECTION_LOST, error=exc)
        return Outcome(live=live)

    # -- policies --------------------------------------------------------------------------------
    def _policy(self, options: RequestOptions | None) -> RetryPolicy:
        if options is None:
            return self.retry
        policy = self.retry
        if options.max_retries is not None:
            policy = policy.with_overrides(max_retries=options.max_retries)
        if options.deadline is not None:
            policy = policy.with_overrides(deadline=options.deadline)
        return policy

    def _client_timeout(self, options: RequestOptions | None) -> aiohttp.ClientTimeout:
        total = options.timeout if options is not None and options.timeout is not None else self.timeout.total
        connect = self.timeout.connect
        if options is not None and options.connect_timeout is not None:
            connect = options.connect_timeout
        return aiohttp.ClientTimeout(total=total, sock_connect=connect)


def _pool_size(max_connections: int, session: aiohttp.ClientSession | None) -> int:
    """Requests that may be in flight at once: ours, or an injected session's tighter connector limit.

    0 means no limit, as it does for aiohttp's connector.
    """
    limits = [max_connections]
    connector = session.connector if session is not None else None
    if connector is not None:
        limits += [connector.limit, connector.limit_per_host]
    return min((limit for limit in limits if limit > 0), default=_UNLIMITED)


async def _error_body(response: aiohttp.ClientResponse) -> bytes:
    """An error response's body, or nothing if it cannot be read (the status says enough)."""
    try:
        return await response.read()
    except (aiohttp.ClientError, TimeoutError):
        return b""
