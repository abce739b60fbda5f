"""Codegen rules: corrections every Kanbert description needs, applied before models are generated.

Unlike overlay entries (one-off fixes at a named place), a rule reads the description's own
conventions and applies everywhere they hold, so the real bundle needs no hand edits.
"""

from __future__ import annotations

import copy

from codegen.capabilities import parse_includes
from codegen.spec import Spec, iter_operations, ref_name, resolve


def _response_model(spec: Spec, operation: dict[str, object]) -> str | None:
    responses = operation.get("responses", {})
    assert isinstance(responses, dict)
    for status in ("200", "201"):
        if status in responses:
            content = resolve(spec, responses[status]).get("content", {})
            for ctype, media in content.items():
                if ctype.endswith("json"):
                    name = ref_name(media.get("schema"))
                    if name is None:
                        return None
                    # A paginated wrapper: the relations belong to its items.
                    data = resolve(spec, media["schema"]).get("properties", {}).get("data", {})
                    return ref_name(data.get("items")) or name
    return None


def relax_includable_relations(spec: Spec) -> Spec:
    """Relations an operation offers under ``include`` are loaded only on request (Laravel's lazy
    relations), so responses leave them out unless included — even where the schema marks them
    required. Make them optional so they decode when absent (as ``UNSET``, distinct from ``[]``)."""
    result = copy.deepcopy(spec)
    schemas = result.get("components", {}).get("schemas", {})
    for _path, _method, operation, params in iter_operations(result):
        include = next((p for p in params if p.get("name") == "include"), None)
        if include is None:
            continue
        relations = parse_includes(include.get("description", "")) or []
        model = _response_model(result, operation)
        if model is None or model not in schemas:
            continue
        schema = schemas[model]
        if "required" in schema:
            schema["required"] = [name for name in schema["required"] if name not in relations]
    return result


#: String formats that change the Python type; any other format (e.g. "ISO 3166-1 alpha-2") only
#: documents the value, and the model generator would warn about it.
TYPED_FORMATS = frozenset(
    {
        "date",
        "date-time",
        "time",
        "duration",
        "binary",
        "byte",
        "uri",
        "email",
        "uuid",
        "int32",
        "int64",
        "float",
        "double",
        "ipv4",
        "ipv6",
        "hostname",
        "password",
    }
)


def document_free_text_formats(spec: Spec) -> Spec:
    """Move formats that are prose, not types, into the description."""
    result = copy.deepcopy(spec)

    def walk(node: object) -> None:
        if isinstance(node, dict):
            fmt = node.get("format")
            if isinstance(fmt, str) and fmt not in TYPED_FORMATS:
                del node["format"]
                description = node.get("description", "")
                node["description"] = f"{description}\n\nFormat: {fmt}".strip()
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(result.get("components", {}))
    return result


def apply_rules(spec: Spec) -> Spec:
    """Every codegen rule, in order."""
    return document_free_text_formats(relax_includable_relations(spec))
