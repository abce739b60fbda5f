"""The API description as the sandbox reads it for itself: routes, scopes, parameters, request bodies.

The sandbox does not take these from the client's generated code. It reads the description
(``openapi/`` with the overlay's corrections, which codegen ships unread as
``kanbert_async/_generated/description.json``) with this small reader of its own, so a misreading
in codegen — a path, a parameter's name or values, a scope — meets a server that disagrees and
fails an end-to-end test. Only what the description states in prose (the filter tables) comes
from codegen's reading, through the generated operations table.

Query parameters are validated as Laravel validates them: ``enum`` → "The selected find by is
invalid.", ``integer`` → "The page.size field must be an integer.", ``required``, ``minimum`` and
``maximum``; an empty value counts as absent (Laravel's ``ConvertEmptyStringsToNull``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

from multidict import MultiMapping

from .responses import ApiError

__all__ = ["DescribedOperation", "Parameter", "describe", "laravel_key", "load_description"]


@dataclasses.dataclass(frozen=True, slots=True)
class Parameter:
    """One documented parameter: where it goes, whether it is required, its (resolved) schema."""

    name: str
    location: str
    required: bool
    schema: Mapping[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class DescribedOperation:
    """One operation as the description states it."""

    id: str
    method: str
    path: str
    #: Scopes an OAuth token needs (a plain bearer token is not scoped).
    scopes: tuple[str, ...]
    parameters: tuple[Parameter, ...]
    #: The request body's schema (resolved), or None.
    body: Mapping[str, Any] | None = None
    #: The JSON schema of the success answer (resolved), or None (no JSON body).
    response: Mapping[str, Any] | None = None

    def required_in_response(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """Those of ``names`` the success answer's schema requires, in the order given."""
        required = set((self.response or {}).get("required", ()))
        return tuple(name for name in names if name in required)

    def check_query(self, query: MultiMapping[str]) -> None:
        """Refuse query values the description rules out, with Laravel's 422 (first error per field)."""
        errors: dict[str, list[str]] = {}
        for param in self.parameters:
            if param.location != "query":
                continue
            values = query.getall(param.name, [])
            value = values[-1] if values else None  # PHP keeps the last of repeated parameters
            problem = _problem(param, None if value == "" else value)
            if problem is not None:
                errors[laravel_key(param.name)] = [problem]
        if errors:
            first = next(iter(errors.values()))[0]
            raise ApiError(422, first, errors)


def laravel_key(name: str) -> str:
    """The key Laravel reports a parameter under: ``page[size]`` → ``page.size``."""
    return name.replace("[", ".").replace("]", "")


def _problem(param: Parameter, value: str | None) -> str | None:
    key = laravel_key(param.name)
    label = key.replace("_", " ")
    if value is None:
        return f"The {label} field is required." if param.required else None
    schema = param.schema
    allowed = schema.get("enum") or ([schema["const"]] if "const" in schema else None)
    if allowed is not None and value not in [str(v) for v in allowed if v is not None]:
        return f"The selected {label} is invalid."
    if _types(schema) & {"integer", "number"}:
        try:
            number = int(value.strip()) if "integer" in _types(schema) else float(value.strip())
        except ValueError:
            kind = "an integer" if "integer" in _types(schema) else "a number"
            return f"The {key} field must be {kind}."
        if "minimum" in schema and number < schema["minimum"]:
            return f"The {key} field must be at least {schema['minimum']}."
        if "maximum" in schema and number > schema["maximum"]:
            return f"The {key} field must not be greater than {schema['maximum']}."
    return None


def _types(schema: Mapping[str, Any]) -> set[str]:
    types = schema.get("type", ())
    return {types} if isinstance(types, str) else set(types)


@functools.cache
def load_description() -> Mapping[str, DescribedOperation]:
    """Every operation of the description the package ships, by operation id."""
    text = resources.files("kanbert_async._generated").joinpath("description.json").read_text("utf-8")
    return describe(json.loads(text))


def describe(spec: Mapping[str, Any]) -> dict[str, DescribedOperation]:
    """Every operation of an OpenAPI 3 description, by operation id (local ``$ref`` resolved)."""
    found: dict[str, DescribedOperation] = {}
    for path, item in spec.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method, operation in item.items():
            if method not in ("get", "put", "post", "delete", "patch", "head", "options"):
                continue
            params = [_resolve(spec, p) for p in [*shared, *operation.get("parameters", [])]]
            content: Mapping[str, Any] = _resolve(spec, operation.get("requestBody", {})).get("content", {})
            media: Mapping[str, Any] = next(iter(content.values()), {})
            scopes = [s for req in operation.get("security", []) for values in req.values() for s in values]
            found[operation["operationId"]] = DescribedOperation(
                id=operation["operationId"],
                method=method.upper(),
                path=path,
                scopes=tuple(dict.fromkeys(scopes)),
                parameters=tuple(_parameter(spec, p) for p in params),
                body=_resolve(spec, media["schema"]) if "schema" in media else None,
                response=_success_schema(spec, operation),
            )
    return found


def _success_schema(spec: Mapping[str, Any], operation: Mapping[str, Any]) -> Mapping[str, Any] | None:
    responses: Mapping[str, Any] = operation.get("responses", {})
    status = next((s for s in sorted(responses) if s.startswith("2")), None)
    if status is None:
        return None
    content: Mapping[str, Any] = _resolve(spec, responses[status]).get("content", {})
    media = content.get("application/json", {})
    return _resolve(spec, media["schema"]) if "schema" in media else None


def _parameter(spec: Mapping[str, Any], raw: Mapping[str, Any]) -> Parameter:
    schema = _resolve(spec, raw.get("schema", {}))
    return Parameter(raw["name"], raw["in"], bool(raw.get("required")), schema)


def _resolve(spec: Mapping[str, Any], node: Any) -> Any:
    while isinstance(node, Mapping) and "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node
