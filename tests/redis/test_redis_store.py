"""RedisStore against a real redis-server: the swap, the layout, Redis' clock, secrets, and what a
client does when Redis fails or is gone from the start."""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import socket
import subprocess
import sys
import threading
import time

import pytest

from kanbert_async import InvalidRequestError, KanbertClient, OAuth2, RedisStore
from kanbert_async._core.ratelimit.redis_store import KEY_PREFIX, KEY_TTL
from kanbert_async._core.ratelimit.shared_gate import RETRY, SharedRateLimiter, Snapshot
from kanbert_async._core.transport import Stats
from kanbert_async.sandbox import Sandbox

from .conftest import RedisServer

SPENT = {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0"}


async def test_the_swap_writes_only_over_the_version_it_read(redis_server: RedisServer) -> None:
    store = RedisStore.from_url(redis_server.url)
    backend = store._backend
    nothing, now = await backend.read("k")
    assert nothing == Snapshot("", None)
    assert abs(now - time.time()) < 1.0, "the store's clock is Redis' TIME"
    assert (await backend.swap("k", "", "v1", b"one"))[0] is None
    current, _ = await backend.swap("k", "", "v2", b"two")  # written in between: refused
    assert current == Snapshot("v1", b"one")
    assert (await backend.swap("k", "v1", "v2", b"two"))[0] is None
    assert (await backend.read("k"))[0] == Snapshot("v2", b"two")
    await store.aclose()


async def test_a_budget_is_one_hash_under_a_one_way_name_that_expires_a_day_after_its_last_write(
    redis_server: RedisServer,
) -> None:
    async with Sandbox(invoices=5, seed=1) as sb:
        store = RedisStore.from_url(redis_server.url)
        async with KanbertClient(sb.token, base_url=sb.base_url, rate_limit_store=store) as kb:
            ids = [inv.id for inv in sb.store.invoices()]
            await asyncio.gather(*(kb.outgoing_invoices.get(i) for i in ids))
        await store.aclose()
    keys = re.findall(rb"kanbert-async:[^\r]*", redis_server.command("KEYS", "*"))
    assert len(keys) == 1 and re.fullmatch(re.escape(KEY_PREFIX).encode() + rb"[0-9a-f]{32}", keys[0])
    assert redis_server.command("HKEYS", keys[0].decode()).count(b"\r\n") == 5, "two fields: v and s"
    ttl = int(redis_server.command("PTTL", keys[0].decode())[1:].strip())
    assert KEY_TTL * 1000 - 60_000 < ttl <= KEY_TTL * 1000


async def test_a_429_holds_every_client_for_the_servers_wait_whatever_their_own_clocks_say(
    redis_server: RedisServer,
) -> None:
    store = RedisStore.from_url(redis_server.url)
    ahead = SharedRateLimiter(store._backend, "b", wall_clock=lambda: time.time() + 3600)
    behind = SharedRateLimiter(store._backend, "b", wall_clock=lambda: time.time() - 3600)
    opener = await behind.acquire()
    behind.observe(opener, 200, {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "50"})
    ticket = await ahead.acquire()
    ahead.observe(ticket, 429, {**SPENT, "retry-after-ms": "1500"})
    refused_at = time.monotonic()
    await behind.acquire()
    assert time.monotonic() - refused_at == pytest.approx(1.5, abs=0.1)
    for gate in (ahead, behind):
        await gate.aclose()
    await store.aclose()


class _Monitor:
    """Everything Redis is asked to do, as it reports it (MONITOR), on a connection of its own."""

    def __init__(self, port: int) -> None:
        self._conn = socket.create_connection(("127.0.0.1", port))
        self._conn.sendall(b"MONITOR\r\n")
        self.seen = bytearray()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while chunk := self._conn.recv(1 << 16):
            self.seen += chunk

    def close(self) -> bytes:
        time.sleep(0.1)
        self._conn.shutdown(socket.SHUT_RDWR)
        self._conn.close()
        self._thread.join(2)
        return bytes(self.seen)


async def test_the_token_reaches_no_redis_key_value_log_line_repr_or_error(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    monitor = _Monitor(redis_server.port)
    caplog.set_level(logging.DEBUG, logger="kanbert_async")
    async with Sandbox(invoices=10, seed=2, rate_limit="20/s", latency=0.01) as sb:
        token = sb.token
        store = RedisStore.from_url(redis_server.url)
        async with KanbertClient(token, base_url=sb.base_url, rate_limit_store=store) as kb:
            ids = [inv.id for inv in sb.store.invoices()]
            await asyncio.gather(*(kb.outgoing_invoices.get(ids[n % 10]) for n in range(30)))
            shown = [repr(kb), repr(store), repr(kb._transport.limiter), str(kb.stats)]
            dumped = redis_server.command("KEYS", "*") + b"".join(
                redis_server.command("HGETALL", key.decode())
                for key in re.findall(rb"kanbert-async:[^\r]*", redis_server.command("KEYS", "*"))
            )
            written = monitor.close()
            redis_server.kill()  # a failure's warning, too
            await kb.outgoing_invoices.get(ids[0])
            assert kb.stats.rate_limit_store_fallbacks == 1
        await store.aclose()
    assert b"EVALSHA" in written and len(written) > 2000, "the monitor saw the writes"
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "unavailable" in logged
    forms = [token, token.encode().hex(), base64.b64encode(token.encode()).decode()]
    for form in forms:
        assert form.encode() not in written and form.encode() not in dumped
        assert form not in logged and not any(form in text for text in shown)


async def test_a_redis_that_dies_mid_run_leaves_the_client_working_and_it_shares_again_when_back(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with Sandbox(invoices=10, seed=2, rate_limit="50/s", latency=0.02) as sb:
        store = RedisStore.from_url(redis_server.url)
        async with KanbertClient(sb.token, base_url=sb.base_url, rate_limit_store=store) as kb:
            ids = [inv.id for inv in sb.store.invoices()]
            limiter = kb._transport.limiter.default
            assert isinstance(limiter, SharedRateLimiter)
            done = 0

            async def calls(seconds: float) -> None:
                nonlocal done
                until = time.monotonic() + seconds
                while time.monotonic() < until:
                    await kb.outgoing_invoices.get(ids[done % 10])
                    done += 1

            await calls(0.5)
            redis_server.kill()
            await calls(1.0)
            assert not limiter.sharing
            redis_server.start()  # back, empty, on the same port
            await calls(RETRY + 0.8)
            assert limiter.sharing
            assert redis_server.command("KEYS", "kanbert-async:*").count(b"kanbert-async:") == 1
            assert kb.stats.rate_limit_store_fallbacks == 1
        await store.aclose()
    assert done > 50
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "budget" in r.getMessage()]
    assert len(warnings) == 1, "one warning for the outage"
    assert "redis://127.0.0.1:" in warnings[0].getMessage()


async def test_a_redis_that_is_not_there_at_all_costs_one_warning_and_nothing_else(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        nowhere = f"redis://:hunter2@127.0.0.1:{probe.getsockname()[1]}/0"
    async with Sandbox(invoices=5, seed=1) as sb:
        store = RedisStore.from_url(nowhere)
        async with KanbertClient(sb.token, base_url=sb.base_url, rate_limit_store=store) as kb:
            ids = [inv.id for inv in sb.store.invoices()]
            got = await asyncio.gather(*(kb.outgoing_invoices.get(i) for i in ids * 4))
            assert len(got) == 20 and kb.stats.rate_limit_store_fallbacks == 1
        await store.aclose()
    [warning] = [r.getMessage() for r in caplog.records if "budget" in r.getMessage()]
    assert "hunter2" not in warning and "hunter2" not in repr(store)


def test_a_redis_url_is_checked_and_a_missing_redis_package_says_how_to_get_it() -> None:
    with pytest.raises(InvalidRequestError, match="not a Redis URL"):
        RedisStore.from_url("http://localhost:6379")
    script = (
        "import sys; sys.modules['redis'] = None\n"
        "from kanbert_async import RedisStore\n"
        "try: RedisStore.from_url('redis://localhost')\n"
        "except Exception as exc: print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert "pip install 'kanbert-async[redis]'" in out


def test_importing_the_sdk_does_not_import_redis() -> None:
    script = "import sys, kanbert_async; from kanbert_async import RedisStore; print('redis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_token_that_changes_needs_a_named_budget(redis_server: RedisServer) -> None:
    auth = OAuth2(client_id="app", access_token="a", refresh_token="r", token_url="https://x.test/token")
    with pytest.raises(InvalidRequestError, match=r"budget='my-integration'"):
        KanbertClient(auth=auth, rate_limit_store=RedisStore.from_url(redis_server.url))
    named = RedisStore.from_url(redis_server.url, budget="crm-sync")
    kb = KanbertClient(auth=auth, rate_limit_store=named)
    assert isinstance(kb._transport.limiter.default, SharedRateLimiter)


async def test_the_environment_variable_gives_every_client_a_redis_budget_it_closes_itself(
    redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KANBERT_RATE_LIMIT_REDIS_URL", redis_server.url)
    async with Sandbox(invoices=3, seed=1) as sb, KanbertClient(sb.token, base_url=sb.base_url) as kb:
        assert isinstance(kb._transport.limiter.default, SharedRateLimiter)
        await kb.outgoing_invoices.get(sb.store.invoices()[0].id)
        assert kb._transport.limiter.default.sharing
    assert redis_server.command("KEYS", "kanbert-async:*").count(b"kanbert-async:") == 1


def test_one_store_serves_a_worker_that_runs_each_task_in_a_new_event_loop(redis_server: RedisServer) -> None:
    store = RedisStore.from_url(redis_server.url)

    async def task() -> int:
        stats = Stats()
        limiter = SharedRateLimiter(store._backend, "k", metrics=stats)
        ticket = await limiter.acquire()
        limiter.observe(ticket, 200, {})
        await limiter.aclose()
        return stats.rate_limit_store_fallbacks

    assert [asyncio.run(task()) for _ in range(3)] == [0, 0, 0], "each loop gets a client of its own"
    asyncio.run(store.aclose())
