"""What an operation answers on success, read from its responses: the decode type, whether it is a
binary download (and the ``Accept`` header it sends), and whether it paginates and how.

Shapes read (all of them Scramble's, inline or as ``$ref``s, in ``responses`` or in
``components/responses``):

- no body (``204``, or ``200: {description: ''}``) → the call returns None;
- JSON: a model, ``list[X]``, a scalar or a union;
- any non-JSON media type → a :class:`~kanbert_async.BinaryResponse`, sending that type first in
  ``Accept`` and JSON second (so error bodies stay readable);
- paginators: a resource collection ``{data, links, meta: {next_cursor, …}}``, a bare
  ``CursorPaginator`` ``{data, next_cursor, …}``, and the page-numbered ``LengthAwarePaginator`` /
  ``Paginator`` (``current_page``, ``last_page`` or ``next_page_url``, flat or under ``meta``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from codegen.normalize import is_json
from codegen.spec import Spec, ref_name, resolve

__all__ = ["Pagination", "Success", "output_type", "pagination", "success_response"]

#: Success statuses in the order their body is preferred.
_SUCCESS = ("200", "201", "202", "203", "206", "2XX", "2xx", "204", "default")


@dataclass(frozen=True)
class Success:
    """The success response of one operation."""

    status: str | None
    #: JSON schema of the body (a node, possibly a ``$ref``); None for no body or a binary one.
    schema: Any = None
    binary: bool = False
    accept: str = "application/json"


def success_response(spec: Spec, operation: dict[str, Any]) -> Success:
    """The first documented 2xx response with a body (else the first 2xx, else ``default``)."""
    responses = operation.get("responses", {})
    present = [s for s in _SUCCESS if s in responses] + sorted(
        s for s in responses if str(s).startswith("2") and s not in _SUCCESS
    )
    chosen = next((s for s in present if resolve(spec, responses[s]).get("content")), None)
    status = chosen or next(iter(present), None)
    if status is None:
        return Success(None)
    content: dict[str, Any] = resolve(spec, responses[status]).get("content") or {}
    json_types = [m for m in content if is_json(m)]
    if json_types:
        # A JSON flavour (application/vnd.api+json) is asked for by name; plain JSON stays second.
        media = json_types[0]
        plain = media.split(";", 1)[0].strip().lower() == "application/json"
        accept = "application/json" if plain else f"{media}, application/json;q=0.9"
        return Success(status, content[media].get("schema", {}), accept=accept)
    if content:
        accept = ", ".join([*content, "application/json;q=0.9"])
        return Success(status, binary=True, accept=accept)
    return Success(status)


@dataclass(frozen=True)
class Pagination:
    """How a paginated response is read: its items' schema and the :class:`Paging` fields."""

    items: Any
    #: "cursor" or "page" (numbered pages).
    style: str
    paging: dict[str, tuple[str, ...]] = field(default_factory=dict)


def _properties(spec: Spec, schema: Any) -> dict[str, Any]:
    resolved = resolve(spec, schema) if isinstance(schema, dict) else {}
    if not isinstance(resolved, dict):
        return {}
    props = dict(resolved.get("properties", {}))
    for part in resolved.get("allOf", []):
        props.update(_properties(spec, part))
    for part in resolved.get("anyOf", []):  # a nullable $ref: anyOf [$ref, null]
        props.update(_properties(spec, part))
    return props


def pagination(spec: Spec, schema: Any) -> Pagination | None:
    """The pagination a JSON response schema documents, or None for a plain response."""
    props = _properties(spec, schema)
    data = resolve(spec, props.get("data", {}))
    if not isinstance(data, dict) or "array" not in (
        data.get("type") if isinstance(data.get("type"), list) else [data.get("type")]
    ):
        return None
    items = data.get("items", {})
    meta = _properties(spec, props.get("meta", {}))
    links = _properties(spec, props.get("links", {}))
    if "next_cursor" in meta:
        return Pagination(items, "cursor", {"next": ("meta", "next_cursor"), "meta": ("meta",)})
    if "next_cursor" in props:
        return Pagination(items, "cursor", {"next": ("next_cursor",), "meta": ()})
    for where, numbers, extra in (("meta", meta, links), ("", props, props)):
        if "current_page" not in numbers:
            continue
        prefix: tuple[str, ...] = (where,) if where else ()
        paging = {"current": (*prefix, "current_page"), "meta": prefix}
        if "last_page" in numbers:
            paging["last"] = (*prefix, "last_page")
        elif where and "next" in extra:
            paging["more"] = ("links", "next")
        elif "next_page_url" in extra:
            paging["more"] = ("next_page_url",)
        else:
            return None
        return Pagination(items, "page", paging)
    return None


def output_type(spec: Spec, schema: Any, models: set[str]) -> str:
    """The Python type a JSON value of ``schema`` decodes into, as written in generated code."""
    if not isinstance(schema, dict) or not schema:
        return "Any"
    name = ref_name(schema)
    if name is not None:
        if name in models:
            return name
        return output_type(spec, resolve(spec, schema), models)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            parts = [output_type(spec, s, models) for s in schema[key]]
            return "Any" if "Any" in parts else " | ".join(dict.fromkeys(parts))
    types = schema.get("type")
    if isinstance(types, list):
        parts = [output_type(spec, {**schema, "type": t}, models) for t in types]
        return "Any" if "Any" in parts else " | ".join(dict.fromkeys(parts))
    if types == "array":
        return f"list[{output_type(spec, schema.get('items'), models)}]"
    if types == "object" or "properties" in schema:
        return "dict[str, Any]"
    if types == "string":
        return {"date-time": "datetime", "date": "date"}.get(schema.get("format", ""), "str")
    return {"integer": "int", "number": "float", "boolean": "bool", "null": "None"}.get(str(types), "Any")
