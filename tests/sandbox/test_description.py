"""The sandbox reads the API description for itself, so it cannot agree with a client codegen misread.

A client built from a misreading (a path, a parameter's values) meets a server that refuses it;
the description reader handles shapes our description does not use (``$ref`` parameters, path-level
parameters); an upload is validated by whatever body schema the description gives.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from multidict import MultiDict

from codegen.__main__ import main as codegen_main
from kanbert_async import KanbertClient, NotFoundError, UnprocessableEntityError
from kanbert_async._generated.operations import OPERATIONS
from kanbert_async.sandbox import Sandbox, SandboxConfig, Store
from kanbert_async.sandbox.auth import TokenInfo
from kanbert_async.sandbox.description import describe, load_description
from kanbert_async.sandbox.responses import ApiError
from kanbert_async.sandbox.upload import Form, ValidationFailed, build_invoice

ROOT = Path(__file__).resolve().parents[2]


async def test_a_path_codegen_misread_finds_no_route_on_the_sandbox() -> None:
    show = OPERATIONS["outgoingInvoices.show"]
    misread = dataclasses.replace(show, path="/outgoing-invoice/{id}")  # the singular, say
    async with Sandbox(invoices=3) as sb, KanbertClient(sb.token, base_url=sb.base_url) as kb:
        [invoice] = [inv async for inv in kb.outgoing_invoices.list(max_items=1)]
        assert (await kb.call(show, path={"id": invoice.id})).id == invoice.id
        with pytest.raises(NotFoundError, match="could not be found"):
            await kb.call(misread, path={"id": invoice.id})


async def test_a_parameter_value_outside_the_descriptions_enum_is_refused_as_laravel_would() -> None:
    show = OPERATIONS["outgoingInvoices.show"]
    async with Sandbox(invoices=3) as sb, KanbertClient(sb.token, base_url=sb.base_url) as kb:
        [invoice] = [inv async for inv in kb.outgoing_invoices.list(max_items=1)]
        with pytest.raises(UnprocessableEntityError) as info:
            await kb.call(show, path={"id": invoice.id}, query={"find_by": "externalId"})
        assert info.value.errors == {"find_by": ["The selected find by is invalid."]}
        # A parameter the operation does not declare is ignored, as Laravel ignores it...
        assert (await kb.call(show, path={"id": invoice.id}, query={"page[size]": "x"})).id == invoice.id
        # ... and one it declares is held to its schema.
        with pytest.raises(UnprocessableEntityError, match=r"The page\.size field must be an integer"):
            await kb.call(OPERATIONS["outgoingInvoices.index"], query={"page[size]": "x"})


def test_the_sandbox_serves_the_routes_and_scopes_the_description_states() -> None:
    spec = json.loads((ROOT / "openapi" / "openapi.json").read_text(encoding="utf-8"))
    described = load_description()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            found = described[operation["operationId"]]
            assert (found.method, found.path) == (method.upper(), path)
            assert found.scopes == tuple(operation["security"][1]["oauth2"])


def test_the_reader_follows_refs_and_path_level_parameters_it_was_not_written_for() -> None:
    # Shaped like other generators' output: shared parameters by $ref, parameters on the path
    # item, a required query parameter with bounds, and a request body by $ref.
    spec: dict[str, Any] = {
        "openapi": "3.1.0",
        "paths": {
            "/projects/{id}/tasks": {
                "parameters": [{"$ref": "#/components/parameters/Id"}],
                "post": {
                    "operationId": "tasks.store",
                    "security": [{"oauth2": ["task:write", "task:read"]}, {"http": []}],
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 50},
                        },
                    ],
                    "requestBody": {"$ref": "#/components/requestBodies/Task"},
                },
            }
        },
        "components": {
            "parameters": {
                "Id": {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
            },
            "requestBodies": {
                "Task": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Task"}}}}
            },
            "schemas": {"Task": {"type": "object", "required": ["title"], "properties": {"title": {}}}},
        },
    }
    [(op_id, op)] = describe(spec).items()
    assert (op_id, op.method, op.path) == ("tasks.store", "POST", "/projects/{id}/tasks")
    assert op.scopes == ("task:write", "task:read")
    assert [(p.name, p.location, p.required) for p in op.parameters] == [
        ("id", "path", True),
        ("limit", "query", True),
    ]
    assert op.body == spec["components"]["schemas"]["Task"]

    for query, message in [
        ({}, "The limit field is required."),
        ({"limit": "0"}, "The limit field must be at least 1."),
        ({"limit": "51"}, "The limit field must not be greater than 50."),
        ({"limit": "ten"}, "The limit field must be an integer."),
    ]:
        with pytest.raises(ApiError) as info:
            op.check_query(MultiDict(query))
        assert info.value.errors == {"limit": [message]}
    op.check_query(MultiDict({"limit": "10"}))


def test_an_upload_is_validated_by_the_body_schema_the_description_gives() -> None:
    store = Store(SandboxConfig(invoices=2))
    token = TokenInfo("t", frozenset(), store.me.id, "sandbox")
    schema = dict(load_description()["outgoingInvoices.createExternal"].body or {})
    form = Form()
    for name, value in {
        "client_id": store.clients[0].id, "title": "x", "status": "booked", "invoice_number": "N-1",
        "date_of_invoice": "2024-05-02T00:00:00Z", "performance_range_start": "2024-04-01T00:00:00Z",
        "performance_range_end": "2024-04-30T00:00:00Z", "payment_due_date": "2024-05-16T00:00:00Z",
        "currency": "EUR", "sum_net": "10", "file_url": "https://example.com/x.pdf",
    }.items():  # fmt: skip
        form.add(name, value)
    build_invoice(form, store, token, schema)  # valid as described

    # The same form against a description that requires a reference and allows only CHF.
    properties = {**schema["properties"], "currency": {"type": "string", "const": "CHF"}}
    stricter = {**schema, "required": [*schema["required"], "reference"], "properties": properties}
    with pytest.raises(ValidationFailed) as info:
        build_invoice(form, store, token, stricter)
    assert info.value.errors == {
        "currency": ["The selected currency is invalid."],
        "reference": ["The reference field is required."],
    }


def test_codegen_check_fails_when_the_shipped_description_is_stale(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "_generated"
    shutil.copytree(
        ROOT / "kanbert_async" / "_generated", output, ignore=shutil.ignore_patterns("__pycache__")
    )
    assert codegen_main(["--check", "--output", str(output)]) == 0
    description = output / "description.json"
    description.write_text(description.read_text(encoding="utf-8").replace("booked", "draft"), "utf-8")
    assert codegen_main(["--check", "--output", str(output)]) == 1
    assert "description.json" in capsys.readouterr().err


def test_a_single_record_carries_the_relations_its_described_answer_requires() -> None:
    record = {"type": "object", "properties": {}, "required": ["id", "line_items"]}
    spec = {
        "components": {"responses": {"Record": {"content": {"application/json": {"schema": record}}}}},
        "paths": {
            "/things/{id}": {
                "get": {
                    "operationId": "things.show",
                    "responses": {"200": {"$ref": "#/components/responses/Record"}},
                },
                "delete": {"operationId": "things.destroy", "responses": {"204": {"description": "gone"}}},
            }
        },
    }
    described = describe(spec)
    relations = ("discounts", "external_costs", "line_items")
    assert described["things.show"].required_in_response(relations) == ("line_items",)
    assert described["things.destroy"].required_in_response(relations) == ()
