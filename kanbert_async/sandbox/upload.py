"""``POST /outgoing-invoices/external``: read the form, validate it like Laravel, build the invoice.

What the description's body schema states is read from it: which fields are required, their
types, lengths, allowed values and defaults (``status`` must be ``booked``, ``currency`` ``EUR``).
What it states only in prose is written here: ``invoice_number`` required when booked and unique,
either ``file`` (a PDF of at most 15 MB) or ``file_url``, ``external_id`` unique within its
origin (default: the token's integration slug), ``vats[n][vat]``/``vats[n][value]`` numbers.
Booleans read as ``1/0/true/false``. Failures are collected per field with Laravel's messages
and answered as 422.

Bodies may be multipart (as documented), url-encoded or JSON; multipart is streamed so a large
file is measured without being held twice.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import msgspec
from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from kanbert_async._generated.models import (
    OutgoingInvoiceData,
    OutgoingInvoicePaymentStatus,
    OutgoingInvoiceStatus,
)

from .auth import TokenInfo
from .pdf import render_pdf
from .store import Store

__all__ = ["FILE_LIMIT", "Form", "UploadTooLarge", "ValidationFailed", "build_invoice", "read_form"]

#: The documented maximum for ``file``: 15 MB (Laravel's ``max:15360`` kilobytes).
FILE_LIMIT = 15 * 1024 * 1024
# Bodies beyond this are not read to the end: the connection is closed after a 413.
_BODY_CAP = 64 * 1024 * 1024
_TEXT_CAP = 1024 * 1024
_NAME_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
#: Rules the reference page gives that the description's schema leaves out.
_UNSTATED: Mapping[str, Mapping[str, Any]] = {
    "title": {"maxLength": 255},
    "invoice_number": {"maxLength": 255},
}


class ValidationFailed(Exception):
    """Validation errors per field (Laravel's ``errors``); answered as 422."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(next(iter(errors.values()))[0] if errors else "The given data was invalid.")
        self.errors = errors

    @property
    def message(self) -> str:
        """Laravel's summary: the first message, and how many more there are."""
        first = next(iter(self.errors.values()))[0]
        more = sum(len(v) for v in self.errors.values()) - 1
        if more:
            return f"{first} (and {more} more error{'s' if more > 1 else ''})"
        return first


class UploadTooLarge(Exception):
    """The body exceeds what the sandbox reads at all (HTTP 413)."""


@dataclasses.dataclass(slots=True)
class UploadedFile:
    """A file part: its name, declared type, size and (when within the limit) its bytes."""

    filename: str
    content_type: str
    size: int
    data: bytes | None


@dataclasses.dataclass(slots=True)
class Form:
    """The request's fields and files; PHP-style names nest: ``vats[0][vat]`` → ``{"vats": {"0": …}}``."""

    fields: dict[str, Any] = dataclasses.field(default_factory=dict)
    files: dict[str, UploadedFile] = dataclasses.field(default_factory=dict)

    def add(self, name: str, value: Any) -> None:
        """Set a field by its PHP-style name."""
        match = _NAME_RE.match(name)
        if match is None:
            self.fields[name] = value
            return
        keys = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        target: dict[str, Any] = self.fields
        for key in keys[:-1]:
            child = target.get(key)
            if not isinstance(child, dict):
                child = {}
                target[key] = child
            target = child
        target[keys[-1]] = value


async def read_form(request: web.Request) -> Form:
    """The request body as a :class:`Form`, whatever its content type."""
    form = Form()
    content_type = request.content_type
    if content_type == "multipart/form-data":
        try:
            await _read_multipart(request, form)
        except (ValueError, HttpProcessingError):
            raise ValidationFailed({"body": ["The request body is not valid multipart/form-data."]}) from None
    elif content_type == "application/json":
        try:
            data = msgspec.json.decode(await request.read())
        except msgspec.DecodeError:
            raise ValidationFailed({"body": ["The request body must be valid JSON."]}) from None
        if isinstance(data, dict):
            form.fields.update({str(k): v for k, v in data.items()})
    else:
        for name, value in (await request.post()).items():
            if isinstance(value, str):
                form.add(name, value)
    return form


def _is_json(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def _json_part(text: str) -> Any:
    """A part sent as JSON: OpenAPI's default encoding for an object or array property of a
    multipart body (``vats`` as ``[{"vat": 19}]``), read as the same value as PHP-style fields."""
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return text


async def _read_multipart(request: web.Request, form: Form) -> None:
    try:
        reader = await request.multipart()
    except ValueError:
        # No boundary: like PHP, read no fields at all, so validation reports what is missing.
        return
    total = 0
    while True:
        part = await reader.next()
        if part is None:
            return
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        if part.filename is None:
            data = await part.read(decode=True)
            total += len(data)
            if len(data) > _TEXT_CAP or total > _BODY_CAP:
                raise UploadTooLarge()
            text = data.decode("utf-8", "replace")
            form.add(part.name, _json_part(text) if _is_json(part.headers.get("Content-Type", "")) else text)
            continue
        size = 0
        chunks: list[bytes] = []
        while chunk := await part.read_chunk(256 * 1024):
            size += len(chunk)
            total += len(chunk)
            if total > _BODY_CAP:
                raise UploadTooLarge()
            if size <= FILE_LIMIT:
                chunks.append(chunk)
        data_or_none = b"".join(chunks) if size <= FILE_LIMIT else None
        content_type = part.headers.get("Content-Type", "application/octet-stream")
        form.files[part.name] = UploadedFile(part.filename, content_type, size, data_or_none)


# -- validation ---------------------------------------------------------------------------------


def _label(name: str) -> str:
    return name.replace("_", " ")


class _Checker:
    """Collects Laravel-style messages per field while reading typed values out of the form, by the
    rules of the body's schema (required, ``maxLength``, ``const``/``enum``, ``default``)."""

    def __init__(self, form: Form, schema: Mapping[str, Any]) -> None:
        # Laravel's ConvertEmptyStringsToNull: an empty field is a missing one.
        self.values = {k: (None if v == "" else v) for k, v in form.fields.items()}
        self.files = form.files
        self.errors: dict[str, list[str]] = {}
        self._required = frozenset(schema.get("required", ()))
        properties: Mapping[str, Any] = schema.get("properties", {})
        self._rules = {name: {**rules, **_UNSTATED.get(name, {})} for name, rules in properties.items()}

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def _is_required(self, name: str, required: bool | None) -> bool:
        return name in self._required if required is None else required

    def string(self, name: str, *, required: bool | None = None) -> str | None:
        value = self.values.get(name)
        if value is None:
            if self._is_required(name, required):
                self.fail(name, f"The {_label(name)} field is required.")
            return None
        if isinstance(value, bool | int | float):
            value = str(value).lower() if isinstance(value, bool) else str(value)
        if not isinstance(value, str):
            self.fail(name, f"The {_label(name)} field must be a string.")
            return None
        rules = self._rules.get(name, {})
        max_length = rules.get("maxLength")
        if max_length is not None and len(value) > max_length:
            self.fail(name, f"The {_label(name)} field must not be greater than {max_length} characters.")
            return None
        allowed = rules.get("enum") or ([rules["const"]] if "const" in rules else None)
        if allowed is not None and value not in allowed:
            self.fail(name, f"The selected {_label(name)} is invalid.")
            return None
        return value

    def date(self, name: str) -> datetime | None:
        text = self.string(name)
        if text is None:
            return None
        try:
            parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
            return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except (ValueError, OverflowError):  # OverflowError: year 1 shifted into year 0 by its offset
            self.fail(name, f"The {_label(name)} field must be a valid date.")
            return None

    def number(self, name: str, *, required: bool | None = None, label: str | None = None) -> float | None:
        value = self.values.get(name)
        shown = label or _label(name)
        if value is None:
            if self._is_required(name, required):
                self.fail(name, f"The {shown} field is required.")
            return None
        try:
            if isinstance(value, bool | dict | list):
                raise InvalidOperation
            number = Decimal(str(value).strip())
            if not number.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            self.fail(name, f"The {shown} field must be a number.")
            return None
        result = float(number)
        if not math.isfinite(result):  # "1e400" is a finite Decimal but no float (nor a PHP number)
            self.fail(name, f"The {shown} field must be a number.")
            return None
        return result

    def boolean(self, name: str) -> bool:
        default = bool(self._rules.get(name, {}).get("default", False))
        value = self.values.get(name)
        if value is None:
            return default
        text = str(value).strip().lower()
        if text in ("1", "true"):
            return True
        if text in ("0", "false"):
            return False
        self.fail(name, f"The {_label(name)} field must be true or false.")
        return default


def _check_file(check: _Checker, file_url: str | None) -> bytes | None:
    upload = check.files.get("file")
    if upload is None:
        if "file" in check.values and check.values["file"] is not None:
            check.fail("file", "The file field must be a file.")
        elif file_url is None:
            check.fail("file", "The file field is required when file url is not present.")
            check.fail("file_url", "The file url field is required when file is not present.")
        return None
    if upload.size > FILE_LIMIT or upload.data is None:
        check.fail("file", f"The file field must not be greater than {FILE_LIMIT // 1024} kilobytes.")
        return None
    if not upload.data.startswith(b"%PDF-"):
        check.fail("file", "The file field must be a file of type: pdf.")
        return None
    return upload.data


def _check_vats(check: _Checker) -> None:
    vats = check.values.get("vats")
    if vats is None:
        return
    items = (
        list(vats.items())
        if isinstance(vats, dict)
        else list(enumerate(vats))
        if isinstance(vats, list)
        else None
    )
    if items is None:
        check.fail("vats", "The vats field must be an array.")
        return
    for index, item in items:
        for key in ("vat", "value"):
            name = f"vats.{index}.{key}"
            value = item.get(key) if isinstance(item, dict) else None
            check.values[name] = None if value == "" else value
            check.number(name, required=False, label=name)


def build_invoice(
    form: Form, store: Store, token: TokenInfo, schema: Mapping[str, Any]
) -> tuple[OutgoingInvoiceData, bytes]:
    """Validate ``form`` by the body ``schema`` and the rules above; the new invoice and its PDF.

    Raises :class:`ValidationFailed` with every problem found.
    """
    check = _Checker(form, schema)
    external_id = check.string("external_id")
    origin = check.string("external_origin") or token.origin
    client_id = check.string("client_id")
    client = store.client(client_id) if client_id else None
    if client_id is not None and client is None:
        check.fail("client_id", "The selected client id is invalid.")
    title = check.string("title")
    status = check.string("status")
    invoice_number = check.string("invoice_number")
    if invoice_number is None and status == "booked":
        check.fail("invoice_number", "The invoice number field is required when status is booked.")
    elif invoice_number is not None and store.invoice_number_taken(invoice_number):
        check.fail("invoice_number", "The invoice number has already been taken.")
    dates = {
        name: check.date(name)
        for name in (
            "date_of_invoice",
            "performance_range_start",
            "performance_range_end",
            "payment_due_date",
        )
    }
    check.date("booked_at")
    check.string("currency")
    sum_net = check.number("sum_net")
    sum_tax = check.number("sum_tax")
    if sum_net is not None and not math.isfinite(sum_net + (sum_tax or 0.0)):
        check.fail("sum_tax", "The sum net and sum tax fields together must be a number.")
    taxation_enabled = check.boolean("taxation_enabled")
    is_credit = check.boolean("is_credit")
    address = check.string("address")
    reference = check.string("reference")
    po_number = check.string("po_number")
    project = _lookup(check, "project_id", store.project)
    company = _lookup(check, "company_id", store.company)
    editor = _lookup(check, "editor_id", store.user)
    file_url = check.string("file_url")
    if file_url is not None and not _is_url(file_url):
        check.fail("file_url", "The file url field must be a valid URL.")
    pdf = _check_file(check, file_url)
    _check_vats(check)
    if external_id is not None and store.external_id_taken(external_id, origin):
        check.fail("external_id", "The external id has already been taken.")
    if check.errors:
        raise ValidationFailed(check.errors)
    assert client is not None and title is not None and sum_net is not None
    now = store.now()
    tax = sum_tax or 0.0
    model = OutgoingInvoiceData(
        id=store.new_id(),
        external_id=external_id,
        external_origin=origin if external_id is not None else None,
        master_invoice_id=None,
        invoice_number=invoice_number,
        title=title,
        status=OutgoingInvoiceStatus.booked,
        payment_status=OutgoingInvoicePaymentStatus.open,
        is_credit=is_credit,
        date_of_invoice=_required(dates["date_of_invoice"]),
        payment_due_date=_required(dates["payment_due_date"]),
        payment_due_date_org=_required(dates["payment_due_date"]),
        performance_range_start=dates["performance_range_start"],
        performance_range_end=dates["performance_range_end"],
        po_number=po_number,
        reference=reference,
        locale=(company.locale if company and company.locale else "de"),
        currency="EUR",
        address=address if address is not None else client.name,
        address_changed=address is not None,
        company=company,
        editor=editor,
        client=client,
        project=project,
        taxation_enabled=taxation_enabled,
        sum_net=round(sum_net, 2),
        sum_tax=round(tax, 2),
        sum_gross=round(sum_net + tax, 2),
        sum_external_costs=0.0,
        partial_indent=None,
        partial_factor=None,
        payment_discount_due_date=None,
        payment_discount=None,
        created_at=now,
        updated_at=now,
        deleted_at=None,
    )
    if pdf is None:
        # A file_url is not fetched (the sandbox stays offline); a stand-in PDF is served instead.
        pdf = render_pdf(
            [f"Invoice {invoice_number or model.id}", title, client.name], store.config.pdf_min_bytes
        )
    return model, pdf


def _required(value: datetime | None) -> datetime:
    assert value is not None  # validation guaranteed it
    return value


def _lookup(check: _Checker, name: str, find: Any) -> Any:
    key = check.string(name)
    if key is None:
        return None
    found = find(key)
    if found is None:
        check.fail(name, f"The selected {_label(name)} is invalid.")
    return found


def _is_url(text: str) -> bool:
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc) and " " not in text
