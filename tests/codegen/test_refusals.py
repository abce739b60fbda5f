"""What the generator cannot serve it refuses, naming the construct and its JSON pointer."""

from __future__ import annotations

from typing import Any

import pytest

from codegen.normalize import check_supported, pointer
from codegen.operations import read_operations
from codegen.spec import SpecError


def _spec(operation: dict[str, Any], path: str = "/things/{id}", method: str = "post") -> dict[str, Any]:
    return {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {path: {method: operation}}}


def _refused(spec: dict[str, Any]) -> str:
    with pytest.raises(SpecError) as caught:
        check_supported(spec)
        read_operations(spec, set())
    return str(caught.value)


def test_pointers_escape_slashes_and_tildes() -> None:
    assert pointer("paths", "/a/{id}", "get", "x~y") == "#/paths/~1a~1{id}/get/x~0y"


def test_an_external_ref_is_refused_where_it_is() -> None:
    message = _refused(_spec({"operationId": "t.x", "responses": {"200": {"$ref": "other.yaml#/R"}}}))
    assert "external $ref 'other.yaml#/R'" in message
    assert "#/paths/~1things~1{id}/post/responses/200" in message


def test_an_operation_without_an_operation_id_is_refused() -> None:
    message = _refused(_spec({"responses": {}}))
    assert "POST /things/{id}" in message and "no operationId" in message


@pytest.mark.parametrize("location", ["header", "cookie"])
def test_header_and_cookie_parameters_are_refused(location: str) -> None:
    param = {"name": "X-Tenant", "in": location, "schema": {"type": "string"}}
    message = _refused(_spec({"operationId": "t.x", "parameters": [param], "responses": {}}))
    assert f"{location} parameter 'X-Tenant'" in message and "/parameters/0" in message


def test_a_request_body_in_another_media_type_is_refused() -> None:
    body = {"content": {"application/xml": {"schema": {"type": "object"}}}}
    message = _refused(_spec({"operationId": "t.x", "requestBody": body, "responses": {}}))
    assert (
        "'application/xml'" in message
        and "#/paths/~1things~1{id}/post/requestBody/content/application~1xml" in message
    )


def test_a_body_that_is_not_an_object_is_refused() -> None:
    body = {"content": {"application/json": {"schema": {"type": "array", "items": {"type": "string"}}}}}
    message = _refused(_spec({"operationId": "t.x", "requestBody": body, "responses": {}}))
    assert "is not an object" in message


def test_an_array_of_files_is_refused() -> None:
    files = {"type": "array", "items": {"type": "string", "format": "binary"}}
    body = {
        "content": {"multipart/form-data": {"schema": {"type": "object", "properties": {"files": files}}}}
    }
    message = _refused(_spec({"operationId": "t.x", "requestBody": body, "responses": {}}))
    assert "'files' is an array of files" in message
