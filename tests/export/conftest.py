"""Sandboxes served from a background thread, so CLI runs (in-process or subprocesses) can use them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from kanbert_async.sandbox import Sandbox


def start_threaded(**options: Any) -> Iterator[Sandbox]:
    """A running sandbox on its own thread and event loop, stopped when the generator closes."""
    with Sandbox(**options).serve_in_thread() as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def calm_sandbox() -> Iterator[Sandbox]:
    """240 invoices, no faults: for bad-input tests."""
    yield from start_threaded(invoices=240, seed=3)
