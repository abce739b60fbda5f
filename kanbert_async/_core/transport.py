"""The I/O edge: one aiohttp session, the retry loop, auth, pacing, and streaming bodies.

Decisions (retry or not, how long to wait, may a request go now) are made by the pure modules
``retry`` and ``ratelimit``; this module only carries them out.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
import anyio
import msgspec
from yarl import URL

from .auth import Auth
from .encoding import build_path, encode_form_fields, is_unset
from .errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    InvalidRequestError,
    KanbertError,
    NotFoundError,
    RateLimitError,
    status_error,
)
from .operation import Operation, RequestOptions
from .ratelimit import RateLimiter
from .retry import IDEMPOTENT_METHODS, Failure, RetryPolicy, decide_retry

__all__ = ["BinaryResponse", "Response", "Stats", "Timeout", "Transport", "check_base_url"]

logger = logging.getLogger("kanbert_async")

_CHUNK = 64 * 1024
_SPOOL_IN_MEMORY = 1024 * 1024
_UNLIMITED = 2**31
#: The size limit of a file field the description states none for.
_NO_LIMIT = 2**63


@dataclass(frozen=True, slots=True)
class Timeout:
    """Seconds allowed to connect, and for a whole attempt (connect, send, and read the body)."""

    total: float | None = 60.0
    connect: float | None = 10.0


@dataclass(slots=True)
class Stats:
    """What a client has done so far: for progress displays, manifests and tests."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    refreshes: int = 0
    recovered_creates: int = 0


@dataclass(frozen=True, slots=True)
class Response:
    """A complete response: status, headers (case-insensitive) and the body bytes."""

    status: int
    headers: Mapping[str, str]
    body: bytes


def check_base_url(base_url: str, *, allow_insecure_http: bool) -> str:
    """Refuse plain ``http://`` to anything but loopback (a token would cross the network in clear)."""
    parts = urlsplit(base_url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidRequestError(
            f"base_url {base_url!r} is not an http(s) URL, e.g. https://api.kanbert.com/api/v1"
        )
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        raise InvalidRequestError(
            f"base_url {base_url!r} uses plain http to a non-loopback host, which would send the token "
            "unencrypted. Use https, or pass allow_insecure_http=True if you really mean it."
        )
    return base_url.rstrip("/")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(slots=True)
class _Attempt:
    """State of one call across its attempts."""

    started_at: float = field(default_factory=time.time)
    retries: int = 0
    refreshed: bool = False
    #: The Authorization value the last attempt carried, so a 401 refreshes only a stale token.
    #: Kept out of the repr: error trackers record frame locals (this object) with their reprs.
    sent_authorization: str = field(default="", repr=False)
    #: Longest shared cooldown this call is willing to wait out (its policy's max_retry_after).
    max_wait: float = float("inf")


class Transport:
    """Sends operations over one aiohttp session with auth, pacing and retries."""

    def __init__(
        self,
        *,
        base_url: str,
        auth: Auth | None,
        timeout: Timeout,
        retry: RetryPolicy,
        limiter: RateLimiter,
        max_connections: int,
        session: aiohttp.ClientSession | None,
        user_agent: str,
    ) -> None:
        self.base_url = base_url
        self.auth = auth
        self.timeout = timeout
        self.retry = retry
        self.limiter = limiter
        self.stats = Stats()
        self._max_connections = max_connections
        self._session = session
        self._owns_session = session is None
        self._user_agent = user_agent
        self._closed = False
        # One slot per pooled connection, taken before the rate-limit gate: a request never waits
        # for a connection after passing the gate, so none slips out into a cooldown begun meanwhile.
        self._slots = anyio.Semaphore(_pool_size(max_connections, session))

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

    # -- requests --------------------------------------------------------------------------
    def url_for(self, operation: Operation[Any], path: Mapping[str, Any] | None) -> str:
        """The absolute, already-encoded URL of ``operation`` (without its query)."""
        return self.base_url + build_path(operation.path, path, operation.id)

    async def send(
        self,
        operation: Operation[Any],
        *,
        path: Mapping[str, Any] | None = None,
        query: list[tuple[str, str]] | None = None,
        body: Mapping[str, Any] | None = None,
        options: RequestOptions | None = None,
        recover: Callable[[], Awaitable[Response | None]] | None = None,
    ) -> Response:
        """Send and read the whole body, retrying as the policy allows; raise on a failed status."""
        async with self._exchange(operation, path, query, body, options, recover, read=True) as result:
            assert isinstance(result, Response)
            return result

    @contextlib.asynccontextmanager
    async def open_stream(
        self,
        operation: Operation[Any],
        *,
        path: Mapping[str, Any] | None = None,
        query: list[tuple[str, str]] | None = None,
        options: RequestOptions | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """A successful response whose body is still to be read, released on exit."""
        async with self._exchange(operation, path, query, None, options, None, read=False) as result:
            assert isinstance(result, aiohttp.ClientResponse)
            yield result

    @contextlib.asynccontextmanager
    async def _exchange(
        self,
        operation: Operation[Any],
        path: Mapping[str, Any] | None,
        query: list[tuple[str, str]] | None,
        body: Mapping[str, Any] | None,
        options: RequestOptions | None,
        recover: Callable[[], Awaitable[Response | None]] | None,
        *,
        read: bool,
    ) -> AsyncIterator[Response | aiohttp.ClientResponse]:
        url = self.url_for(operation, path)
        if query:
            url += "?" + urlencode(query, safe="[],:")
        policy = self._policy(options)
        state = _Attempt(max_wait=policy.max_retry_after)
        files = await _prepare_files(operation, body) if operation.body == "multipart" else {}
        try:
            while True:
                response, failure, error = await self._attempt(
                    operation, url, body, files, options, state, read
                )
                if response is not None and response.status < 400:
                    if isinstance(response, Response):
                        yield response
                    else:
                        try:
                            yield response
                        finally:
                            self._release(response)
                    return
                status = response.status if response is not None else None
                headers: Mapping[str, str] = response.headers if response is not None else {}
                raw_body = response.body if isinstance(response, Response) else b""
                if isinstance(response, aiohttp.ClientResponse):
                    try:
                        raw_body = await _read_error_body(response)
                    finally:
                        self._slots.release()
                if status == 401 and self.auth is not None and not state.refreshed:
                    state.refreshed = True
                    if await self.auth.on_unauthorized(self, state.sent_authorization):
                        continue
                now = time.time()
                retry_unsafe = False
                if recover is not None and _ambiguous(status, failure):
                    found = await recover()
                    if found is not None:
                        self.stats.recovered_creates += 1
                        logger.warning(
                            "%s: the create's outcome was unknown (%s); it had happened, so the existing "
                            "record is returned instead of creating a duplicate",
                            operation.id,
                            failure.value if failure else f"HTTP {status}",
                        )
                        yield found
                        return
                    retry_unsafe = True
                decision = decide_retry(
                    policy,
                    attempt=state.retries,
                    method=operation.method,
                    status=status,
                    failure=failure,
                    headers=headers,
                    now=now,
                    started_at=state.started_at,
                    retry_unsafe=retry_unsafe,
                )
                if status == 429:
                    self.stats.rate_limited += 1
                    self.limiter.cooldown(decision.server_wait)
                if not decision.retry:
                    raise self._error(
                        operation,
                        url,
                        status,
                        headers,
                        raw_body,
                        failure,
                        error,
                        decision.server_wait,
                        state.retries,
                    )
                self.stats.retries += 1
                state.retries += 1
                logger.warning(
                    "retrying %s %s (attempt %d of %d, waiting %.2fs): %s",
                    operation.method,
                    operation.path,
                    state.retries,
                    policy.max_retries,
                    self.limiter.cooldown_remaining() if status == 429 else decision.wait,
                    decision.reason,
                )
                # After a 429 the shared limiter holds every request (this one included) until the
                # server's wait has passed: one cooldown for the client, not one backoff per request.
                if status != 429:
                    await anyio.sleep(decision.wait)
        finally:
            for spooled in files.values():
                spooled.close()

    async def _attempt(
        self,
        operation: Operation[Any],
        url: str,
        body: Mapping[str, Any] | None,
        files: Mapping[str, _Spooled],
        options: RequestOptions | None,
        state: _Attempt,
        read: bool,
    ) -> tuple[Response | aiohttp.ClientResponse | None, Failure | None, BaseException | None]:
        """One attempt inside a connection slot; a live (streamed) response keeps its slot until released."""
        await self._slots.acquire()
        try:
            result = await self._send_once(operation, url, body, files, options, state, read)
        except BaseException:
            self._slots.release()
            raise
        if not isinstance(result[0], aiohttp.ClientResponse):
            self._slots.release()
        return result

    def _release(self, response: aiohttp.ClientResponse) -> None:
        response.release()
        self._slots.release()

    async def _send_once(
        self,
        operation: Operation[Any],
        url: str,
        body: Mapping[str, Any] | None,
        files: Mapping[str, _Spooled],
        options: RequestOptions | None,
        state: _Attempt,
        read: bool,
    ) -> tuple[Response | aiohttp.ClientResponse | None, Failure | None, BaseException | None]:
        cooling = self.limiter.cooldown_remaining()
        if cooling > state.max_wait:
            # Another call's 429 asked for a wait longer than this call may take: say so now
            # instead of sleeping silently until it ends.
            raise RateLimitError(
                f"the client is held back by the rate limit for another {cooling:.0f}s",
                status=429,
                retry_after=cooling,
                method=operation.method,
                url=url,
                operation=operation.id,
            )
        ticket = await self.limiter.acquire()
        # The media types the operation documents (a PDF download asks for the PDF first, JSON
        # second for error bodies): a server that negotiates answers 406 to anything else.
        headers = {"Accept": operation.accept}
        if not self._owns_session:
            # A session we created carries it already; an injected one is the caller's.
            headers["User-Agent"] = self._user_agent
        if options is not None and options.headers:
            headers.update(options.headers)
        if self.auth is not None:
            state.sent_authorization = await self.auth.authorize(self)
            headers["Authorization"] = state.sent_authorization
        data: Any = None
        json_body: bytes | None = None
        if operation.body == "multipart":
            data = _form_data(body or {}, files)
        elif operation.body == "form":
            data = _url_encoded(body or {})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif operation.body == "json" and body is not None:
            json_body = msgspec.json.encode({k: v for k, v in body.items() if v is not msgspec.UNSET})
            headers["Content-Type"] = "application/json"
        self.stats.requests += 1
        try:
            resp = await self.session.request(
                operation.method,
                URL(url, encoded=True),
                headers=headers,
                data=json_body if json_body is not None else data,
                timeout=self._client_timeout(options),
                allow_redirects=False,
            )
        except aiohttp.ClientConnectorError as exc:
            return None, Failure.CONNECT, exc
        except aiohttp.ConnectionTimeoutError as exc:
            return None, Failure.CONNECT, exc
        except TimeoutError as exc:
            return None, Failure.TIMEOUT, exc
        except aiohttp.ClientError as exc:
            return None, Failure.CONNECTION_LOST, exc
        self.limiter.observe(resp.headers, ticket)
        if not read and resp.status < 400:
            return resp, None, None
        try:
            payload = await resp.read()
        except TimeoutError as exc:
            resp.release()
            return None, Failure.TIMEOUT, exc
        except aiohttp.ClientError as exc:
            resp.release()
            return None, Failure.CONNECTION_LOST, exc
        return Response(resp.status, resp.headers, payload), None, None

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

    def _error(
        self,
        operation: Operation[Any],
        url: str,
        status: int | None,
        headers: Mapping[str, str],
        body: bytes,
        failure: Failure | None,
        error: BaseException | None,
        server_wait: float | None,
        retries: int = 0,
    ) -> KanbertError:
        if status is not None:
            return status_error(
                status,
                body,
                headers,
                method=operation.method,
                url=url,
                operation=operation.id,
                retry_after=server_wait,
                scopes=operation.scopes,
            )
        detail = (
            f"{type(error).__name__}: {error}" if error is not None and str(error) else type(error).__name__
        )
        if failure is Failure.TIMEOUT:
            what = "timed out"
        elif failure is Failure.CONNECTION_LOST:
            what = "lost the connection before the response arrived"
        else:
            what = "could not reach the server"
        tries = f"{retries + 1} attempts" if retries else "1 attempt"
        if failure is not Failure.CONNECT and operation.method not in IDEMPOTENT_METHODS:
            # Not resent: the server may have acted on it, and a second send could do it twice.
            hint = "The server may or may not have acted on it; check before sending it again"
            if operation.recovery is not None:
                hint += f" (pass {operation.recovery.key_field} and the SDK checks for you)"
            hint += "."
        else:
            hint = "Check the network and KANBERT_BASE_URL, or raise timeout/max_retries."
        message = f"{operation.id}: {operation.method} {url} {what} ({detail}; {tries}). {hint}"
        exc: APIConnectionError
        if failure is Failure.TIMEOUT:
            exc = APITimeoutError(message, method=operation.method, url=url)
        else:
            exc = APIConnectionError(message, method=operation.method, url=url)
        # aiohttp's connection errors carry no request headers, so chaining them leaks no token.
        exc.__cause__ = error
        return exc


def _pool_size(max_connections: int, session: aiohttp.ClientSession | None) -> int:
    """Requests that may be in flight at once: ours, or an injected session's tighter connector limit.

    0 means no limit, as it does for aiohttp's connector.
    """
    limits = [max_connections]
    connector = session.connector if session is not None else None
    if connector is not None:
        limits += [connector.limit, connector.limit_per_host]
    return min((limit for limit in limits if limit > 0), default=_UNLIMITED)


def _ambiguous(status: int | None, failure: Failure | None) -> bool:
    """The request may or may not have taken effect on the server."""
    if failure is not None:
        return failure is not Failure.CONNECT
    return status is not None and status >= 500


async def _read_error_body(response: aiohttp.ClientResponse) -> bytes:
    try:
        return await response.read()
    except (aiohttp.ClientError, TimeoutError):
        return b""
    finally:
        response.release()


# -- multipart ---------------------------------------------------------------------------------
@dataclass(slots=True)
class _Spooled:
    """A file argument made replayable (retries resend it) and measured before anything is sent."""

    filename: str
    size: int
    data: bytes | None = None
    path: Path | None = None
    #: A temporary file this spool created (a large stream), deleted on close.
    temp: Path | None = None

    def open_payload(self) -> Any:
        # A fresh file object per attempt: aiohttp closes the one it was given once it is sent.
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.open("rb")

    def close(self) -> None:
        if self.temp is not None:
            _remove(self.temp)


async def _prepare_files(operation: Operation[Any], body: Mapping[str, Any] | None) -> dict[str, _Spooled]:
    files: dict[str, _Spooled] = {}
    for name in dict.fromkeys([*operation.files, *operation.file_limits]):
        value = (body or {}).get(name)
        if is_unset(value):
            continue
        spooled = await _spool(value, name, operation.file_limits.get(name, _NO_LIMIT), operation.id)
        files[name] = spooled
    return files


def _too_large(
    operation_id: str, name: str, size: int, limit: int, *, more: bool = False
) -> InvalidRequestError:
    # Sizes in bytes and the limit in its own binary megabytes: "15.0 MB, over the 15 MB limit"
    # would read as a contradiction.
    return InvalidRequestError(
        f"{operation_id}: {name!r} is {size:,} bytes{' or more' if more else ''}, over the API's limit of "
        f"{limit / 2**20:.0f} MB ({limit:,} bytes); nothing was sent. "
        "Compress the file or pass a public file_url instead."
    )


async def _spool(value: Any, name: str, limit: int, operation_id: str) -> _Spooled:
    if isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        if len(data) > limit:
            raise _too_large(operation_id, name, len(data), limit)
        return _Spooled(filename=f"{name}.pdf", size=len(data), data=data)
    if isinstance(value, str | os.PathLike):
        path = Path(value)
        try:
            size = os.stat(path).st_size
        except OSError as exc:
            raise InvalidRequestError(
                f"{operation_id}: cannot read {name!r} from {path}: {exc.strerror}"
            ) from exc
        if size > limit:
            raise _too_large(operation_id, name, size, limit)
        return _Spooled(filename=path.name, size=size, path=path)
    if hasattr(value, "__aiter__"):
        return await _spool_stream(value, name, limit, operation_id)
    raise InvalidRequestError(
        f"{operation_id}: {name!r} must be bytes, a file path, or an async iterator of bytes, "
        f"not {type(value).__name__}"
    )


async def _spool_stream(value: Any, name: str, limit: int, operation_id: str) -> _Spooled:
    """Read a stream once, into memory while small, else into a named temporary file."""
    buffer = bytearray()
    temp: Any = None
    size = 0
    try:
        async for chunk in value:
            size += len(chunk)
            if size > limit:
                raise _too_large(operation_id, name, size, limit, more=True)
            if temp is None:
                buffer += chunk
                if len(buffer) > _SPOOL_IN_MEMORY:
                    temp = tempfile.NamedTemporaryFile(prefix="kanbert-upload-", suffix=".part", delete=False)  # noqa: SIM115
                    temp.write(buffer)
                    buffer.clear()
            else:
                temp.write(chunk)
    except BaseException:
        if temp is not None:
            temp.close()
            _remove(temp.name)
        raise
    if temp is None:
        return _Spooled(filename=f"{name}.pdf", size=size, data=bytes(buffer))
    temp.close()
    return _Spooled(filename=f"{name}.pdf", size=size, path=Path(temp.name), temp=Path(temp.name))


def _remove(path: str | os.PathLike[str]) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def _url_encoded(body: Mapping[str, Any]) -> bytes:
    """An ``application/x-www-form-urlencoded`` body with PHP-style field names."""
    pairs = [pair for name, value in body.items() for pair in encode_form_fields(name, value)]
    return urlencode(pairs).encode()


def _form_data(body: Mapping[str, Any], files: Mapping[str, _Spooled]) -> aiohttp.FormData:
    # Always multipart, as the operation declares, also when only file_url and fields are sent.
    form = aiohttp.FormData(default_to_multipart=True)
    for name, value in body.items():
        if name in files:
            spooled = files[name]
            form.add_field(
                name, spooled.open_payload(), filename=spooled.filename, content_type="application/pdf"
            )
            continue
        for field_name, text in encode_form_fields(name, value):
            form.add_field(field_name, text)
    return form


# -- binary responses --------------------------------------------------------------------------
class BinaryResponse:
    """A binary response (e.g. an invoice PDF), fetched when used.

    - ``data = await kb.outgoing_invoices.download_pdf(id)`` — the whole body as bytes (small files).
    - ``await kb.outgoing_invoices.download_pdf(id).save("invoice.pdf")`` — streamed to disk,
      written atomically (a temp file renamed into place), retried from the start if the
      connection drops mid-body. Returns the number of bytes written.
    - ``async with kb.outgoing_invoices.download_pdf(id).stream() as chunks: async for c in chunks`` —
      chunks as they arrive, never the whole body in memory.
    """

    def __init__(
        self,
        transport: Transport,
        operation: Operation[Any],
        path: Mapping[str, Any] | None,
        query: list[tuple[str, str]] | None,
        options: RequestOptions | None,
    ) -> None:
        self._transport = transport
        self._operation = operation
        self._path = path
        self._query = query
        self._options = options
        #: Response headers of the last successful fetch (e.g. ``Content-Disposition``).
        self.headers: Mapping[str, str] = {}

    def __repr__(self) -> str:
        return f"<BinaryResponse {self._operation.id} {self._path or {}}>"

    def __await__(self) -> Any:
        return self.read().__await__()

    async def read(self) -> bytes:
        """The whole body in memory."""
        response = await self._transport.send(
            self._operation, path=self._path, query=self._query, options=self._options
        )
        self.headers = response.headers
        return response.body

    @contextlib.asynccontextmanager
    async def stream(self, chunk_size: int = _CHUNK) -> AsyncIterator[AsyncIterator[bytes]]:
        """The body as an async iterator of chunks; the connection is released on exit.

        A body that breaks off midway raises :class:`APIConnectionError`; start the stream again.
        """
        async with self._transport.open_stream(
            self._operation, path=self._path, query=self._query, options=self._options
        ) as response:
            self.headers = response.headers
            yield _Chunks(response, chunk_size, self._operation)

    async def save(self, destination: str | os.PathLike[str]) -> int:
        """Stream the body into ``destination`` atomically; returns the number of bytes written."""
        target = Path(destination)
        policy = self._transport._policy(self._options)
        for attempt in range(policy.max_retries + 1):
            # A unique name per save: two saves to one destination must not write one partial file.
            fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
            partial = Path(name)
            try:
                size = 0
                with os.fdopen(fd, "wb") as out:
                    async with self.stream() as chunks:
                        async for chunk in chunks:
                            out.write(chunk)
                            size += len(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(partial, target)
                return size
            except _BodyBrokeOff as exc:
                _remove(partial)
                if attempt >= policy.max_retries:
                    raise APIConnectionError(
                        f"{self._operation.id}: the download broke off mid-body ({exc.detail}) "
                        f"{attempt + 1} times; nothing was written to {target}.",
                        method=self._operation.method,
                        url=exc.url,
                    ) from exc
                wait = policy.backoff(attempt)
                self._transport.stats.retries += 1
                logger.warning(
                    "retrying %s %s (attempt %d of %d, waiting %.2fs): %s",
                    self._operation.method,
                    self._operation.path,
                    attempt + 1,
                    policy.max_retries,
                    wait,
                    f"body broke off mid-stream ({exc.detail})",
                )
                await anyio.sleep(wait)
            except BaseException:
                _remove(partial)
                raise
        raise AssertionError("unreachable")  # pragma: no cover


class _BodyBrokeOff(APIConnectionError):
    """The response body stopped before its end (the connection dropped or timed out)."""

    def __init__(self, message: str, *, detail: str, method: str, url: str) -> None:
        super().__init__(message, method=method, url=url)
        self.detail = detail


class _Chunks:
    """A response body as chunks; transport failures mid-body surface as :class:`APIConnectionError`."""

    def __init__(self, response: aiohttp.ClientResponse, chunk_size: int, operation: Operation[Any]) -> None:
        self._response = response
        self._chunk_size = chunk_size
        self._operation = operation

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> bytes:
        try:
            chunk = await self._response.content.read(self._chunk_size)
        except (aiohttp.ClientError, TimeoutError) as exc:
            detail = type(exc).__name__
            url = str(self._response.url)
            raise _BodyBrokeOff(
                f"{self._operation.id}: {self._operation.method} {url} broke off mid-body ({detail}). "
                "Nothing after the chunks already received will arrive; start the download again.",
                detail=detail,
                method=self._operation.method,
                url=url,
            ) from exc
        if not chunk:
            raise StopAsyncIteration
        return chunk


async def recover_by_lookup(
    transport: Transport,
    lookup: Operation[Any],
    path: Mapping[str, Any],
    query: list[tuple[str, str]],
) -> Response | None:
    """Look a record up after an ambiguous create: its response if it exists, None on 404."""
    try:
        return await transport.send(lookup, path=path, query=query)
    except NotFoundError:
        return None
    except APIStatusError as exc:
        raise KanbertError(
            f"{lookup.id}: could not check whether an interrupted create took effect ({exc}). "
            "Look the record up by its external_id before creating it again."
        ) from exc
    except APIConnectionError as exc:
        # Still a connection error (callers catch it as one), but about the create, not the lookup.
        raise APIConnectionError(
            f"{lookup.id}: could not check whether an interrupted create took effect ({exc}) "
            "Look the record up by its external_id before creating it again.",
            method=exc.method,
            url=exc.url,
        ) from exc
