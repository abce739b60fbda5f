"""Read every operation of the description into a small intermediate form the renderer consumes.

Nothing here knows a Kanbert endpoint by name: resources come from tags (or operationIds),
method names from Laravel's action verbs (:mod:`codegen.naming`), responses and pagination from
their shapes (:mod:`codegen.responses`), and the special list parameters (``sort``, ``include``,
``filter``, ``page[...]``, ``x[alias]`` maps) from the conventions every Kanbert list endpoint shares.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from codegen.capabilities import parse_operation
from codegen.naming import method_name, operation_names, safe_identifier, snake
from codegen.normalize import BODY_MEDIA, is_json
from codegen.responses import output_type, pagination, success_response
from codegen.spec import Spec, SpecError, iter_operations, ref_name, resolve
from kanbert_async._core.capabilities import Capabilities

#: List parameters that the pager owns, and the Python names users see: the page size (Kanbert's
#: ``page[size]``, Laravel's ``per_page``) is ``page_size``; the cursor or page number is the pager's.
PAGE_SIZE_PARAMS = ("page[size]", "per_page")
CURSOR_PARAMS = ("page[cursor]", "cursor")
PAGE_NUMBER_PARAMS = ("page[number]", "page")
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
    body_kind: str | None = None  # "json" | "form" | "multipart"
    files: list[str] = field(default_factory=list)
    file_limits: dict[str, int] = field(default_factory=dict)
    #: The decode target as a type expression (a model, ``list[X]``, ``str``…; the page wrapper for
    #: lists); None when the response has no body or is binary.
    response_model: str | None = None
    item_model: str | None = None  # the item of a paginated list
    binary: bool = False
    accept: str = "application/json"
    paginated: bool = False
    cursor_param: str = "page[cursor]"
    page_size_param: str = "page[size]"
    #: Keyword arguments of the operation's ``Paging`` (where responses name the next page).
    paging: dict[str, tuple[str, ...]] = field(default_factory=dict)
    scopes: list[str] = field(default_factory=list)
    capabilities: Capabilities | None = None
    #: A create's duplicate check: the lookup operation that finds a record by the create's key.
    duplicate_check: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def const_name(self) -> str:
        """The constant of ``_generated/operations.py`` holding this operation's description."""
        return snake(self.operation_id).upper()


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
        if not values:
            return "None"
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
    if name in PAGE_SIZE_PARAMS:
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
    """The body's kind and its properties as arguments (with the size limits of file fields)."""
    body = resolve(spec, operation.get("requestBody", {}))
    content = body.get("content", {})
    if not content:
        return None, [], {}
    ctype, media = next(iter(content.items()))
    kind = BODY_MEDIA.get(ctype.split(";", 1)[0].strip().lower(), "json" if is_json(ctype) else None)
    schema = resolve(spec, media.get("schema", {}))
    required = set(schema.get("required", []))
    properties = dict(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        resolved_part = resolve(spec, part)
        properties.update(resolved_part.get("properties", {}))
        required |= set(resolved_part.get("required", []))
    params: list[Param] = []
    limits: dict[str, int] = {}
    for prop, prop_schema in properties.items():
        resolved = resolve(spec, prop_schema)
        annotation = python_type(spec, prop_schema, models=models)
        if "Sequence[FileInput]" in annotation:
            raise SpecError(
                f"{operation.get('operationId')}: body field {prop!r} is an array of files, which the SDK "
                "cannot upload yet; describe one file field per file with an overlay"
            )
        limit = _file_limit(resolved) if "FileInput" in annotation else None
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
    """Every operation of the description, as :class:`Op`, in document order.

    ``models`` holds the names of the generated model types (classes and type aliases).
    """
    ops: list[Op] = []
    for path, method, operation, raw_params in iter_operations(spec):
        operation_id = operation.get("operationId")
        if not operation_id:
            raise SpecError(f"{method.upper()} {path} has no operationId")
        resource, action = operation_names(path, operation)
        success = success_response(spec, operation)
        page = pagination(spec, success.schema) if success.schema is not None else None
        query_names = {p["name"] for p in raw_params if p.get("in") == "query"}
        paginated = page is not None
        caps, warnings = parse_operation(operation_id, raw_params) if paginated else (None, [])
        op = Op(
            operation_id=operation_id,
            resource=resource,
            name=method_name(action, resource=resource, paginated=paginated, binary=success.binary),
            http_method=method.upper(),
            path=path,
            summary=operation.get("summary", "").strip(),
            description=operation.get("description", "").strip(),
            tag=(operation.get("tags") or [resource])[0],
            response_model=None if success.schema is None else output_type(spec, success.schema, models),
            binary=success.binary,
            accept=success.accept,
            paginated=paginated,
            scopes=_scopes(operation),
            capabilities=caps,
            warnings=warnings,
        )
        op.page_size_param = next((n for n in PAGE_SIZE_PARAMS if n in query_names), PAGE_SIZE_PARAMS[0])
        if page is not None:
            candidates = CURSOR_PARAMS if page.style == "cursor" else PAGE_NUMBER_PARAMS
            op.cursor_param = next((n for n in candidates if n in query_names), candidates[-1])
            op.item_model = output_type(spec, page.items, models)
            op.paging = page.paging
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
            elif raw["in"] == "query" and not (paginated and raw["name"] == op.cursor_param):
                op.params.append(_query_param(spec, raw, models, caps))
        op.body_kind, body_params, op.file_limits = _body_params(spec, operation, models)
        op.files = [p.api_name for p in body_params if "FileInput" in p.annotation]
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
