"""``Sandbox``: start a local Kanbert on loopback, in this event loop or in a thread of its own."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any

from aiohttp import web

from .app import SandboxState, build_state, create_app
from .auth import OAuthTokens
from .config import SandboxConfig
from .counters import Counters
from .faults import FaultKind
from .store import Store

__all__ = ["Sandbox"]

# How long stop() waits for requests still running (slow faults are woken at once).
_SHUTDOWN_TIMEOUT = 2.0


class Sandbox:
    """A stateful fake of Kanbert's outgoing-invoice API on ``127.0.0.1``.

    Configure it with a :class:`SandboxConfig` or its fields as keywords::

        async with Sandbox(invoices=5000, seed=1, rate_limit="600/min") as sb:
            async with KanbertClient(sb.token, base_url=sb.base_url) as kb:
                ...
            assert sb.counters.requests["outgoingInvoices.index"] > 0

    ``base_url`` (``http://127.0.0.1:PORT/api/v1``), ``token`` (every scope), ``counters``,
    ``store`` (the data, for assertions) and ``port`` are available once started. For synchronous
    code (e.g. schemathesis) use :meth:`serve_in_thread`.
    """

    def __init__(self, config: SandboxConfig | None = None, /, **options: Any) -> None:
        if config is None:
            config = SandboxConfig(**options)
        elif options:
            config = dataclasses.replace(config, **options)
        self.config = config
        self._state: SandboxState | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._token: str | None = None

    def __repr__(self) -> str:
        where = self.root_url if self._port is not None else "not started"
        return f"<Sandbox {where} invoices={self.config.invoices} seed={self.config.seed}>"

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Generate the data (off the event loop) and start serving."""
        if self._runner is not None:
            raise RuntimeError("the sandbox is already running")
        store = await asyncio.to_thread(Store, self.config)
        state = build_state(self.config, store)
        self._token = state.token
        runner = web.AppRunner(
            create_app(state), handle_signals=False, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT,
            handler_cancellation=True,
        )  # fmt: skip
        await runner.setup()
        site = web.TCPSite(runner, self.config.host, self.config.port)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        address = runner.addresses[0]
        self._port = int(address[1])
        self._state, self._runner = state, runner

    async def stop(self) -> None:
        """Stop serving; requests still sleeping in a fault are cut short."""
        runner, state = self._runner, self._state
        self._runner = None
        if state is not None:
            state.closing.set()
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @contextlib.contextmanager
    def serve_in_thread(self) -> Iterator[Sandbox]:
        """Run the sandbox on its own event loop in a daemon thread, for synchronous callers.

        Example: ``with Sandbox(invoices=300).serve_in_thread() as sb: requests.get(sb.base_url + ...)``.
        Counters and store may be read from the calling thread; change them only between requests.
        """
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        thread = threading.Thread(target=run, name="kanbert-sandbox", daemon=True)
        thread.start()
        ready.wait()
        if failure:
            thread.join()
            raise failure[0]
        try:
            yield self
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()

    # -- what tests use -------------------------------------------------------------------------

    def _require(self) -> SandboxState:
        if self._state is None or self._port is None:
            raise RuntimeError("the sandbox is not running; use 'async with Sandbox(...)' or await start()")
        return self._state

    @property
    def port(self) -> int:
        """The TCP port it listens on."""
        self._require()
        assert self._port is not None
        return self._port

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:PORT`` (where ``/oauth/token`` lives)."""
        return f"http://{self.config.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/api/v1``: the API's base URL."""
        return f"{self.root_url}/api/v1"

    @property
    def token_url(self) -> str:
        """The OAuth token endpoint."""
        return f"{self.root_url}/oauth/token"

    @property
    def authorize_url(self) -> str:
        """The OAuth authorization endpoint (approves at once and redirects)."""
        return f"{self.root_url}/oauth/authorize"

    @property
    def token(self) -> str:
        """A bearer token with every scope, acting as ``store.me`` for the ``sandbox`` integration."""
        self._require()
        assert self._token is not None
        return self._token

    @property
    def counters(self) -> Counters:
        """Requests, statuses, 429s, faults, OAuth grants and the request timeline."""
        return self._require().counters

    @property
    def store(self) -> Store:
        """The data, e.g. ``sb.store.invoices()`` — every unarchived invoice as the API returns it."""
        return self._require().store

    def issue_token(
        self,
        scopes: Iterable[str] | None = None,
        *,
        ttl: float | None = None,
        origin: str | None = None,
        user_id: str | None = None,
    ) -> str:
        """A new bearer token: limited ``scopes`` (None: all), expiring after ``ttl`` seconds,
        acting for integration ``origin`` (the default ``origin`` of external-id lookups)."""
        return self._require().tokens.issue(scopes, ttl=ttl, origin=origin, user_id=user_id).token

    def revoke_token(self, token: str) -> None:
        """Make ``token`` unusable (its requests get 401)."""
        self._require().tokens.revoke(token)

    def issue_oauth_tokens(
        self, scopes: Iterable[str] | None = None, *, client_id: str = "sandbox-client"
    ) -> OAuthTokens:
        """An OAuth access token (living ``access_token_ttl`` seconds) and a rotating refresh token."""
        return self._require().tokens.issue_oauth_tokens(scopes, client_id=client_id)

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
        """Make the next ``n`` requests (to ``operations``, default: any API operation) fail with ``kind``.

        ``kind`` is ``error`` (``status``, Laravel body or ``empty_body``), ``drop``, ``drop_mid_body``,
        ``slow`` (``seconds``, default ``slow_seconds``), ``lost_upload`` or ``rate_limit``
        (429 with ``Retry-After: retry_after``).
        """
        self._require().faults.fail_next(
            n,
            kind,
            operations=operations,
            status=status,
            empty_body=empty_body,
            retry_after=retry_after,
            seconds=seconds,
        )

    def clear_faults(self) -> None:
        """Forget faults scheduled with :meth:`fail_next`."""
        self._require().faults.clear()

    # -- changing a running sandbox (per test) --------------------------------------------------

    def reconfigure(self, **changes: Any) -> SandboxConfig:
        """Change how the running sandbox behaves — faults, latency, rate limit, throttle and its
        buckets — keeping its data, tokens and counters; returns the configuration it had before
        (to restore later). The throttles start afresh.

        Example: ``before = sb.reconfigure(error_rate=0.2, rate_limit="20/s")``, or with a bucket
        ``rate_limit_buckets=[RateLimitBucket("pdfs", "outgoingInvoices.pdf", "5/s")]``; later
        ``sb.reconfigure(**dataclasses.asdict(before))``. Fields that shape the data or who may
        call (``invoices``, ``seed``, ``token``, …) need a new sandbox and raise ``ValueError``.
        Scheduled faults (:meth:`fail_next`) are cleared. Change it only between requests.
        """
        state = self._require()
        before = state.config
        fixed = sorted(
            name for name in changes if name in FIXED_FIELDS and changes[name] != getattr(before, name)
        )
        if fixed:
            raise ValueError(
                f"{', '.join(fixed)} cannot change while the sandbox runs; start another Sandbox"
            )
        fresh = build_state(dataclasses.replace(before, **changes), state.store)
        for field in dataclasses.fields(state):
            if field.name not in _KEPT_STATE:
                setattr(state, field.name, getattr(fresh, field.name))
        return before

    def reset_counters(self) -> None:
        """Start counting requests, statuses and faults from zero."""
        self._require().counters = Counters()


#: Configuration that shapes the data or the identities: fixed while a sandbox runs.
FIXED_FIELDS = frozenset(
    {
        "invoices",
        "masters",
        "seed",
        "anchor_date",
        "years",
        "date_skew",
        "null_fraction",
        "archived_fraction",
        "pdf_min_bytes",
        "host",
        "port",
        "integration_slug",
        "token",
        "access_token_ttl",
        "revoke_on_refresh",
        "clock",
    }
)
#: What a running sandbox has accumulated, kept when it is reconfigured.
_KEPT_STATE = frozenset({"store", "tokens", "counters", "codec", "listers", "closing", "token"})
