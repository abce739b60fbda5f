"""Load the OpenAPI description and apply the overlay of corrections.

The description in ``openapi/`` stays exactly as Kanbert publishes it; corrections live in
``openapi/overlay.yaml`` (OpenAPI Overlay 1.0 actions whose targets use a small JSONPath subset:
``$.a.b['c/d']``) and in the codegen rules applied by :func:`apply_rules`.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = ROOT / "openapi" / "openapi.json"
OVERLAY_PATH = ROOT / "openapi" / "overlay.yaml"

_SEGMENT = re.compile(
    r"""\.([A-Za-z_][\w\-]*)|\[\s*'((?:[^'\\]|\\.)*)'\s*\]|\[\s*"((?:[^"\\]|\\.)*)"\s*\]|\[(\d+)\]"""
)

Spec = dict[str, Any]


class SpecError(Exception):
    """The description or the overlay cannot be used; the message says where."""


def load_spec(spec_path: Path = SPEC_PATH, overlay_path: Path | None = OVERLAY_PATH) -> Spec:
    """The description with the overlay applied (the file on disk is never modified)."""
    spec: Spec = json.loads(spec_path.read_text(encoding="utf-8"))
    if overlay_path is not None and overlay_path.exists():
        overlay = yaml.safe_load(overlay_path.read_text(encoding="utf-8")) or {}
        spec = apply_overlay(spec, overlay)
    return spec


def parse_target(target: str) -> list[str | int]:
    """``$.paths['/a/{id}'].get.parameters[0]`` → ``["paths", "/a/{id}", "get", "parameters", 0]``."""
    if not target.startswith("$"):
        raise SpecError(f"overlay target {target!r} must start with '$'")
    keys: list[str | int] = []
    pos = 1
    while pos < len(target):
        match = _SEGMENT.match(target, pos)
        if match is None:
            raise SpecError(f"overlay target {target!r}: cannot read from position {pos}")
        name, single, double, index = match.groups()
        keys.append(
            int(index) if index is not None else next(g for g in (name, single, double) if g is not None)
        )
        pos = match.end()
    return keys


def apply_overlay(spec: Spec, overlay: dict[str, Any]) -> Spec:
    """Apply Overlay 1.0 ``actions`` (``update`` deep-merges, ``remove: true`` deletes) to a copy."""
    result = copy.deepcopy(spec)
    for number, action in enumerate(overlay.get("actions", []), start=1):
        keys = parse_target(action["target"])
        parent: Any = result
        for key in keys[:-1]:
            if not _has(parent, key):
                raise SpecError(f"overlay action {number}: {action['target']!r} does not exist in the spec")
            parent = parent[key]
        last = keys[-1] if keys else None
        if action.get("remove"):
            if last is None or not _has(parent, last):
                raise SpecError(f"overlay action {number}: nothing to remove at {action['target']!r}")
            del parent[last]
        elif "update" in action:
            if last is None:
                _deep_merge(result, action["update"])
            elif isinstance(parent[last], dict) and isinstance(action["update"], dict):
                _deep_merge(parent[last], action["update"])
            else:
                parent[last] = copy.deepcopy(action["update"])
        else:
            raise SpecError(f"overlay action {number} has neither 'update' nor 'remove'")
    return result


def _has(container: Any, key: str | int) -> bool:
    if isinstance(container, list):
        return isinstance(key, int) and 0 <= key < len(container)
    return isinstance(container, dict) and key in container


def _deep_merge(into: dict[str, Any], update: dict[str, Any]) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _deep_merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


def resolve(spec: Spec, node: Any) -> Any:
    """Follow ``$ref`` chains inside the document."""
    seen = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if ref in seen or not ref.startswith("#/"):
            raise SpecError(f"cannot resolve $ref {ref!r}")
        seen.add(ref)
        node = spec
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def ref_name(node: Any) -> str | None:
    """``{"$ref": "#/components/schemas/X"}`` → ``X``."""
    if isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref: str = node["$ref"]
        if ref.startswith("#/components/schemas/"):
            return ref.rsplit("/", 1)[1]
    return None


HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def iter_operations(spec: Spec) -> Iterator[tuple[str, str, dict[str, Any], list[dict[str, Any]]]]:
    """(path, method, operation, parameters including the path item's), in document order."""
    for path, item in spec.get("paths", {}).items():
        shared = [resolve(spec, p) for p in item.get("parameters", [])]
        for method in HTTP_METHODS:
            if method in item:
                operation = item[method]
                own = [resolve(spec, p) for p in operation.get("parameters", [])]
                names = {(p["name"], p["in"]) for p in own}
                params = own + [p for p in shared if (p["name"], p["in"]) not in names]
                yield path, method, operation, params
