"""Every corpus description generates a typed SDK: mypy --strict passes, every type decodes, and
every example the description documents decodes into the type its operation returns."""

from __future__ import annotations

import importlib
import inspect
import os
import subprocess
import sys
from typing import Any

import msgspec
import pytest

from codegen.normalize import is_json, normalize
from codegen.rules import apply_rules
from codegen.spec import iter_operations, load_spec
from kanbert_async._core.operation import Operation

from .scratch import DOCUMENTS, ROOT, Scratch, overlay_for

NAMES = list(DOCUMENTS)


def operations(sdk: Scratch) -> dict[str, Operation[Any]]:
    """Every generated ``Operation`` constant of a scratch SDK, by operation id."""
    module = importlib.import_module(f"{sdk.alias}._generated.operations")
    return dict(module.OPERATIONS)


def model_types(sdk: Scratch) -> list[Any]:
    models = importlib.import_module(f"{sdk.alias}._generated.models")
    return [
        obj
        for _, obj in inspect.getmembers(models, inspect.isclass)
        if obj.__module__ == models.__name__ and issubclass(obj, msgspec.Struct)
    ]


def normalized(name: str) -> dict[str, Any]:
    return apply_rules(normalize(load_spec(DOCUMENTS[name], overlay_for(name))))


def test_the_corpus_holds_every_description(sdks: dict[str, Scratch]) -> None:
    assert {
        "openapi",
        "kanbert_whole_api",
        "scramble_responses",
        "scramble_paginators",
        "scramble_bodies",
    } <= set(sdks)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "openapi"])
def test_a_corpus_description_generates_without_warnings(sdks: dict[str, Scratch], name: str) -> None:
    assert "warning" not in sdks[name].stderr, sdks[name].stderr


def test_every_generated_sdk_passes_mypy_strict(sdks: dict[str, Scratch]) -> None:
    aliases = {str(next(iter(sdks.values())).root.parent / "aliases")}
    packages = [arg for sdk in sdks.values() for arg in ("-p", f"{sdk.alias}._generated")]
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", *packages],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "MYPYPATH": os.pathsep.join([*aliases, str(ROOT)])},
    )
    assert proc.returncode == 0, proc.stdout[-4000:]


@pytest.mark.parametrize("name", NAMES)
def test_a_decoder_builds_for_every_generated_type_and_response(sdks: dict[str, Scratch], name: str) -> None:
    sdk = sdks[name]
    for model in model_types(sdk):
        msgspec.json.Decoder(model)
    for operation in operations(sdk).values():
        if operation.response is not None:
            msgspec.json.Decoder(operation.response)


def _examples(name: str) -> list[tuple[str, Any]]:
    """(operation id, example) for every example of a success response body in the description,
    and ("#/components/schemas/X", example) for every schema example."""
    spec = normalized(name)
    found: list[tuple[str, Any]] = []
    for schema_name, schema in spec.get("components", {}).get("schemas", {}).items():
        found += [(f"#/components/schemas/{schema_name}", e) for e in schema.get("examples", [])]
    for _path, _method, operation, _params in iter_operations(spec):
        for status, response in operation.get("responses", {}).items():
            if not str(status).startswith("2"):
                continue
            for media_type, media in response.get("content", {}).items():
                if not is_json(media_type):
                    continue
                if "example" in media:
                    found.append((operation["operationId"], media["example"]))
                found += [
                    (operation["operationId"], e.get("value")) for e in media.get("examples", {}).values()
                ]
    return found


EXAMPLES = [(name, where, example) for name in NAMES for where, example in _examples(name)]


def test_the_corpus_documents_examples_of_every_kind() -> None:
    kinds = {where.startswith("#/") for _, where, _ in EXAMPLES}
    assert kinds == {True, False}
    assert len({name for name, _, _ in EXAMPLES}) >= 4


@pytest.mark.parametrize(
    ("name", "where", "example"), EXAMPLES, ids=[f"{n}:{w}:{i}" for i, (n, w, _) in enumerate(EXAMPLES)]
)
def test_every_documented_example_decodes(
    sdks: dict[str, Scratch], name: str, where: str, example: Any
) -> None:
    sdk = sdks[name]
    body = msgspec.json.encode(example)
    if where.startswith("#/components/schemas/"):
        models = importlib.import_module(f"{sdk.alias}._generated.models")
        target = getattr(models, where.rsplit("/", 1)[1])
    else:
        target = operations(sdk)[where].response
    msgspec.json.decode(body, type=target)


@pytest.mark.parametrize(
    ("name", "model", "payload"),
    [
        (
            "kanbert_whole_api",
            "ClientUpdatedWebhook",
            {
                "event": "client:update",
                "sent_at": "2024-01-01T00:00:00Z",
                "data": {
                    "id": "cl_1", "external_id": None, "name": "Acme", "shortcode": None, "segment": "a",
                    "primary_contact": None, "projects": [], "created_at": "2024-01-01T00:00:00Z",
                    "updated_at": "2024-01-01T00:00:00Z", "deleted_at": None,
                },
            },
        ),
        (
            "scramble_bodies",
            "UserCreatedWebhook",
            {"event": "user:create", "user": {"id": 1, "name": "Ada", "nickname": None, "role": None}},
        ),
    ],
)  # fmt: skip
def test_webhook_payloads_get_models_to_decode_deliveries(
    sdks: dict[str, Scratch], name: str, model: str, payload: dict[str, Any]
) -> None:
    models = importlib.import_module(f"{sdks[name].alias}._generated.models")
    decoded = msgspec.convert(payload, type=getattr(models, model), strict=False)
    assert decoded.event == payload["event"]
