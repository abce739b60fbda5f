"""Multipart uploads (create_external) against a real loopback server that parses the form."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import BodyPartReader, web

from kanbert_async import InvalidRequestError, KanbertClient
from tests.core.transport.loopback import HIT, LoopbackServer, invoice_json

LIMIT = 15 * 2**20
PDF = b"%PDF-1.7\n" + b"\x00\x01\xfe\xff" * 4096 + b"\n%%EOF"
WHEN = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)


def invoice_fields() -> dict[str, Any]:
    return {
        "client_id": "cl_1",
        "title": "Consulting May",
        "status": "booked",
        "invoice_number": "EXT-1",
        "date_of_invoice": WHEN,
        "performance_range_start": WHEN,
        "performance_range_end": WHEN + dt.timedelta(days=30),
        "payment_due_date": WHEN + dt.timedelta(days=14),
        "currency": "EUR",
        "sum_net": 200.0,
        "taxation_enabled": True,
        "is_credit": False,
        "vats": [{"vat": 19, "value": 38.0}, {"vat": 7, "value": 0}],
    }


def _upload_server(server: LoopbackServer, *, statuses: list[int] | None = None) -> list[dict[str, Any]]:
    """Record each upload's parsed form (file parts as (filename, content type, bytes))."""
    forms: list[dict[str, Any]] = []
    queue = list(statuses or [])

    async def create(request: web.Request) -> web.Response:
        form: dict[str, Any] = {"content_type": request.content_type}
        reader = await request.multipart() if request.content_type.startswith("multipart/") else None
        if reader is not None:
            async for part in reader:
                assert isinstance(part, BodyPartReader) and part.name is not None
                if part.filename is not None:
                    form[part.name] = (part.filename, part.headers.get("Content-Type"), await part.read())
                else:
                    form[part.name] = await part.text()
        else:
            form.update(await request.post())
        request[HIT].form = form
        forms.append(form)
        status = queue.pop(0) if queue else 201
        if status == 429:
            return web.json_response(
                {"message": "Too Many Attempts."}, status=429, headers={"Retry-After": "0"}
            )
        return web.json_response(invoice_json("inv_new", external_id=form.get("external_id")), status=status)

    server.route("POST", "/api/v1/outgoing-invoices/external", create)
    return forms


async def test_an_upload_from_bytes_sends_a_multipart_form_with_php_style_fields_and_booleans_as_1_0(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    forms = _upload_server(server)
    await server.start()
    kb = make_client(server.base_url)

    invoice = await kb.outgoing_invoices.create_external(**invoice_fields(), file=PDF, external_id="EXT-1")

    assert invoice.id == "inv_new"
    [form] = forms
    assert form["content_type"] == "multipart/form-data"
    assert form["file"] == ("file.pdf", "application/pdf", PDF)
    assert form["vats[0][vat]"] == "19"
    assert form["vats[0][value]"] == "38.0"
    assert form["vats[1][vat]"] == "7"
    assert form["vats[1][value]"] == "0"
    assert form["taxation_enabled"] == "1"
    assert form["is_credit"] == "0"
    assert form["date_of_invoice"] == "2024-05-01T00:00:00+00:00"
    assert form["external_id"] == "EXT-1"
    assert "reference" not in form and "file_url" not in form


async def test_an_upload_from_a_path_sends_the_files_bytes_under_its_name(
    server: LoopbackServer, make_client: Callable[..., KanbertClient], tmp_path: Path
) -> None:
    forms = _upload_server(server)
    await server.start()
    kb = make_client(server.base_url)
    path = tmp_path / "RE-2024-05.pdf"
    path.write_bytes(PDF)

    await kb.outgoing_invoices.create_external(**invoice_fields(), file=path)
    await kb.outgoing_invoices.create_external(**invoice_fields(), file=str(path))

    assert [form["file"] for form in forms] == [("RE-2024-05.pdf", "application/pdf", PDF)] * 2


async def _chunks_of(data: bytes, size: int = 1000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_an_upload_from_an_async_byte_stream_sends_all_its_chunks(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    forms = _upload_server(server)
    await server.start()
    kb = make_client(server.base_url)

    await kb.outgoing_invoices.create_external(**invoice_fields(), file=_chunks_of(PDF))

    assert forms[0]["file"][2] == PDF


async def test_an_upload_by_file_url_is_still_multipart_and_carries_no_file_part(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    forms = _upload_server(server)
    await server.start()
    kb = make_client(server.base_url)

    await kb.outgoing_invoices.create_external(**invoice_fields(), file_url="https://files.example/inv.pdf")

    [form] = forms
    assert form["content_type"] == "multipart/form-data"
    assert form["file_url"] == "https://files.example/inv.pdf"
    assert "file" not in form


@pytest.mark.parametrize("kind", ["bytes", "path", "stream"])
async def test_a_retried_upload_sends_the_whole_file_again(
    kind: str, server: LoopbackServer, make_client: Callable[..., KanbertClient], tmp_path: Path
) -> None:
    # A 429 is refused before any work is done, so even this POST is resent.
    forms = _upload_server(server, statuses=[429])
    await server.start()
    kb = make_client(server.base_url)
    path = tmp_path / "file.pdf"
    path.write_bytes(PDF)
    file: Any = {"bytes": PDF, "path": path, "stream": _chunks_of(PDF)}[kind]

    await kb.outgoing_invoices.create_external(**invoice_fields(), file=file)

    assert [form["file"][2] for form in forms] == [PDF, PDF]


@pytest.mark.parametrize("kind", ["bytes", "path", "stream"])
async def test_a_file_over_15_mb_is_refused_before_anything_is_sent(
    kind: str, server: LoopbackServer, make_client: Callable[..., KanbertClient], tmp_path: Path
) -> None:
    _upload_server(server)
    await server.start()
    kb = make_client(server.base_url)
    consumed = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal consumed
        while True:
            consumed += 2**20
            yield b"\0" * 2**20

    path = tmp_path / "huge.pdf"
    with path.open("wb") as handle:
        handle.truncate(LIMIT + 1)  # sparse: no 15 MB written to the disk
    file: Any = {"bytes": b"\0" * (LIMIT + 1), "path": path, "stream": endless()}[kind]

    with pytest.raises(InvalidRequestError) as caught:
        await kb.outgoing_invoices.create_external(**invoice_fields(), file=file)

    assert server.hits == []
    text = str(caught.value)
    assert text.startswith("outgoingInvoices.createExternal: 'file' is")
    assert "over the API's limit of 15 MB (15,728,640 bytes)" in text
    if kind != "stream":
        assert f"is {LIMIT + 1:,} bytes," in text
    assert "nothing was sent" in text
    assert "file_url" in text
    if kind == "stream":
        assert consumed <= LIMIT + 2**20  # stopped reading at the limit, not at the stream's end


async def test_a_file_of_an_unsupported_type_is_refused_with_what_is_accepted(
    server: LoopbackServer, make_client: Callable[..., KanbertClient]
) -> None:
    await server.start()
    kb = make_client(server.base_url)

    with pytest.raises(
        InvalidRequestError, match="bytes, a file path, or an async iterator of bytes, not int"
    ):
        await kb.outgoing_invoices.create_external(**invoice_fields(), file=42)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequestError, match="cannot read 'file'"):
        await kb.outgoing_invoices.create_external(**invoice_fields(), file="/no/such/file.pdf")
    assert server.hits == []


async def test_a_large_streamed_upload_is_resent_whole_and_its_spool_file_is_removed(
    server: LoopbackServer,
    make_client: Callable[..., KanbertClient],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    big = bytes(range(256)) * (3 * 2**12)  # 3 MiB: spooled to disk, not memory
    forms = _upload_server(server, statuses=[429])
    await server.start()
    kb = make_client(server.base_url)

    await kb.outgoing_invoices.create_external(**invoice_fields(), file=_chunks_of(big, 64 * 1024))

    assert [form["file"][2] == big for form in forms] == [True, True]
    assert os.listdir(tmp_path) == []
