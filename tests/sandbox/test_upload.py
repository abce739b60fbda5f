"""``POST /outgoing-invoices/external``: Laravel's validation, then the invoice is listed and fetchable."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from kanbert_async import KanbertClient
from kanbert_async.sandbox.pdf import render_pdf

from .conftest import Api

PDF = render_pdf(["Invoice EXT-1", "uploaded"])
LIMIT = 15 * 1024 * 1024


def fields(api: Api, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "client_id": api.sandbox.store.clients[0].id,
        "title": "Imported from the old system",
        "status": "booked",
        "invoice_number": "IMP-0001",
        "date_of_invoice": "2024-05-02T00:00:00Z",
        "performance_range_start": "2024-04-01T00:00:00Z",
        "performance_range_end": "2024-04-30T23:59:59Z",
        "payment_due_date": "2024-05-16T00:00:00Z",
        "currency": "EUR",
        "sum_net": "1000.50",
        "sum_tax": "190.10",
        "taxation_enabled": "1",
        "is_credit": "0",
        "external_id": "legacy-42",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def multipart(
    values: dict[str, Any], file: bytes | None = PDF, filename: str = "invoice.pdf"
) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for key, value in values.items():
        form.add_field(key, str(value))
    if file is not None:
        # A stream, not raw bytes: aiohttp warns about sending a large bytes body in one piece.
        form.add_field("file", io.BytesIO(file), filename=filename, content_type="application/pdf")
    return form


async def upload(api: Api, values: dict[str, Any], file: bytes | None = PDF) -> tuple[int, Any]:
    response = await api.post("/outgoing-invoices/external", multipart(values, file))
    assert response.content_type == "application/json"
    return response.status, await response.json()


async def test_upload_then_list_fetch_and_download(api: Api) -> None:
    status, body = await upload(api, fields(api))
    assert status == 200, body
    assert body["status"] == "booked" and body["payment_status"] == "open"
    assert body["external_id"] == "legacy-42" and body["external_origin"] == "sandbox"
    assert body["sum_net"] == 1000.5 and body["sum_gross"] == 1190.6
    assert body["taxation_enabled"] is True and body["is_credit"] is False
    assert body["date_of_invoice"] == "2024-05-02T00:00:00Z"
    assert (await api.json(f"/outgoing-invoices/{body['id']}"))["id"] == body["id"]
    found = await api.json("/outgoing-invoices/legacy-42", {"find_by": "external_id"})
    assert found["id"] == body["id"]
    listed = await api.json("/outgoing-invoices", {"filter": 'invoice_number eq "IMP-0001"'})
    assert [i["id"] for i in listed["data"]] == [body["id"]]
    pdf = await api.get(f"/outgoing-invoices/{body['id']}/pdf")
    assert await pdf.read() == PDF
    assert pdf.headers["Content-Disposition"] == 'attachment; filename="IMP-0001.pdf"'
    assert api.sandbox.store.invoice(body["id"]) is not None


async def test_everything_missing(api: Api) -> None:
    status, body = await upload(api, {}, file=None)
    assert status == 422
    errors = body["errors"]
    for name in ("client_id", "title", "status", "date_of_invoice", "performance_range_start",
                 "performance_range_end", "payment_due_date", "currency", "sum_net"):  # fmt: skip
        assert errors[name] == [f"The {name.replace('_', ' ')} field is required."]
    assert errors["file"] == ["The file field is required when file url is not present."]
    assert errors["file_url"] == ["The file url field is required when file is not present."]
    assert body["message"].startswith("The client id field is required. (and ")


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"status": "open"}, "status", "The selected status is invalid."),
        ({"currency": "USD"}, "currency", "The selected currency is invalid."),
        (
            {"invoice_number": None},
            "invoice_number",
            "The invoice number field is required when status is booked.",
        ),
        ({"client_id": "nope"}, "client_id", "The selected client id is invalid."),
        ({"project_id": "nope"}, "project_id", "The selected project id is invalid."),
        (
            {"date_of_invoice": "yesterday"},
            "date_of_invoice",
            "The date of invoice field must be a valid date.",
        ),
        ({"sum_net": "a lot"}, "sum_net", "The sum net field must be a number."),
        (
            {"taxation_enabled": "yes"},
            "taxation_enabled",
            "The taxation enabled field must be true or false.",
        ),
        (
            {"external_id": "x" * 256},
            "external_id",
            "The external id field must not be greater than 255 characters.",
        ),
        ({"file_url": "not a url"}, "file_url", "The file url field must be a valid URL."),
        (
            {"vats[0][vat]": "19", "vats[0][value]": "abc"},
            "vats.0.value",
            "The vats.0.value field must be a number.",
        ),
    ],
)
async def test_validation_messages(api: Api, overrides: dict[str, Any], field: str, message: str) -> None:
    status, body = await upload(api, fields(api, **overrides))
    assert status == 422
    assert body["errors"] == {field: [message]}
    assert body["message"] == message
    assert api.sandbox.store.invoice_number_taken("IMP-0001") is False, "a refused upload stores nothing"


async def test_uniqueness_rules(api: Api) -> None:
    assert (await upload(api, fields(api)))[0] == 200
    status, body = await upload(api, fields(api, external_id="other"))
    assert (status, body["errors"]) == (
        422,
        {"invoice_number": ["The invoice number has already been taken."]},
    )
    status, body = await upload(api, fields(api, invoice_number="IMP-0002"))
    assert (status, body["errors"]) == (422, {"external_id": ["The external id has already been taken."]})
    # The same external id in another integration's namespace is fine.
    status, body = await upload(
        api, fields(api, invoice_number="IMP-0003", external_origin="billomat-import")
    )
    assert status == 200 and body["external_origin"] == "billomat-import"
    found = await api.json(
        "/outgoing-invoices/legacy-42", {"find_by": "external_id", "origin": "billomat-import"}
    )
    assert found["id"] == body["id"]


async def test_file_rules(api: Api) -> None:
    status, body = await upload(api, fields(api), file=b"PK\x03\x04 not a pdf")
    assert (status, body["errors"]) == (422, {"file": ["The file field must be a file of type: pdf."]})
    exactly = PDF + b"\n" + b"0" * (LIMIT - len(PDF) - 1)
    assert len(exactly) == LIMIT
    assert (await upload(api, fields(api), file=exactly))[0] == 200
    status, body = await upload(
        api, fields(api, invoice_number="IMP-9", external_id=None), file=exactly + b"0"
    )
    assert (status, body["errors"]) == (
        422,
        {"file": ["The file field must not be greater than 15360 kilobytes."]},
    )


async def test_file_url_and_other_encodings(api: Api) -> None:
    values = fields(
        api, file_url="https://files.example.com/i.pdf", is_credit="true", taxation_enabled="false"
    )
    status, body = await upload(api, values, file=None)
    assert status == 200 and body["is_credit"] is True and body["taxation_enabled"] is False
    pdf = await api.get(f"/outgoing-invoices/{body['id']}/pdf")
    assert (await pdf.read()).startswith(b"%PDF-")
    urlencoded = fields(api, invoice_number="IMP-url", external_id="u-1", file_url="https://x.example/a.pdf")
    response = await api.post("/outgoing-invoices/external", urlencoded)
    assert response.status == 200, await response.text()
    as_json = {**fields(api, invoice_number="IMP-json", external_id="j-1", file_url="https://x.example/b.pdf"),
               "vats": [{"vat": 19, "value": 190.1}], "sum_net": 1000.5}  # fmt: skip
    response = await api.post(
        "/outgoing-invoices/external", json.dumps(as_json), headers={"Content-Type": "application/json"}
    )
    assert response.status == 200, await response.text()


async def test_the_sdk_uploads_and_finds_it(api: Api) -> None:
    async with KanbertClient(api.token, base_url=api.sandbox.base_url) as kb:
        created = await kb.outgoing_invoices.create_external(
            client_id=api.sandbox.store.clients[1].id,
            title="From the SDK",
            status="booked",
            invoice_number="SDK-1",
            date_of_invoice=datetime(2024, 5, 2, tzinfo=UTC),
            performance_range_start=datetime(2024, 4, 1, tzinfo=UTC),
            performance_range_end=datetime(2024, 4, 30, tzinfo=UTC),
            payment_due_date=datetime(2024, 5, 16, tzinfo=UTC),
            currency="EUR",
            sum_net=250.0,
            is_credit=False,
            external_id="sdk-1",
            file=PDF,
            vats=[{"vat": 19, "value": 47.5}],
        )
        again = await kb.outgoing_invoices.get("sdk-1", find_by="external_id")
    assert again == created
    assert created.invoice_number == "SDK-1" and created.client.id == api.sandbox.store.clients[1].id
