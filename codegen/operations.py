"""Read every operation of the description into a small intermediate form the renderer consumes.

Nothing here knows a Kanbert endpoint by name: resources come from operationIds
(``<resource>.<action>``), method names from Laravel's action verbs, and the special list
parameters (``sort``, ``include``, ``filter``, ``page[...]``, ``x[alias]`` maps) from the
conventions every Kanbert list endpoint shares.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from codegen.capabilities import parse_operation
from codegen.naming import method_name, safe_identifier, snake, split_operation_id
from codegen.spec import Spec, SpecError, iter_operations, ref_name, resolve
from kanbert_async._core.capabilities import Capabilities

#: List parameters that the pager or the capability checks own, and the Python names users see.
PAGE_SIZE_PARAM = "page[size]"
CURSOR_PARAM = "page[cursor]"
_MAP_PARAM = re.compile(r"^(?P<base>[A-Za-z_][\w]*)\[(?:alias|<[^>]+>|key|name)\]$")
_SIZE_LIMIT = re.compile(r"max(?:imum)?\s*:?\s*(\d+(?:\.\d+)?)\s*(KB|MB|GB)", re.IGNORECASE)
_UNITS = {"KB": 1024, "MB": 1024**2, "GB": 1024**3}


@dataclass
class Param:
    """One argument of a generated method."""

    api_name: str
    py_name: str
    location: str  # "path" | "query" | "body"
    annotation: str
    required: bool
    description: str = ""
    default: str = "None"
    #: A ``x[alias]`` query map: the argument is a mapping expanded to ``x[key]=value``.
    is_map: bool = False


@dataclass
class Op:
    """One operation, ready to render."""

    operation_id: str
    resource: str
    name: str
    http_method: str
    path: str
    summary: str
    description: str
    tag: str
    params: list[Param] = field(default_factory=list)
    body_kind: str | None = None  # "json" | "multipart"
    file_limits: dict[str, int] = field(default_factory=dict)
    response_model: str | None = None  # the decode target (page wrapper for lists)
    item_model: str | None = None  # the item of a paginated list
    binary: bool = False
    paginated: bool = False
    scopes: list[str] = field(default_factory=list)
    capabilities: Capabilities | None = None
    #: A create's duplicate check: the lookup operation that finds a record by the create's key.
    duplicate_check: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def const_name(self) -> str:
        """The constant of ``_generated/operations.py`` holding this operation's description."""
        return snake(self.operation_id).upper()


def _success_response(spec: Spec, operation: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    for status in ("200", "201", "202", "204", "2XX", "default"):
        if status in operation.get("responses", {}):
            return status, resolve(spec, operation["responses"][status])
    return None, {}


def _is_binary(content: dict[str, Any]) -> bool:
    return any(not ctype.endswith("json") for ctype in content) and not any(
        ctype.endswith("json") for ctype in content
    )


def _json_schema(content: dict[str, Any]) -> Any:
    for ctype, media in content.items():
        if ctype.endswith("json"):
            return media.get("schema")
    return None


def _page_item(spec: Spec, schema_node: Any) -> str | None:
    """The item model of a cursor-paginated wrapper (``{data: [...], meta: {next_cursor}}``), else None."""
    schema = resolve(spec, schema_node) if schema_node else None
    if not isinstance(schema, dict):
        return None
    props = schema.get("properties", {})
    data = props.get("data", {})
    meta = resolve(spec, props.get("meta", {}))
    if data.get("type") == "array" and "next_cursor" in meta.get("properties", {}):
        return ref_name(data.get("items"))
    return None


def python_type(spec: Spec, schema: Any, *, models: set[str], for_input: bool = True) -> str:
    """The annotation for a schema, as used in a generated signature."""
    if not isinstance(schema, dict) or not schema:
        return "Any"
    name = ref_name(schema)
    if name is not None:
        target = resolve(spec, schema)
        if name in models:
            return name
        return python_type(spec, target, models=models, for_input=for_input)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            parts = [python_type(spec, s, models=models, for_input=for_input) for s in schema[key]]
            return " | ".join(dict.fromkeys(parts))
    if "const" in schema:
        return f"Literal[{schema['const']!r}]"
    if "enum" in schema:
        values = [v for v in schema["enum"] if v is not None]
        text = f"Literal[{', '.join(repr(v) for v in values)}]"
        return f"{text} | None" if None in schema["enum"] else text
    types = schema.get("type", "any")
    if isinstance(types, list):
        parts = [python_type(spec, {**schema, "type": t}, models=models, for_input=for_input) for t in types]
        return " | ".join(dict.fromkeys(parts))
    fmt = schema.get("format")
    if types == "string":
        if fmt == "binary" or schema.get("contentMediaType"):
            return "FileInput"
        return {"date-time": "datetime", "date": "date"}.get(fmt, "str")
    if types == "array":
        return f"Sequence[{python_type(spec, schema.get('items'), models=models, for_input=for_input)}]"
    if types == "object":
        return "Mapping[str, Any]"
    return {"integer": "int", "number": "float", "boolean": "bool", "null": "None"}.get(types, "Any")


def _file_limit(schema: dict[str, Any]) -> int | None:
    """Codegen rule: Kanbert states upload limits in prose ("Max: 15MB"); read them into bytes."""
    match = _SIZE_LIMIT.search(schema.get("description", ""))
    if match is None:
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def _scopes(operation: dict[str, Any]) -> list[str]:
    scopes: list[str] = []
    for requirement in operation.get("security", []):
        for values in requirement.values():
            scopes.extend(v for v in values if v not in scopes)
    return scopes


def _query_param(spec: Spec, raw: dict[str, Any], models: set[str], caps: Capabilities | None) -> Param:
    name = raw["name"]
    schema = raw.get("schema", {})
    description = raw.get("description", "")
    map_match = _MAP_PARAM.match(name)
    if map_match:
        base = map_match.group("base")
        annotation = "Mapping[str, Computed | str]" if base == "computed_fields" else "Mapping[str, str]"
        return Param(name, safe_identifier(base), "query", annotation, False, description, is_map=True)
    if name == PAGE_SIZE_PARAM:
        return Param(name, "page_size", "query", "int", False, description)
    annotation = python_type(spec, schema, models=models)
    if caps is not None and name == "sort":
        annotation = "SortArg"
    elif caps is not None and name == "include":
        annotation = "IncludeArg"
    elif name == "sort" or name == "include":
        annotation = "str | Sequence[str]"
    elif name == "filter":
        annotation = "Filter | str"
    required = bool(raw.get("required"))
    return Param(name, safe_identifier(name), "query", annotation, required, description)


def _body_params(
    spec: Spec, operation: dict[str, Any], models: set[str]
) -> tuple[str | None, list[Param], dict[str, int]]:
    body = resolve(spec, operation.get("requestBody", {}))
    content = body.get("content", {})
    if not content:
        return None, [], {}
    ctype, media = next(iter(content.items()))
    kind = "multipart" if "multipart" in ctype or "form" in ctype else "json"
    schema = resolve(spec, media.get("schema", {}))
    required = set(schema.get("required", []))
    params: list[Param] = []
    limits: dict[str, int] = {}
    for prop, prop_schema in schema.get("properties", {}).items():
        resolved = resolve(spec, prop_schema)
        annotation = python_type(spec, prop_schema, models=models)
        limit = _file_limit(resolved) if annotation == "FileInput" else None
        if limit is not None:
            limits[prop] = limit
        params.append(
            Param(
                prop,
                safe_identifier(prop),
                "body",
                annotation,
                prop in required,
                resolved.get("description", ""),
            )
        )
    return kind, params, limits


def read_operations(spec: Spec, models: set[str]) -> list[Op]:
    """Every operation of the description, as :class:`Op`, in document order."""
    ops: list[Op] = []
    for path, method, operation, raw_params in iter_operations(spec):
        operation_id = operation.get("operationId")
        if not operation_id:
            raise SpecError(f"{method.upper()} {path} has no operationId")
        resource, action = split_operation_id(operation_id)
        _, response = _success_response(spec, operation)
        content = response.get("content", {})
        binary = bool(content) and _is_binary(content)
        json_schema = _json_schema(content)
        item = _page_item(spec, json_schema)
        paginated = item is not None
        caps, warnings = parse_operation(operation_id, raw_params) if paginated else (None, [])
        op = Op(
            operation_id=operation_id,
            resource=resource,
            name=method_name(action, paginated=paginated, binary=binary),
            http_method=method.upper(),
            path=path,
            summary=operation.get("summary", "").strip(),
            description=operation.get("description", "").strip(),
            tag=(operation.get("tags") or [resource])[0],
            response_model=ref_name(json_schema),
            item_model=item,
            binary=binary,
            paginated=paginated,
            scopes=_scopes(operation),
            capabilities=caps,
            warnings=warnings,
        )
        for raw in raw_params:
            if raw["in"] == "path":
                op.params.append(
                    Param(
                        raw["name"],
                        safe_identifier(raw["name"]),
                        "path",
                        "str",
                        True,
                        raw.get("description", ""),
                    )
                )
            elif raw["in"] == "query" and not (paginated and raw["name"] == CURSOR_PARAM):
                op.params.append(_query_param(spec, raw, models, caps))
        op.body_kind, body_params, op.file_limits = _body_params(spec, operation, models)
        op.params.extend(body_params)
        _check_unique_names(op)
        ops.append(op)
    _link_duplicate_checks(spec, ops)
    _check_unique_methods(ops)
    return ops


def _check_unique_names(op: Op) -> None:
    seen: dict[str, str] = {}
    for param in op.params:
        if param.py_name in seen:
            raise SpecError(
                f"{op.operation_id}: parameters {seen[param.py_name]!r} and {param.api_name!r} "
                f"both map to the Python name {param.py_name!r}"
            )
        seen[param.py_name] = param.api_name


def _check_unique_methods(ops: list[Op]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for op in ops:
        key = (op.resource, op.name)
        if key in seen:
            raise SpecError(f"{op.operation_id} and {seen[key]} both generate {op.resource}.{op.name}()")
        seen[key] = op.operation_id


def _link_duplicate_checks(spec: Spec, ops: list[Op]) -> None:
    """Codegen rule: a create whose body carries ``external_id`` can be checked for having happened
    through the same resource's lookup that accepts ``find_by=external_id`` and returns the same model."""
    for create in ops:
        body_names = {p.api_name for p in create.params if p.location == "body"}
        if create.http_method != "POST" or "external_id" not in body_names:
            continue
        for lookup in ops:
            query = {p.api_name: p for p in lookup.params if p.location == "query"}
            path_params = [p for p in lookup.params if p.location == "path"]
            if (
                lookup.resource == create.resource
                and lookup.http_method == "GET"
                and lookup.response_model == create.response_model
                and "find_by" in query
                and "'external_id'" in query["find_by"].annotation
                and len(path_params) == 1
            ):
                scope_fields = (
                    {"external_origin": "origin"}
                    if "external_origin" in body_names and "origin" in query
                    else {}
                )
                create.duplicate_check = {
                    "lookup": lookup.const_name,
                    "key_field": "external_id",
                    "path_param": path_params[0].api_name,
                    "query": {"find_by": "external_id"},
                    "scope_fields": scope_fields,
                }
                break
