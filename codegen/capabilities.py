"""Read what a list operation accepts out of the description's prose (build time only).

Kanbert's description documents sorts, includes, filter fields and computed-field relations not
in schemas but in Markdown prose on each list operation's parameters::

    sort:    "Available sorts are invoice_number, title, ..., computed_fields.<alias>.\\n..."
    include: "Available includes are external_costs, line_items, discounts. ..."
    filter:  "Allowed filter fields (with allowed operators):\\n\\n| Field | Type | Operators |\\n|---|..."
    computed_fields[alias]: "... Allowed relations for computed_fields (deny-all by default):\\n\\n
             - line_items (→ lineItems): aggregates: count, sum, avg, min, max; coalesce default: 0"

The parsers here are pure functions over that text. They are strict where a guess could reject
valid calls: a table that cannot be read as a whole gives ``None`` (and the parameter is passed
through unchecked) rather than a partial list. Tolerated variants: bullets ``•``/``-``/``*``,
``<br>`` or newlines inside cells, HTML entities, backticks and emphasis, extra spaces, trailing
periods, ``:type`` suffixes on names, and unknown types (kept as ``"unknown"`` with a warning).

Every "codegen correction" (a rule that repairs a fault in the published prose) is marked as such.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from codegen.filter_table import DEFAULT_OPERATORS, filter_table, parse_filter_table
from codegen.prose import BULLET_RE, NAME, NAME_RE, plain_text
from kanbert_async._core.capabilities import Capabilities, ComputedRelation, FilterField

# DEFAULT_OPERATORS and parse_filter_table live in codegen.filter_table; named here as before.
__all__ = [
    "DEFAULT_OPERATORS",
    "parse_computed_relations",
    "parse_filter_table",
    "parse_includes",
    "parse_operation",
    "parse_sort_prefixes",
    "parse_sorts",
]


# -- sorts and includes -----------------------------------------------------------------------

_COMPUTED_SORT_RE = re.compile(r"computed_fields\.(?:<\s*alias\s*>|\{\s*alias\s*\}|\*)", re.IGNORECASE)
#: A family of sort keys named by a placeholder: ``custom_fields.<alias>``, ``meta.{key}``, ``x.*``.
_WILDCARD_SORT_RE = re.compile(r"(?P<prefix>[A-Za-z_]\w*\.)(?:<\s*\w+\s*>|\{\s*\w+\s*\}|\*)")


def _available(text: str | None, noun: str) -> list[str] | None:
    if not text:
        return None
    plain = plain_text(text)
    match = re.search(rf"available\s+{noun}\s+(?:are|is)\b\s*:?[ \t]*", plain, re.IGNORECASE)
    if match is None:
        return None
    rest = plain[match.end() :]
    first, _, after = rest.partition("\n")
    if first.strip():
        # The list ends with its line or its sentence; names contain dots, but never ". ".
        listed = re.split(r"\.(?:\s|$)", first, maxsplit=1)[0]
        raw = re.split(r",|\s+and\s+|\s+or\s+", listed)
    else:  # "Available sorts are:" followed by a bullet list
        raw = []
        for line in after.split("\n"):
            if not line.strip():
                if raw:
                    break
                continue
            if not BULLET_RE.match(line):
                break
            raw.append(BULLET_RE.sub("", line))
    names: list[str] = []
    for item in raw:
        item = item.strip().strip("'\"*").rstrip(".").strip()
        if not item:
            continue
        if item.lower() == "none" and len(raw) == 1:
            return []
        if not (NAME_RE.fullmatch(item.removeprefix("-")) or _WILDCARD_SORT_RE.fullmatch(item)):
            return None
        item = item.removeprefix("-")
        if item not in names:
            names.append(item)
    return names or None


def parse_sorts(text: str | None) -> tuple[list[str], bool] | None:
    """The sort keys a ``sort`` description lists, and whether ``computed_fields.<alias>`` is one.

    >>> parse_sorts("Available sorts are title, created_at, computed_fields.<alias>.\\nYou can ...")
    (['title', 'created_at'], True)

    ``None`` when the text lists no sorts in a form this parser reads.
    """
    names = _available(text, "sorts?")
    if names is None:
        return None
    computed = any(_COMPUTED_SORT_RE.fullmatch(n) for n in names)
    return [n for n in names if not _WILDCARD_SORT_RE.fullmatch(n)], computed


def parse_sort_prefixes(text: str | None) -> list[str]:
    """The families of sort keys a ``sort`` description lists by placeholder, other than computed
    fields: ``"Available sorts are title, custom_fields.<alias>."`` → ``["custom_fields."]``."""
    names = _available(text, "sorts?") or []
    prefixes = [m.group("prefix") for n in names if (m := _WILDCARD_SORT_RE.fullmatch(n))]
    return [p for p in dict.fromkeys(prefixes) if p != "computed_fields."]


def parse_includes(text: str | None) -> list[str] | None:
    """The relations an ``include`` description lists, e.g. ``["external_costs", "line_items"]``.

    ``None`` when the text lists none in a form this parser reads.
    """
    names = _available(text, "includes?")
    if names is None or any(_WILDCARD_SORT_RE.fullmatch(n) for n in names):
        return None
    return names


# -- computed fields --------------------------------------------------------------------------

_COMPUTED_HEADING_RE = re.compile(r"allowed\s+relations\s+for\s+computed[_ ]fields[^\n]*", re.IGNORECASE)
_COMPUTED_ENTRY_RE = re.compile(
    rf"(?P<name>{NAME})\s*(?:\(\s*(?:→|->|=>)\s*(?P<target>[^()]*?)\s*\))?\s*:\s*"
    r"(?:aggregates?\s*:\s*)?(?P<aggs>[^;]*?)\s*(?:;.*)?\.?",
    re.IGNORECASE,
)


def parse_computed_relations(text: str | None) -> list[ComputedRelation] | None:
    """The relations ``computed_fields[alias]`` may aggregate over, from the list after
    "Allowed relations for computed_fields", e.g.
    ``- line_items (→ lineItems): aggregates: count, sum, avg, min, max; coalesce default: 0``.

    ``None`` when there is no such list or an entry cannot be read.
    """
    if not text:
        return None
    plain = plain_text(text).replace("\r\n", "\n")
    heading = _COMPUTED_HEADING_RE.search(plain)
    if heading is None:
        return None
    relations: list[ComputedRelation] = []
    for line in plain[heading.end() :].split("\n"):
        if not line.strip():
            if relations:
                break
            continue
        if not BULLET_RE.match(line):
            break
        m = _COMPUTED_ENTRY_RE.fullmatch(BULLET_RE.sub("", line).strip())
        if m is None:
            return None
        aggregates = [a.strip().rstrip(".").lower() for a in re.split(r"[\s,]+", m.group("aggs"))]
        aggregates = [a for a in aggregates if a]
        if not aggregates:
            return None
        relations.append(ComputedRelation(m.group("name"), frozenset(aggregates), m.group("target") or None))
    return relations or None


# -- one operation ----------------------------------------------------------------------------


def _description(param: Mapping[str, Any]) -> str:
    text = param.get("description")
    if not text:
        schema = param.get("schema")
        text = schema.get("description") if isinstance(schema, Mapping) else None
    return text if isinstance(text, str) else ""


def parse_operation(
    operation_id: str, parameters: Sequence[Mapping[str, Any]]
) -> tuple[Capabilities | None, list[str]]:
    """The :class:`Capabilities` of one operation from its (resolved) OpenAPI parameters.

    ``None`` when the operation has none of ``sort``, ``include``, ``filter`` and
    ``computed_fields[...]``. A parameter whose prose cannot be read is listed in
    ``unchecked`` and named in a warning; every warning starts with the operation id.
    """
    found: dict[str, Mapping[str, Any]] = {}
    for param in parameters:
        if not isinstance(param, Mapping) or param.get("in", "query") != "query":
            continue
        name = param.get("name")
        if not isinstance(name, str):
            continue
        key = "computed_fields" if name.startswith("computed_fields[") else name
        if key in {"sort", "include", "filter", "computed_fields"}:
            found.setdefault(key, param)
    if not found:
        return None, []

    warnings: list[str] = []
    unchecked: set[str] = set()
    sorts: list[str] = []
    sorts_computed = False
    sort_prefixes: list[str] = []
    includes: list[str] = []
    fields: list[FilterField] = []
    relations: list[ComputedRelation] = []

    if "sort" in found:
        parsed_sorts = parse_sorts(_description(found["sort"]))
        if parsed_sorts is None:
            unchecked.add("sort")
            warnings.append(
                f"{operation_id}: could not parse the available sorts; its sort parameter stays unchecked"
            )
        else:
            sorts, sorts_computed = parsed_sorts
            sort_prefixes = parse_sort_prefixes(_description(found["sort"]))
            if sorts_computed and "computed_fields" not in found:
                warnings.append(
                    f"{operation_id}: sort offers computed_fields.<alias>, "
                    "but the operation has no computed_fields parameter"
                )
    if "include" in found:
        parsed_includes = parse_includes(_description(found["include"]))
        if parsed_includes is None:
            unchecked.add("include")
            warnings.append(
                f"{operation_id}: could not parse the available includes; "
                "its include parameter stays unchecked"
            )
        else:
            includes = parsed_includes
    if "filter" in found:
        table = filter_table(_description(found["filter"]))
        if table is None:
            unchecked.add("filter")
            warnings.append(
                f"{operation_id}: could not parse the filter table; its filter parameter stays untyped"
            )
        else:
            fields, notes = table
            warnings.extend(f"{operation_id}: {note}" for note in notes)
    if "computed_fields" in found:
        parsed_relations = parse_computed_relations(_description(found["computed_fields"]))
        if parsed_relations is None:
            unchecked.add("computed_fields")
            warnings.append(
                f"{operation_id}: could not parse the allowed relations for computed_fields; "
                "computed fields stay unchecked"
            )
        else:
            relations = parsed_relations

    caps = Capabilities(
        operation=operation_id,
        sorts=frozenset(sorts),
        sort_prefixes=frozenset(sort_prefixes),
        includes=frozenset(includes),
        fields=tuple(fields),
        computed_relations=tuple(relations),
        sorts_computed=sorts_computed,
        unchecked=frozenset(unchecked),
    )
    return caps, warnings
