"""A server with several budgets per token, shared through Redis: one key per bucket the server
names, and clients that share a token share each bucket's budget, not one budget for all."""

from __future__ import annotations

import asyncio
import re

from kanbert_async import KanbertClient, RedisStore
from kanbert_async._core.auth import Secret
from kanbert_async._core.ratelimit.redis_store import KEY_PREFIX
from kanbert_async.sandbox import RateLimitBucket, Sandbox

from .conftest import RedisServer

PDFS_PER_CLIENT = 6


async def test_two_clients_share_each_named_bucket_through_a_redis_key_of_its_own(
    redis_server: RedisServer,
) -> None:
    async with Sandbox(
        invoices=40,
        seed=6,
        rate_limit="40/s",
        rate_limit_buckets=(RateLimitBucket("pdfs", "outgoingInvoices.pdf", "4/s"),),
        latency=0.02,
    ) as sb:
        ids = [invoice.id for invoice in sb.store.invoices()]
        store = RedisStore.from_url(redis_server.url)

        async def client(share: list[str]) -> list[int]:
            async with KanbertClient(sb.token, base_url=sb.base_url, rate_limit_store=store) as kb:
                listed = [inv.id async for inv in kb.outgoing_invoices.list(page_size=10)]
                assert sorted(listed) == sorted(ids)
                return [
                    len(result.value) if result.ok and result.value else 0
                    async for result in kb.map(
                        lambda i: kb.outgoing_invoices.download_pdf(i).read(), share, concurrency=6
                    )
                ]

        shares = [ids[:PDFS_PER_CLIENT], ids[PDFS_PER_CLIENT : 2 * PDFS_PER_CLIENT]]
        got = await asyncio.gather(*(client(share) for share in shares))
        assert [len(sizes) for sizes in got] == [PDFS_PER_CLIENT] * 2
        assert sb.counters.requests["outgoingInvoices.pdf"] - sb.counters.rate_limited_by_bucket["pdfs"] == 12
        # Twelve PDFs between two clients at 4/s: a budget each client spent on its own would be
        # spent twice over, and the server would refuse about half of every window's burst.
        assert sb.counters.rate_limited_by_bucket["pdfs"] <= 3, dict(sb.counters.rate_limited_by_bucket)
        assert sb.counters.rate_limited_by_bucket["core"] == 0
        keys = set(re.findall(rb"kanbert-async:[^\r]*", redis_server.command("KEYS", "*")))
        token = Secret(sb.token)
        named = {store.key_for(sb.base_url, token, bucket).encode() for bucket in ("core", "pdfs")}
        assert named <= keys, "one key per bucket the server named"
        assert keys <= named | {store.key_for(sb.base_url, token).encode()}, "and nothing else"
        assert all(key.startswith(KEY_PREFIX.encode()) for key in keys)
        await store.aclose()
