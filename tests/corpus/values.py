"""Valid arguments for any generated method, read from the description's schemas.

Deterministic and small: the contract test calls every operation of a description once with
these, and a mock server that validates requests (Prism) must accept every one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from codegen.spec import Spec, resolve

#: What a file argument uploads: a tiny PDF.
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"

_STRINGS = {
    "date": dt.date(2024, 1, 15),
    "date-time": dt.datetime(2024, 1, 15, 12, 30, tzinfo=dt.UTC),
    "email": "ada@example.com",
    "uri": "https://example.com/hook",
    "url": "https://example.com/hook",
    "uuid": "0b7e3c9a-5d6f-4a8b-9c0d-1e2f3a4b5c6d",
    "binary": PDF,
}


def valid_value(spec: Spec, schema: Any) -> Any:
    """One value ``schema`` accepts: its example, const or first enum value, else a plain one."""
    schema = resolve(spec, schema) if isinstance(schema, dict) else {}
    if "const" in schema:
        return schema["const"]
    values = [v for v in schema.get("enum", []) if v is not None]
    if values:
        return values[0]
    for key in ("anyOf", "oneOf", "allOf"):
        members = [m for m in schema.get(key, []) if resolve(spec, m).get("type") != "null"]
        if members and key != "allOf":
            return valid_value(spec, members[0])
        if members:
            merged: dict[str, Any] = {}
            for member in members:
                merged.update(valid_value(spec, member))
            return merged
    types = schema.get("type", "string")
    kind = next((t for t in types if t != "null"), "null") if isinstance(types, list) else types
    if kind == "string":
        if schema.get("format") in _STRINGS:
            return _STRINGS[schema["format"]]
        return "x" * max(int(schema.get("minLength", 3)), 1)
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "number":
        return float(max(schema.get("minimum", 1.5), 1.5))
    if kind == "boolean":
        return True
    if kind == "array":
        return [valid_value(spec, schema.get("items", {})) for _ in range(max(schema.get("minItems", 1), 1))]
    if kind == "object" or "properties" in schema:
        required = set(schema.get("required", []))
        return {
            name: valid_value(spec, sub)
            for name, sub in schema.get("properties", {}).items()
            if name in required
        }
    return None


def parameter_schemas(spec: Spec, operation: dict[str, Any], params: list[dict[str, Any]]) -> dict[str, Any]:
    """Schema of every argument of an operation by its API name: parameters and body properties."""
    found = {p["name"]: p.get("schema", {}) for p in params}
    body = resolve(spec, operation.get("requestBody", {}))
    for media in body.get("content", {}).values():
        schema = resolve(spec, media.get("schema", {}))
        for part in [schema, *(resolve(spec, s) for s in schema.get("allOf", []))]:
            found.update(part.get("properties", {}))
        break
    return found
