"""The whole client against a sandbox that keeps a separate, small budget for PDF downloads and
names the bucket of every answer (GitHub-style ``X-RateLimit-Resource``, or the IETF policy's
name), in real time: a listing running beside a PDF fan-out is not held by the PDFs' budget,
and each bucket meets few 429s."""

from __future__ import annotations

import asyncio
import time

import pytest

from kanbert_async import KanbertClient
from kanbert_async.sandbox import RateLimitBucket, Sandbox
from kanbert_async.sandbox.ratelimit import HeaderStyle

MAIN_RATE = "40/s"
PDF_RATE = "4/s"
PDFS = 16
LATENCY = 0.05


async def _listing_beside_pdfs(headers: HeaderStyle) -> None:
    async with Sandbox(
        invoices=200,
        seed=5,
        rate_limit=MAIN_RATE,
        rate_limit_buckets=(RateLimitBucket("pdfs", "outgoingInvoices.pdf", PDF_RATE),),
        rate_limit_headers=headers,
        latency=LATENCY,
    ) as sb:
        wanted = [invoice.id for invoice in sb.store.invoices()[:PDFS]]
        async with KanbertClient(sb.token, base_url=sb.base_url) as kb:
            started = time.perf_counter()

            async def listing() -> tuple[list[str], float]:
                ids = [inv.id async for inv in kb.outgoing_invoices.list(page_size=20)]
                return ids, time.perf_counter() - started

            async def pdfs() -> tuple[list[int], float]:
                sizes = [
                    len(result.value) if result.ok and result.value else 0
                    async for result in kb.map(
                        lambda i: kb.outgoing_invoices.download_pdf(i).read(), wanted, concurrency=8
                    )
                ]
                return sizes, time.perf_counter() - started

            (listed, listed_after), (sizes, pdfs_after) = await asyncio.gather(listing(), pdfs())
        cell = f"{headers} headers"
        # Exactly once, nothing lost: every invoice listed once, every PDF downloaded once.
        assert sorted(listed) == sorted(invoice.id for invoice in sb.store.invoices()), cell
        assert len(sizes) == PDFS and all(size > 0 for size in sizes), cell
        assert sb.counters.statuses[200] == sb.counters.requests["outgoingInvoices.index"] + PDFS, cell
        # 16 PDFs at 4/s take three windows at least; the ten pages of the listing, at 40/s, do not
        # wait for them: a limiter that held every request on the PDFs' 429s would finish both together.
        assert pdfs_after >= 2.9, cell
        assert listed_after < pdfs_after / 2, f"{cell}: listing {listed_after:.2f} s, PDFs {pdfs_after:.2f} s"
        refused = sb.counters.rate_limited_by_bucket
        assert refused["pdfs"] <= 3 and refused["core"] <= 1, f"{cell}: 429s by bucket {dict(refused)}"


@pytest.mark.parametrize("headers", ["laravel", "ietf"])
async def test_a_listing_beside_a_pdf_fan_out_is_not_held_by_the_pdfs_own_budget(
    headers: HeaderStyle,
) -> None:
    await _listing_beside_pdfs(headers)
