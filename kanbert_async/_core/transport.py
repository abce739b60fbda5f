"""The I/O edge: one aiohttp session, and the layers every request passes through on its way out.

A call is prepared once into a :class:`~.exchange.Request`, then handed down one layer per
concern, each an ``async`` method that calls the next (as httpx stacks ``_send_handling_auth`` →
``_send_handling_redirects`` → ``_send_single_request``)::

    send / open_stream            prepare the Request (URL, headers, body, timeout, policy)
    _send_reporting               what the caller learns: ResponseInfo, attempts on errors
    _send_handling_retries        retry or raise, backoff, retry log and stats
    _send_checking_existing       after an ambiguous create: does the record exist already?
    _send_handling_auth           401 → refresh once and send again
    _send_holding_connection      a pooled connection's slot; read the body, or keep it live
    _send_rate_limited            the rate limiter: admit the request, learn from its answer
    _send_observed                hooks and the request log line, per attempt (see .observe)
    _send_single                  the Authorization header, one aiohttp request

Decisions (retry or not, how long to wait, may a request go now) are made by the pure modules
``retry`` and ``ratelimit``; the layers only carry them out. Each answer or failure comes back
up as an :class:`~.exchange.Outcome`; a layer that does not apply to a call (no duplicate check,
no auth) is skipped, not passed through.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import aiohttp
import msgspec
from yarl import URL

from .auth import Auth
from .encoding import build_path, encode_form, flatten_query, query_string
from .errors import (
    APIConnectionError,
    APIStatusError,
    RateLimitError,
)
from .exchange import (
    BodyReader,
    Outcome,
    Request,
    Response,
    failure_error,
    response_info,
    with_body_fields,
    with_query,
)
from .multipart import form_data, spool_files
from .observe import Observer, form_summary
from .operation import Operation, RequestOptions
from .pool import ConnectionPool
from .ratelimit.buckets import BucketRouter, Pass
from .reporting import Stats, current_capture
from .retry import Failure, RetryPolicy, decide_retry
from .settings import Timeout

__all__ = ["Response", "Stats", "Transport"]

logger = logging.getLogger("kanbert_async")


class Transport:
    """Sends operations over one aiohttp session with auth, pacing and retries.

    :meth:`derive` makes a transport with other timeouts, retries or default headers that shares
    this one's pool, rate limiter, auth, hooks and stats (``kb.with_options``).
    """

    def __init__(
        self,
        *,
        base_url: str,
        auth: Auth | None,
        timeout: Timeout,
        retry: RetryPolicy,
        limiter: BucketRouter,
        pool: ConnectionPool,
        observer: Observer | None = None,
        default_headers: Mapping[str, str] | None = None,
        default_query: Mapping[str, Any] | None = None,
        stats: Stats | None = None,
    ) -> None:
        self.base_url = base_url
        self.auth = auth
        self.timeout = timeout
        self.retry = retry
        self.limiter = limiter
        self.pool = pool
        self.observer = observer or Observer()
        self.default_headers: Mapping[str, str] = dict(default_headers or {})
        self.default_query: Sequence[tuple[str, str]] = flatten_query(default_query or {})
        self.stats = stats or Stats()

    def derive(
        self,
        *,
        timeout: Timeout | None = None,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, Any] | None = None,
    ) -> Transport:
        """A transport over the same pool, limiter, auth, hooks and stats, with these overrides
        (``headers`` and ``query`` are added to the defaults)."""
        derived = copy.copy(self)
        derived.timeout = timeout or self.timeout
        derived.retry = retry or self.retry
        derived.default_headers = {**self.default_headers, **(headers or {})}
        derived.default_query = flatten_query({**dict(self.default_query), **(query or {})})
        return derived

    @property
    def session(self) -> aiohttp.ClientSession:
        """The pool's session, created on first use inside the running event loop."""
        return self.pool.session

    # -- token endpoint for auth ---------------------------------------------------------------
    async def post_form(self, url: str, data: Mapping[str, str]) -> tuple[int, bytes]:
        """POST a form (the OAuth token endpoint); no Authorization header, no retries."""
        self.stats.refreshes += 1
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(form_summary(url, data))
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
            outcome = await self._send_reporting(request)
        else:
            assert request.form is not None
            request.files = await spool_files(operation, request.form)
            try:
                outcome = await self._send_reporting(request)
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
        live = (await self._send_reporting(request)).live
        assert live is not None
        try:
            yield live
        finally:
            live.release()
            self.pool.slots.release()

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
        headers = {"Accept": operation.accept, **self.default_headers}
        if not self.pool.owns_session:
            # A session we created carries it already; an injected one is the caller's.
            headers["User-Agent"] = self.pool.user_agent
        if options is not None:
            if options.headers:
                headers.update(options.headers)
            if options.query:
                url = with_query(url, flatten_query(options.query))
            if options.body:
                body = with_body_fields(operation, body, options.body)
        if self.default_query:
            url = with_query(url, self.default_query, keep_given=True)
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
    async def _send_reporting(self, request: Request) -> Outcome:
        """The call as its caller learns of it: a success's :class:`ResponseInfo` on the response
        (and for ``kb.last_response`` and a raw response being captured); on an error, the attempts
        made and the rate limit as it stood."""
        started = time.monotonic()
        try:
            outcome = await self._send_handling_retries(request)
        except APIStatusError as exc:
            exc.attempts = max(request.attempts, 1)
            exc.rate_limit = self.limiter.info
            raise
        info = response_info(request, outcome, time.monotonic() - started)
        self.pool.last_response.set(info)
        capture = current_capture()
        response = outcome.response
        if capture is not None:
            capture.info = info
            capture.content = response.body if response is not None else b""
        if response is not None:
            outcome.response = replace(response, info=info)
        return outcome

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
        await self.pool.slots.acquire()
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
                self.pool.slots.release()

    async def _send_rate_limited(self, request: Request) -> Outcome:
        """The one place the rate limiter admits a request and the one place it hears how it went."""
        route = f"{request.operation.method} {request.operation.path}"
        cooling = self.limiter.cooldown_remaining(route)
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
        admitted = await self.limiter.acquire(route)
        outcome: Outcome | None = None
        try:
            outcome = await self._send_observed(request)
            return outcome
        finally:
            self._answered(admitted, outcome)

    def _answered(self, admitted: Pass, outcome: Outcome | None) -> None:
        """What the limiter learns from an attempt: the answer's status and headers (a 429's wait
        among them), or that none came — cancelled (``outcome`` None), or failed on the way."""
        live = outcome.live if outcome is not None else None
        if outcome is None or live is None:
            # It may have reached the server and counted — unless the connection never opened.
            never_sent = outcome is not None and outcome.failure is Failure.CONNECT
            self.limiter.release(admitted, sent=not never_sent)
            return
        self.limiter.observe(admitted, live.status, live.headers)
        if live.status == 429:
            self.stats.rate_limited += 1
            outcome.held_for = self.limiter.cooldown_remaining(admitted.route)

    async def _send_observed(self, request: Request) -> Outcome:
        """Each attempt counted; with hooks or request logging on, timed, logged and shown to the hooks."""
        request.attempts += 1
        if not self.observer.watching():
            return await self._send_single(request)
        return await self.observer.observe(request, self.base_url, self._send_single)

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


async def _error_body(response: aiohttp.ClientResponse) -> bytes:
    """An error response's body, or nothing if it cannot be read (the status says enough)."""
    try:
        return await response.read()
    except (aiohttp.ClientError, TimeoutError):
        return b""
