"""Bring any description Scramble writes into the one shape the rest of codegen reads.

Scramble writes most response schemas inline (paginated wrappers, ``{data: …}`` resources, enums
inside them), documents with no ``components.schemas`` at all, webhooks, and unions msgspec
cannot tell apart. Before models are generated:

- :func:`check_supported` refuses what the SDK cannot serve, naming the construct and its JSON
  pointer (``#/paths/~1clients/get/parameters/0``);
- :func:`hoist_inline_schemas` moves every inline object or string enum of a success response or
  a webhook payload into ``components.schemas`` under a name read from the operation
  (``ClientsListResponse``, ``ClientsListResponseMeta``), so each gets a stable, importable type;
- :func:`settle_unions` gives unions of objects a discriminator where their members carry one,
  and types the rest as ``Any`` (msgspec cannot decode an untagged union of objects).

Everything works on a copy: the description on disk is never changed.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from codegen.naming import ACTION_NAMES, operation_names, pascal
from codegen.spec import HTTP_METHODS, Spec, SpecError, iter_operations, resolve

__all__ = [
    "JSON_MEDIA",
    "check_supported",
    "hoist_inline_schemas",
    "is_json",
    "normalize",
    "pointer",
    "settle_unions",
]

#: Request body media types the transport sends.
BODY_MEDIA = {
    "application/json": "json",
    "application/x-www-form-urlencoded": "form",
    "multipart/form-data": "multipart",
}
JSON_MEDIA = "application/json"
_SCHEMA_REF = "#/components/schemas/"


def is_json(media_type: str) -> bool:
    """``application/json``, ``application/problem+json``, ``application/json; charset=utf-8``."""
    base = media_type.split(";", 1)[0].strip().lower()
    return base == JSON_MEDIA or base.endswith("+json")


def pointer(*parts: str | int) -> str:
    """A JSON pointer (RFC 6901) into the description: ``pointer("paths", "/a")`` → ``#/paths/~1a``."""
    return "#/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


# -- refusals ---------------------------------------------------------------------------------


def _refs(node: Any, where: tuple[str | int, ...]) -> Iterator[tuple[str, tuple[str | int, ...]]]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield ref, where
        for key, value in node.items():
            yield from _refs(value, (*where, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _refs(value, (*where, index))


def check_supported(spec: Spec) -> None:
    """Raise :class:`SpecError` naming the first construct the SDK cannot serve, and where it is."""
    for ref, where in _refs(spec, ()):
        if not ref.startswith("#/"):
            raise SpecError(
                f"external $ref {ref!r} at {pointer(*where)}: only references inside the document are "
                "supported; bundle the description first (Kanbert's downloaded bundle is one file)"
            )
    for path, item in spec.get("paths", {}).items():
        for method in HTTP_METHODS:
            if method not in item:
                continue
            operation = item[method]
            here = ("paths", path, method)
            if not operation.get("operationId"):
                raise SpecError(
                    f"operation {method.upper()} {path} at {pointer(*here)} has no operationId; "
                    "add one with an overlay entry (the SDK names its method from it)"
                )
            for index, raw in enumerate(operation.get("parameters", [])):
                param = resolve(spec, raw)
                if param.get("in") in ("header", "cookie"):
                    raise SpecError(
                        f"{param['in']} parameter {param.get('name')!r} at "
                        f"{pointer(*here, 'parameters', index)}: header and cookie parameters are not "
                        "supported; pass it with RequestOptions(headers=...) and remove it with an overlay"
                    )
            body = resolve(spec, operation.get("requestBody", {}))
            for media_type, media in body.get("content", {}).items():
                at = pointer(*here, "requestBody", "content", media_type)
                kind = BODY_MEDIA.get(media_type.split(";", 1)[0].strip().lower())
                if kind is None and not is_json(media_type):
                    raise SpecError(
                        f"request body of media type {media_type!r} at {at}: only JSON, "
                        "application/x-www-form-urlencoded and multipart/form-data bodies are supported"
                    )
                schema = resolve(spec, media.get("schema", {}))
                if schema and not _is_object(spec, schema):
                    raise SpecError(
                        f"request body schema at {at}/schema is not an object: the SDK passes a body's "
                        "properties as keyword arguments, so only object bodies are supported"
                    )


def _is_object(spec: Spec, schema: dict[str, Any]) -> bool:
    types = schema.get("type")
    types = types if isinstance(types, list) else [types]
    if "object" in types or "properties" in schema:
        return True
    return any(_is_object(spec, resolve(spec, part)) for part in schema.get("allOf", []))


# -- hoisting inline schemas -------------------------------------------------------------------


def _types(schema: dict[str, Any]) -> list[Any]:
    types = schema.get("type")
    return list(types) if isinstance(types, list) else [types]


def _is_inline_object(schema: dict[str, Any]) -> bool:
    types = _types(schema)
    return bool(schema.get("properties")) and ("object" in types or types == [None])


def _is_string_enum(schema: dict[str, Any]) -> bool:
    values = schema.get("enum")
    return (
        isinstance(values, list)
        and any(isinstance(v, str) for v in values)
        and all(isinstance(v, str) or v is None for v in values)
    )


class _Hoister:
    """Moves inline schemas into ``components.schemas`` under names unique in the document."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.schemas: dict[str, Any] = spec.setdefault("components", {}).setdefault("schemas", {})

    def _unique(self, name: str) -> str:
        candidate, number = name, 2
        while candidate in self.schemas:
            candidate, number = f"{name}{number}", number + 1
        return candidate

    def hoist(self, node: Any, name: str) -> Any:
        """``node`` with its inline objects and string enums replaced by ``$ref``s (nullable ones by
        ``anyOf: [$ref, null]``), recursively; each hoisted schema is named ``name`` + the path to it."""
        if not isinstance(node, dict) or "$ref" in node:
            return node
        node = dict(node)
        if _is_inline_object(node):
            nullable = "null" in _types(node)
            if nullable:
                node["type"] = "object"
            node["properties"] = {
                prop: self.hoist(sub, name + pascal(prop)) for prop, sub in node["properties"].items()
            }
            return self._store(node, name, nullable)
        if _is_string_enum(node):
            return self._store(node, name, nullable=False)
        if isinstance(node.get("items"), dict):
            node["items"] = self.hoist(node["items"], f"{name}Item")
        for key in ("anyOf", "oneOf"):
            if isinstance(node.get(key), list):
                node[key] = [self.hoist(m, f"{name}Option{i}") for i, m in enumerate(node[key], 1)]
                members = [m for m in node[key] if _types(m) != ["null"]]
                if len(members) > 1:
                    # A union of its own: named, so settle_unions sees it with the components.
                    return self._store(node, name, nullable=False)
        return node

    def _store(self, node: dict[str, Any], name: str, nullable: bool) -> dict[str, Any]:
        unique = self._unique(name)
        node.setdefault("title", unique)
        self.schemas[unique] = node
        ref = {"$ref": _SCHEMA_REF + unique}
        return {"anyOf": [ref, {"type": "null"}]} if nullable else ref

    def hoist_media(self, content: dict[str, Any], name: str) -> None:
        for media_type, media in content.items():
            if is_json(media_type) and isinstance(media, dict) and "schema" in media:
                media["schema"] = self.hoist(media["schema"], name)


def hoist_inline_schemas(spec: Spec) -> Spec:
    """A copy of ``spec`` whose success responses and webhook payloads reference named schemas only."""
    result = copy.deepcopy(spec)
    hoister = _Hoister(result)
    for path, _method, operation, _params in iter_operations(result):
        resource, action = operation_names(path, operation)
        base = pascal(resource) + pascal(ACTION_NAMES.get(action, action))
        for status, response in operation.get("responses", {}).items():
            if not str(status).startswith("2"):
                continue
            ref = response.get("$ref") if isinstance(response, dict) else None
            # A shared response component is hoisted once, under its own name.
            name = ref.rsplit("/", 1)[1] if isinstance(ref, str) else f"{base}Response"
            hoister.hoist_media(resolve(result, response).get("content", {}), name)
    for hook, item in (result.get("webhooks") or {}).items():
        for method in HTTP_METHODS:
            if method in item:
                body = resolve(result, item[method].get("requestBody", {}))
                hoister.hoist_media(body.get("content", {}), f"{pascal(hook)}Webhook")
    return result


# -- unions msgspec cannot decode --------------------------------------------------------------


def _kind(spec: Spec, schema: Any) -> str:
    """What msgspec sees: "object" (also a union of objects), "array", "string" (str, dates, string
    enums), another JSON type, "null", or "any" (a mixed union, or no type)."""
    schema = resolve(spec, schema) if isinstance(schema, dict) else {}
    if _is_object(spec, schema):
        return "object"
    members = schema.get("oneOf") or schema.get("anyOf")
    if members:
        kinds = {_kind(spec, m) for m in members} - {"null"}
        return "object" if kinds == {"object"} else "any"
    types = [t for t in _types(schema) if t != "null"]
    if not types and "null" in _types(schema):
        return "null"
    if "enum" in schema and all(isinstance(v, str) or v is None for v in schema["enum"]):
        return "string"
    return str(types[0]) if len(types) == 1 else "any"


def _constant(schema: dict[str, Any]) -> Any:
    """The one value a schema admits (``const``, or an enum of one), else None."""
    if "const" in schema:
        return schema["const"]
    values = schema.get("enum")
    return values[0] if isinstance(values, list) and len(values) == 1 else None


def _discriminator(spec: Spec, members: list[Any]) -> dict[str, Any] | None:
    """A property every member requires with a distinct constant value: the union's tag."""
    if not members or not all(isinstance(m, dict) and isinstance(m.get("$ref"), str) for m in members):
        return None
    resolved = [resolve(spec, m) for m in members]
    common = set.intersection(*(set(r.get("required", [])) for r in resolved))
    for prop in sorted(common):
        values = [_constant(resolve(spec, r.get("properties", {}).get(prop, {}))) for r in resolved]
        if all(isinstance(v, str) for v in values) and len(set(values)) == len(values):
            mapping = {v: m["$ref"] for v, m in zip(values, members, strict=True)}
            return {"propertyName": prop, "mapping": mapping}
    return None


def settle_unions(spec: Spec) -> Spec:
    """A copy of ``spec`` whose ``oneOf``/``anyOf`` msgspec can decode.

    A union with two members of one kind (two objects, two arrays, two string-like types) needs a
    tag: an existing ``discriminator`` is kept, one is read from a constant property every member
    requires, and a union without either is typed ``Any`` (decoded as plain JSON values).
    """
    result = copy.deepcopy(spec)

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(v) for v in node]
        if not isinstance(node, dict):
            return node
        node = {k: walk(v) for k, v in node.items()}
        for key in ("oneOf", "anyOf"):
            members = node.get(key)
            if not isinstance(members, list) or "discriminator" in node:
                continue
            kinds = [_kind(result, m) for m in members if _kind(result, m) != "null"]
            if len(kinds) <= 1 or (len(kinds) == len(set(kinds)) and "any" not in kinds):
                continue
            tag = _discriminator(result, [m for m in members if _kind(result, m) == "object"])
            if tag is not None and kinds.count("object") == len(kinds):
                node["discriminator"] = tag
                continue
            description = node.get("description", "")
            node = {
                "description": f"{description}\n\nOne of several shapes msgspec cannot tell apart "
                "without a tag; decoded as plain JSON.".strip()
            }
        return node

    components = result.get("components", {})
    if "schemas" in components:
        components["schemas"] = walk(components["schemas"])
    return result


def normalize(spec: Spec) -> Spec:
    """Every normalization, in order: refuse the unsupported, hoist inline schemas, settle unions."""
    check_supported(spec)
    return settle_unions(hoist_inline_schemas(spec))
