"""pytest fixtures for testing your own code against a local Kanbert: installed with the package.

pytest finds this plugin through the ``pytest11`` entry point; nothing needs configuring::

    async def test_sync_job_books_every_invoice(kanbert_client, kanbert_sandbox):
        await my_sync_job(kanbert_client)
        assert kanbert_sandbox.counters.requests["outgoingInvoices.index"] >= 1

    @pytest.mark.kanbert_sandbox(error_rate=0.2, rate_limit="50/s")   # a bad day, for this test only
    async def test_sync_job_survives_a_bad_day(kanbert_client): ...

Fixtures:

- ``kanbert_sandbox`` — a running :class:`~kanbert_async.sandbox.Sandbox` (seeded, on loopback, in a
  thread of its own, so sync and async tests alike can use it). One per configuration, started once
  per session; counters start at zero for each test, and what a marker or the test changed
  (faults, latency, rate limit) is undone after it. Data a test creates stays for the session.
- ``kanbert_sandbox_config`` (session) — the :class:`~kanbert_async.sandbox.SandboxConfig` of the
  session's sandbox (200 invoices, seed 1); override it in your ``conftest.py``.
- ``kanbert_client`` — an async :class:`~kanbert_async.KanbertClient` bound to it (needs
  pytest-asyncio); ``kanbert_sync_client`` — the blocking one; ``kanbert_client_options`` — extra
  keyword arguments for both (override it, e.g. ``{"max_retries": 8}``).

The marker ``@pytest.mark.kanbert_sandbox(**options)`` takes :class:`SandboxConfig` fields: those
shaping the data (``invoices``, ``seed``, …) select a sandbox of its own for the test (started once
per session), the others (``error_rate``, ``latency``, ``rate_limit``, ``throttle``, …) apply to this
test only. Inside a test, ``kanbert_sandbox.fail_next(...)`` and ``kanbert_sandbox.reconfigure(...)``
are undone after it too.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from kanbert_async import KanbertClient
    from kanbert_async.sandbox import Sandbox, SandboxConfig
    from kanbert_async.sync import KanbertClient as SyncKanbertClient

__all__ = [
    "kanbert_client",
    "kanbert_client_options",
    "kanbert_sandbox",
    "kanbert_sandbox_config",
    "kanbert_sync_client",
]

MARKER = "kanbert_sandbox"


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker, so ``--strict-markers`` accepts it."""
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**options): SandboxConfig fields for this test's kanbert_sandbox (data fields select "
        "a sandbox of their own; faults, latency and rate limits apply to this test only)",
    )


class _Sandboxes:
    """The session's running sandboxes, one per data configuration, each in a thread of its own."""

    def __init__(self) -> None:
        self._running: dict[Any, Sandbox] = {}
        self._stack = contextlib.ExitStack()

    def get(self, config: SandboxConfig) -> Sandbox:
        from kanbert_async.sandbox import Sandbox
        from kanbert_async.sandbox.server import FIXED_FIELDS

        key = tuple(sorted((name, repr(getattr(config, name))) for name in FIXED_FIELDS))
        sandbox = self._running.get(key)
        if sandbox is None:
            sandbox = self._running[key] = self._stack.enter_context(Sandbox(config).serve_in_thread())
        return sandbox

    def close(self) -> None:
        self._stack.close()


@pytest.fixture(scope="session")
def kanbert_sandbox_config() -> SandboxConfig:
    """The session sandbox's configuration; override this fixture to change it."""
    from kanbert_async.sandbox import SandboxConfig

    return SandboxConfig(invoices=200, seed=1)


@pytest.fixture(scope="session")
def _kanbert_sandboxes() -> Iterator[_Sandboxes]:
    sandboxes = _Sandboxes()
    try:
        yield sandboxes
    finally:
        sandboxes.close()


@pytest.fixture
def kanbert_sandbox(
    request: pytest.FixtureRequest, kanbert_sandbox_config: SandboxConfig, _kanbert_sandboxes: _Sandboxes
) -> Iterator[Sandbox]:
    """A running sandbox for this test: the session's, or the one its marker's data options ask for."""
    from kanbert_async.sandbox.server import FIXED_FIELDS

    options: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers(MARKER))):  # the closest marker wins
        if marker.args:
            raise pytest.UsageError(f"@pytest.mark.{MARKER} takes keyword arguments (SandboxConfig fields)")
        options.update(marker.kwargs)
    try:
        wanted = dataclasses.replace(kanbert_sandbox_config, **options)
    except (TypeError, ValueError) as exc:
        raise pytest.UsageError(f"@pytest.mark.{MARKER}: {exc}") from None
    base = dataclasses.replace(
        wanted,
        **{
            f.name: getattr(kanbert_sandbox_config, f.name)
            for f in dataclasses.fields(wanted)
            if f.name not in FIXED_FIELDS
        },
    )
    sandbox = _kanbert_sandboxes.get(base)
    behaviour = {name: value for name, value in options.items() if name not in FIXED_FIELDS}
    before = sandbox.reconfigure(**behaviour)
    sandbox.reset_counters()
    try:
        yield sandbox
    finally:
        sandbox.reconfigure(
            **{
                f.name: getattr(before, f.name)
                for f in dataclasses.fields(before)
                if f.name not in FIXED_FIELDS
            }
        )


@pytest.fixture
def kanbert_client_options() -> dict[str, Any]:
    """Extra keyword arguments for ``kanbert_client`` and ``kanbert_sync_client``; override to change."""
    return {}


@pytest.fixture
def kanbert_sync_client(
    kanbert_sandbox: Sandbox, kanbert_client_options: dict[str, Any]
) -> Iterator[SyncKanbertClient]:
    """A blocking client bound to ``kanbert_sandbox`` (closed after the test)."""
    from kanbert_async.sync import KanbertClient as SyncKanbertClient

    with SyncKanbertClient(
        kanbert_sandbox.token, base_url=kanbert_sandbox.base_url, **kanbert_client_options
    ) as kb:
        yield kb


def _async_fixture(fixture: Any) -> Any:
    """pytest-asyncio's fixture decorator (any mode), or a fixture that says it is needed."""
    try:
        import pytest_asyncio
    except ImportError:

        @pytest.fixture(name=fixture.__name__)
        def needs_pytest_asyncio() -> None:
            pytest.fail(
                f"{fixture.__name__} is async: pip install pytest-asyncio, or use kanbert_sync_client"
            )

        return needs_pytest_asyncio
    return pytest_asyncio.fixture(fixture)


@_async_fixture
async def kanbert_client(
    kanbert_sandbox: Sandbox, kanbert_client_options: dict[str, Any]
) -> AsyncIterator[KanbertClient]:
    """An async client bound to ``kanbert_sandbox`` (closed after the test); needs pytest-asyncio."""
    from kanbert_async import KanbertClient

    async with KanbertClient(
        kanbert_sandbox.token, base_url=kanbert_sandbox.base_url, **kanbert_client_options
    ) as kb:
        yield kb
