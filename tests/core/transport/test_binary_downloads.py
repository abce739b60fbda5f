"""Binary responses over a real loopback server: bytes, chunk streams, and atomic, retried saves."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from aiohttp import web

from kanbert_async import APIConnectionError, KanbertClient, NotFoundError, RequestOptions
from tests.core.transport.loopback import LoopbackServer

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 1024 + b"\n%%EOF"  # 256 KiB and a bit
PDF_ROUTE = "/api/v1/outgoing-invoices/{id}/pdf"


def _pdf_server(server: LoopbackServer, *, break_first: int = 0, status: int = 200) -> None:
    """Serve PDF; the first ``break_first`` responses stop halfway and drop the connection."""

    async def pdf(request: web.Request) -> web.StreamResponse:
        if status != 200:
            return web.json_response({"message": "No query results."}, status=status)
        response = web.StreamResponse(headers={"Content-Type": "application/pdf"})
        response.content_length = len(PDF)
        await response.prepare(request)
        if len(server.hits) <= break_first:
            await response.write(PDF[: len(PDF) // 2])
            await asyncio.sleep(0.01)
            assert request.transport is not None
            request.transport.close()
            return response
        for start in range(0, len(PDF), 32 * 1024):
            await response.write(PDF[start : start + 32 * 1024])
        return response

    server.route("GET", PDF_ROUTE, pdf)


def _leftovers(directory: Path, keep: str) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name != keep)


async def test_awaiting_a_download_gives_the_whole_body_as_bytes(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    _pdf_server(server)
    await server.start()
    kb = make_client(server.base_url)

    data = await kb.outgoing_invoices.download_pdf("inv_1")

    assert data == PDF
    assert server.count("GET") == 1


async def test_awaiting_a_download_is_retried_when_the_body_breaks_off(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    _pdf_server(server, break_first=1)
    await server.start()
    kb = make_client(server.base_url)

    assert await kb.outgoing_invoices.download_pdf("inv_1") == PDF
    assert server.count("GET") == 2


async def test_a_stream_yields_the_body_in_chunks_of_at_most_the_chunk_size(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    _pdf_server(server)
    await server.start()
    kb = make_client(server.base_url)

    download = kb.outgoing_invoices.download_pdf("inv_1")
    chunks: list[bytes] = []
    async with download.stream(chunk_size=16 * 1024) as body:
        async for chunk in body:
            chunks.append(chunk)

    assert b"".join(chunks) == PDF
    assert len(chunks) > 1
    assert max(map(len, chunks)) <= 16 * 1024
    assert download.headers["Content-Type"] == "application/pdf"


async def test_a_stream_that_breaks_off_raises_api_connection_error_not_an_aiohttp_exception(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    _pdf_server(server, break_first=1)
    await server.start()
    kb = make_client(server.base_url)

    with pytest.raises(APIConnectionError, match=r"outgoingInvoices.pdf: .*broke off"):
        async with kb.outgoing_invoices.download_pdf("inv_1").stream() as body:
            async for _ in body:
                pass


async def test_save_streams_to_the_destination_and_returns_the_size(
    server: LoopbackServer, make_client: Callable[..., KanbertClient], tmp_path: Path
) -> None:
    _pdf_server(server)
    await server.start()
    kb = make_client(server.base_url)
    target = tmp_path / "invoice.pdf"

    size = await kb.outgoing_invoices.download_pdf("inv_1").save(target)

    assert size == len(PDF)
    assert target.read_bytes() == PDF
    assert _leftovers(tmp_path, keep="invoice.pdf") == []


async def test_save_starts_over_when_the_body_breaks_off_mid_stream_and_logs_the_retry(
    server: LoopbackServer,
    make_client: Callable[..., KanbertClient],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="kanbert_async")
    _pdf_server(server, break_first=2)
    await server.start()
    kb = make_client(server.base_url)
    target = tmp_path / "invoice.pdf"

    size = await kb.outgoing_invoices.download_pdf("inv_1").save(str(target))

    assert size == len(PDF)
    assert target.read_bytes() == PDF
    assert server.count("GET") == 3
    assert _leftovers(tmp_path, keep="invoice.pdf") == []
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2
    assert "GET /outgoing-invoices/{id}/pdf" in retries[0]
    assert "attempt 1 of 3" in retries[0]
    assert "waiting" in retries[0]
    assert "broke off" in retries[0]


async def test_save_that_keeps_breaking_off_leaves_no_file_and_keeps_an_existing_one_untouched(
    server: LoopbackServer, make_client: Callable[..., KanbertClient], tmp_path: Path
) -> None:
    _pdf_server(server, break_first=100)
    await server.start()
    kb = make_client(server.base_url)
    target = tmp_path / "invoice.pdf"
    target.write_bytes(b"the previous version")

    with pytest.raises(
        APIConnectionError, match=r"outgoingInvoices.pdf: .*broke off.*4 attempts.*Nothing was written"
    ):
        await kb.outgoing_invoices.download_pdf("inv_1").save(target)

    assert target.read_bytes() == b"the previous version"
    assert _leftovers(tmp_path, keep="invoice.pdf") == []
    assert server.count("GET") == 4


async def test_save_of_a_missing_invoice_raises_not_found_and_writes_nothing(
    server: LoopbackServer, make_client: Callable[..., KanbertClient], tmp_path: Path
) -> None:
    _pdf_server(server, status=404)
    await server.start()
    kb = make_client(server.base_url)

    with pytest.raises(NotFoundError):
        await kb.outgoing_invoices.download_pdf("missing").save(tmp_path / "invoice.pdf")

    assert os.listdir(tmp_path) == []
    assert server.count("GET") == 1


async def test_save_with_max_retries_0_does_not_start_over(
    server: LoopbackServer, make_client: Callable[..., KanbertClient], tmp_path: Path
) -> None:
    _pdf_server(server, break_first=1)
    await server.start()
    kb = make_client(server.base_url)

    download = kb.outgoing_invoices.download_pdf("inv_1", options=RequestOptions(max_retries=0))
    with pytest.raises(APIConnectionError):
        await download.save(tmp_path / "invoice.pdf")

    assert server.count("GET") == 1
    assert os.listdir(tmp_path) == []


async def test_a_cancelled_save_leaves_no_partial_file(
    server: LoopbackServer, make_client: Callable[..., KanbertClient], tmp_path: Path
) -> None:
    started = asyncio.Event()

    async def slow_pdf(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/pdf"})
        response.content_length = len(PDF)
        await response.prepare(request)
        await response.write(PDF[:1024])
        started.set()
        await asyncio.sleep(10)
        return response

    server.route("GET", PDF_ROUTE, slow_pdf)
    await server.start()
    kb = make_client(server.base_url)

    task = asyncio.create_task(kb.outgoing_invoices.download_pdf("inv_1").save(tmp_path / "invoice.pdf"))
    await asyncio.wait_for(started.wait(), 5)
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert os.listdir(tmp_path) == []


async def test_two_concurrent_saves_to_one_destination_both_write_a_whole_file(
    server: LoopbackServer, make_client: Callable[..., KanbertClient], tmp_path: Path
) -> None:
    _pdf_server(server)
    await server.start()
    kb = make_client(server.base_url)
    target = tmp_path / "invoice.pdf"

    sizes = await asyncio.gather(
        kb.outgoing_invoices.download_pdf("inv_1").save(target),
        kb.outgoing_invoices.download_pdf("inv_1").save(target),
    )

    assert list(sizes) == [len(PDF), len(PDF)]
    assert target.read_bytes() == PDF
    assert _leftovers(tmp_path, keep="invoice.pdf") == []
