"""`python -m codegen`: deterministic, guarded by --check, and generic enough for the whole bundle."""

from __future__ import annotations

import copy
import importlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from codegen.__main__ import main
from codegen.spec import SPEC_PATH, apply_overlay, parse_target

ROOT = Path(__file__).resolve().parents[2]


def test_check_passes_on_a_clean_tree() -> None:
    assert main(["--check"]) == 0


def test_check_fails_after_a_change_to_the_spec_and_names_the_stale_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = json.loads(SPEC_PATH.read_text())
    spec["components"]["schemas"]["SpaceData"]["properties"]["motto"] = {"type": "string"}
    changed = tmp_path / "openapi.json"
    changed.write_text(json.dumps(spec))
    assert main(["--check", "--spec", str(changed)]) == 1
    assert "models.py" in capsys.readouterr().err


def test_generation_is_deterministic(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    assert main(["--output", str(first)]) == 0
    assert main(["--output", str(second)]) == 0
    for path in first.rglob("*.py"):
        assert path.read_text() == (second / path.relative_to(first)).read_text(), path


def test_a_tree_without_generated_code_regenerates_and_importing_codegen_writes_nothing(
    tmp_path: Path,
) -> None:
    for name in ("codegen", "kanbert_async", "openapi"):
        ignore = shutil.ignore_patterns("__pycache__", "_generated")
        shutil.copytree(ROOT / name, tmp_path / name, ignore=ignore)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    generated = tmp_path / "kanbert_async" / "_generated"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
        )

    imported = run("-c", "import codegen, codegen.__main__, codegen.spec, codegen.skeleton")
    assert imported.returncode == 0, imported.stderr
    assert not generated.exists()
    assert run("-m", "codegen").returncode == 0
    assert (generated / "operations.py").is_file()
    check = run("-m", "codegen", "--check")
    assert check.returncode == 0, check.stderr


def test_overlay_targets_read_names_quoted_keys_and_indexes() -> None:
    assert parse_target("$.paths['/a/{id}'].get.parameters[2]") == [
        "paths",
        "/a/{id}",
        "get",
        "parameters",
        2,
    ]


def test_overlay_updates_merge_and_removals_delete() -> None:
    spec = {"info": {"title": "t", "version": "1"}, "x": [{"a": 1}]}
    result = apply_overlay(
        spec,
        {"actions": [{"target": "$.x[0]", "update": {"b": 2}}, {"target": "$.info.version", "remove": True}]},
    )
    assert result == {"info": {"title": "t"}, "x": [{"a": 1, "b": 2}]}
    assert spec["x"] == [{"a": 1}]


# -- the whole published bundle: shapes beyond our seven operations -------------------------------
def _list_op(operation_id: str, item: str, filter_description: str) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "tags": [operation_id.split(".")[0]],
        "summary": f"{operation_id}",
        "security": [{"http": []}, {"oauth2": ["client:write"]}],
        "parameters": [
            {
                "name": "sort",
                "in": "query",
                "schema": {"type": "string"},
                "description": "Available sorts are name, created_at.\nYou can sort by multiple options.",
            },
            {
                "name": "include",
                "in": "query",
                "schema": {"type": "string"},
                "description": "Available includes are projects. You can include multiple options.",
            },
            {"name": "page[size]", "in": "query", "schema": {"type": "integer", "default": 30}},
            {"name": "page[cursor]", "in": "query", "schema": {"type": "string"}},
            {
                "name": "filter",
                "in": "query",
                "schema": {"type": "string"},
                "description": filter_description,
            },
        ],
        "responses": {
            "200": {
                "description": "ok",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["data", "links", "meta"],
                            "properties": {
                                "data": {"type": "array", "items": {"$ref": f"#/components/schemas/{item}"}},
                                "links": {"type": "array", "items": {"type": "string"}},
                                "meta": {"$ref": "#/components/schemas/CursorPaginationMeta"},
                            },
                        }
                    }
                },
            }
        },
    }


def _json_op(operation_id: str, body: str | None, response: str | None) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": operation_id, "tags": [operation_id.split(".")[0]], "responses": {}}
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": {"$ref": body}}}}
    if response:
        op["responses"]["200"] = {
            "description": "ok",
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{response}"}}},
        }
    else:
        op["responses"]["204"] = {"description": "no content"}
    return op


def _bundle() -> dict[str, Any]:
    spec = json.loads(SPEC_PATH.read_text())
    spec = copy.deepcopy(spec)
    schemas = spec["components"]["schemas"]
    schemas["ClientWriteData"] = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string"},
            "external_id": {"type": ["string", "null"]},
            "segment": {"$ref": "#/components/schemas/ClientSegment"},
            "class": {"type": "string"},
        },
    }
    schemas["BookingUpdate"] = {"type": "object", "properties": {"amount": {"type": "number"}}}
    good_filter = (
        "Allowed filter fields (with allowed operators):\n\n| Field | Type | Operators |\n|---|---|---|\n"
        "| name | string | eq, contains |\n| created_at | datetime | lt, gte, isnull |\n"
    )
    spec["paths"].update(
        {
            "/clients": {
                "get": _list_op("clients.index", "ClientFullData", good_filter),
                "post": _json_op("clients.store", "#/components/schemas/ClientWriteData", "ClientFullData"),
            },
            "/clients/{clientId}": {
                "parameters": [
                    {"name": "clientId", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "patch": _json_op("clients.update", "#/components/schemas/ClientWriteData", "ClientFullData"),
                "delete": _json_op("clients.destroy", None, None),
            },
            "/clients/{clientId}/restore": {
                "parameters": [
                    {"name": "clientId", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "post": _json_op("clients.restore", None, "ClientFullData"),
            },
            "/incoming-invoices/{invoiceId}/bookings/{bookingId}": {
                "patch": {
                    **_json_op(
                        "incomingInvoices.updateBooking",
                        "#/components/schemas/BookingUpdate",
                        "ChartOfAccountsBookingDocumentData",
                    ),
                    "parameters": [
                        {"name": "invoiceId", "in": "path", "required": True, "schema": {"type": "string"}},
                        {"name": "bookingId", "in": "path", "required": True, "schema": {"type": "string"}},
                    ],
                }
            },
            "/comments": {"get": _list_op("comments.index", "CommentData", "Filtering: see the docs.")},
            "/offers/{id}/pdf": {
                "get": {
                    "operationId": "offers.pdf",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": {
                            "description": "pdf",
                            "content": {
                                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                            },
                        }
                    },
                }
            },
            "/tasks/{id}": {
                "delete": {
                    **_json_op("tasks.delete", None, None),
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                }
            },
        }
    )
    return spec


@pytest.fixture(scope="module")
def bundle_package(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("bundle")
    spec_path = root / "bundle.json"
    spec_path.write_text(json.dumps(_bundle()))
    package = root / "bundlepkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    proc = subprocess.run(
        [sys.executable, "-m", "codegen", "--spec", str(spec_path), "--output", str(package / "_generated")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    sys.path.insert(0, str(root))
    return root, proc.stderr


def test_the_bundle_generates_every_resource_with_laravel_verbs_as_python_verbs(
    bundle_package: tuple[Path, str],
) -> None:
    resources = importlib.import_module("bundlepkg._generated.resources")
    clients = resources.Clients
    assert {"list", "create", "update", "delete", "restore"} <= set(vars(clients))
    assert "update_booking" in vars(resources.IncomingInvoices)
    assert "download_pdf" in vars(resources.Offers)
    assert "delete" in vars(resources.Tasks)
    assert "list" in vars(resources.Comments)


def test_path_parameters_not_named_id_become_positional_snake_case_arguments(
    bundle_package: tuple[Path, str],
) -> None:
    import inspect

    resources = importlib.import_module("bundlepkg._generated.resources")
    params = list(inspect.signature(resources.IncomingInvoices.update_booking).parameters)
    assert params[:3] == ["self", "invoice_id", "booking_id"]
    assert "amount" in params


def test_json_bodies_distinguish_unset_from_null(bundle_package: tuple[Path, str]) -> None:
    import inspect

    resources = importlib.import_module("bundlepkg._generated.resources")
    external_id = inspect.signature(resources.Clients.update).parameters["external_id"]
    assert "UnsetType" in str(external_id.annotation)
    assert "class_" in inspect.signature(resources.Clients.update).parameters


def test_an_unparseable_filter_table_warns_naming_the_operation_and_still_generates(
    bundle_package: tuple[Path, str],
) -> None:
    _, stderr = bundle_package
    assert "comments.index" in stderr
    resources = importlib.import_module("bundlepkg._generated.resources")
    assert "list" in vars(resources.Comments)


def test_the_generated_bundle_passes_mypy_strict(bundle_package: tuple[Path, str]) -> None:
    root, _ = bundle_package
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "-p", "bundlepkg._generated"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "MYPYPATH": f"{root}{os.pathsep}{ROOT}"},
    )
    assert proc.returncode == 0, proc.stdout[-3000:]


# -- make spec-download ---------------------------------------------------------------------------
def _serve(body: bytes) -> tuple[str, Any]:
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/_bundle/openapi.json", server


def test_spec_download_replaces_the_description_with_the_bundle(tmp_path: Path) -> None:
    from codegen.download import main as download_main

    url, server = _serve(SPEC_PATH.read_bytes())
    target = tmp_path / "openapi.json"
    try:
        assert download_main(["--url", url, "--to", str(target)]) == 0
    finally:
        server.shutdown()
    assert json.loads(target.read_text()) == json.loads(SPEC_PATH.read_text())


def test_spec_download_keeps_the_old_file_when_the_answer_is_not_a_description(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from codegen.download import main as download_main

    url, server = _serve(b"<html>maintenance</html>")
    target = tmp_path / "openapi.json"
    target.write_text("old")
    try:
        assert download_main(["--url", url, "--to", str(target)]) == 1
    finally:
        server.shutdown()
    assert target.read_text() == "old"
    assert "unchanged" in capsys.readouterr().err
