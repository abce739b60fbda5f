"""Property-based decoding: every instance hypothesis-jsonschema generates from a success
response's schema decodes into the type the generated operation returns.

The instances come from the description, not from our models, so a schema the generator
mistyped (a nullable it dropped, a union msgspec cannot tell apart, a format it narrowed) fails
here. Examples are bounded per schema to keep the suite fast.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis_jsonschema import from_schema

from codegen.responses import pagination, success_response
from codegen.spec import iter_operations, resolve

from .scratch import DOCUMENTS, Scratch
from .test_generates import normalized, operations

#: Instances per response schema: enough to meet nulls, empty lists and absent optionals.
EXAMPLES_PER_SCHEMA = 8


#: Objects nested deeper than the response's record (a list's item, a single GET's model) get
#: only what the schema requires of them: nulls where null is allowed, empty lists, no optional
#: properties. Deep optional fan-out (an invoice's company's client's contact's ...) makes
#: instances huge and slow to generate, and the nested types are generated whole elsewhere.
FULL_DEPTH = 1


def expand(spec: dict[str, Any], node: Any, path: tuple[str, ...] = (), full_depth: int = FULL_DEPTH) -> Any:
    """``node`` with its ``$ref``s replaced by their targets, pruned below :data:`FULL_DEPTH`.

    A reference back into a schema it is already inside (a comment's parent comment) admits no
    value (``False``), so a recursive schema ends in a null or an empty list: hypothesis-jsonschema
    cannot follow recursive references itself.
    """
    if isinstance(node, list):
        return [expand(spec, v, path, full_depth) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        return False if ref in path else expand(spec, resolve(spec, node), (*path, ref), full_depth)
    deep = len(path) > full_depth
    members = node.get("anyOf") or node.get("oneOf") or []
    if deep and any(isinstance(m, dict) and m.get("type") == "null" for m in members):
        return {"type": "null"}
    literal = ("example", "enum", "const", "default")
    kept = {k: v for k, v in node.items() if k != "examples"}
    expanded = {k: v if k in literal else expand(spec, v, path, full_depth) for k, v in kept.items()}
    if "properties" in expanded:
        if deep:
            required = set(expanded.get("required", []))
            expanded["properties"] = {k: v for k, v in expanded["properties"].items() if k in required}
        # Keys the schema does not name are ignored when decoding (msgspec's default, tested
        # elsewhere); generating them only makes instances huge.
        expanded.setdefault("additionalProperties", False)
    if deep and "items" in expanded and not expanded.get("minItems"):
        expanded["maxItems"] = 0
    return expanded


def _response_schemas() -> list[tuple[str, str, dict[str, Any]]]:
    """(document, operation id, standalone JSON Schema) for every JSON success response."""
    found = []
    for name in DOCUMENTS:
        spec = normalized(name)
        for _path, _method, operation, _params in iter_operations(spec):
            success = success_response(spec, operation)
            if success.schema is None:
                continue
            # A page wrapper is one level more: its items are the records.
            depth = FULL_DEPTH + (pagination(spec, success.schema) is not None)
            found.append((name, operation["operationId"], expand(spec, success.schema, full_depth=depth)))
    return found


SCHEMAS = _response_schemas()


def test_every_description_has_response_schemas_to_generate_from() -> None:
    assert {name for name, _, _ in SCHEMAS} == set(DOCUMENTS)


@pytest.mark.parametrize(("name", "operation_id", "schema"), SCHEMAS, ids=[f"{n}:{o}" for n, o, _ in SCHEMAS])
def test_generated_instances_of_a_response_schema_decode(
    sdks: dict[str, Scratch], name: str, operation_id: str, schema: dict[str, Any]
) -> None:
    target = operations(sdks[name])[operation_id].response
    decoder = msgspec.json.Decoder(target)

    @given(from_schema(schema))
    @settings(
        max_examples=EXAMPLES_PER_SCHEMA,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def decodes(instance: Any) -> None:
        decoder.decode(msgspec.json.encode(instance))

    decodes()
