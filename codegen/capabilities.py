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

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kanbert_async._core.capabilities import (
    OPERATOR_ALIASES,
    RELATION_OPERATORS,
    SCALAR_OPERATORS,
    Capabilities,
    ComputedRelation,
    FilterField,
)

__all__ = [
    "DEFAULT_OPERATORS",
    "parse_computed_relations",
    "parse_filter_table",
    "parse_includes",
    "parse_operation",
    "parse_sort_prefixes",
    "parse_sorts",
    "render_capabilities",
]

_NAME = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_NAME_RE = re.compile(_NAME)
_BR_RE = re.compile(r"<br\s*/?>", re.IGNORECASE)
_MD_ESCAPE_RE = re.compile(r"\\([\\`*_{}\[\]<>()#+\-.!|])")
_BULLET_RE = re.compile(r"^\s*(?:[-•*+]|\d+[.)])\s+")

_STRING_OPS = "in nin notin eq ne neq contains like startswith endswith isnull isnotnull notnull"
_ORDERED_OPS = "eq ne neq lt lte le gt gte ge in nin notin isnull isnotnull notnull"
_ID_OPS = "eq ne neq in nin notin isnull isnotnull notnull"
_ENUM_OPS = "eq ne neq in nin notin"

#: The operators the published tables list for each type, used where a table gives none: for a
#: relation's sub-fields (listed with a type only) and for empty operator cells. Inferred from the
#: outgoing-invoice tables, where every field of a type lists exactly these.
DEFAULT_OPERATORS: Mapping[str, frozenset[str]] = {
    "string": frozenset(_STRING_OPS.split()),
    "date": frozenset(_ORDERED_OPS.split()),
    "datetime": frozenset(_ORDERED_OPS.split()),
    "currency": frozenset(_ORDERED_OPS.split()) | {"contains", "like", "startswith", "endswith"},
    "float": frozenset(_ORDERED_OPS.split()),
    "integer": frozenset(_ORDERED_OPS.split()),
    "boolean": frozenset(["eq", "ne", "neq", "isnull", "isnotnull", "notnull"]),
    "enum": frozenset(_ENUM_OPS.split()),
    "id": frozenset(_ID_OPS.split()),
    "relation": RELATION_OPERATORS,
    # Unknown type: nothing is known, so nothing is refused.
    "unknown": SCALAR_OPERATORS | frozenset(OPERATOR_ALIASES),
}

_KNOWN_OPERATORS = SCALAR_OPERATORS | RELATION_OPERATORS | frozenset(OPERATOR_ALIASES)

# Spellings of a type that mean one of the SDK's types.
_TYPE_SYNONYMS = {
    "string": "string",
    "str": "string",
    "date": "date",
    "datetime": "datetime",
    "date-time": "datetime",
    "date_time": "datetime",
    "currency": "currency",
    "float": "float",
    "integer": "integer",
    "int": "integer",
    "boolean": "boolean",
    "bool": "boolean",
    "enum": "enum",
    "id": "id",
    "relation": "relation",
}

_SYMBOL_OPERATORS = {
    "=": "eq", "==": "eq", "!=": "ne", "<>": "ne", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte",
}  # fmt: skip


def _plain(text: str) -> str:
    """Markdown/HTML inline markup removed: entities decoded, ``<br>`` as newlines, no backticks or bold."""
    text = _BR_RE.sub("\n", text)
    text = html.unescape(text)
    text = _MD_ESCAPE_RE.sub(r"\1", text)  # Markdown's backslash escapes: "\<alias\>" is "<alias>"
    return text.replace("`", "").replace("**", "")


# -- sorts and includes -----------------------------------------------------------------------

_COMPUTED_SORT_RE = re.compile(r"computed_fields\.(?:<\s*alias\s*>|\{\s*alias\s*\}|\*)", re.IGNORECASE)
#: A family of sort keys named by a placeholder: ``custom_fields.<alias>``, ``meta.{key}``, ``x.*``.
_WILDCARD_SORT_RE = re.compile(r"(?P<prefix>[A-Za-z_]\w*\.)(?:<\s*\w+\s*>|\{\s*\w+\s*\}|\*)")


def _available(text: str | None, noun: str) -> list[str] | None:
    if not text:
        return None
    plain = _plain(text)
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
            if not _BULLET_RE.match(line):
                break
            raw.append(_BULLET_RE.sub("", line))
    names: list[str] = []
    for item in raw:
        item = item.strip().strip("'\"*").rstrip(".").strip()
        if not item:
            continue
        if item.lower() == "none" and len(raw) == 1:
            return []
        if not (_NAME_RE.fullmatch(item.removeprefix("-")) or _WILDCARD_SORT_RE.fullmatch(item)):
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


# -- the filter table -------------------------------------------------------------------------

_SEPARATOR_RE = re.compile(r"^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)+\|?\s*$")
_PIPE_RE = re.compile(r"(?<!\\)\|")


@dataclass(frozen=True, slots=True)
class _Type:
    type: str
    arg: str | None = None
    values: tuple[str, ...] = ()


def _cells(row: str) -> list[str]:
    s = row.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    return [c.replace("\\|", "|").strip() for c in _PIPE_RE.split(s)]


def _header_columns(line: str) -> tuple[int, int, int, int] | None:
    if "|" not in line:
        return None
    cells = [_plain(c).strip().strip("*_").lower() for c in _cells(line)]
    field = next((i for i, c in enumerate(cells) if c in {"field", "fields", "name"}), None)
    typ = next((i for i, c in enumerate(cells) if c == "type"), None)
    ops = next((i for i, c in enumerate(cells) if "operator" in c), None)
    if field is None or typ is None or ops is None:
        return None
    return field, typ, ops, len(cells)


def _table_rows(lines: list[str], ncols: int) -> list[str] | None:
    rows: list[str] = []
    buf: str | None = None
    for line in lines:
        stripped = line.strip()
        if buf is None:
            if not stripped or "|" not in stripped:
                break
            buf = stripped
        else:
            # A cell carrying a newline (a relation's sub-field list): the row goes on.
            buf += "\n" + stripped
        pipes = len(_PIPE_RE.findall(buf))
        if buf.startswith("|"):
            done = pipes >= ncols + 1 and buf.endswith("|") and not buf.endswith("\\|")
        else:
            done = pipes >= ncols - 1
        if done:
            rows.append(buf)
            buf = None
    if buf is not None:
        return None  # a row that never closed: the table is cut or garbled
    return rows


def _parse_type(raw: str) -> _Type:
    t = raw.strip().strip("*_").strip().rstrip(".").strip()
    m = re.fullmatch(r"(enum|id)\s*<\s*([A-Za-z_][\w.]*)\s*>", t, re.IGNORECASE)
    if m:
        return _Type(m.group(1).lower(), m.group(2))
    m = re.fullmatch(r"enum\s*(?::|\(|\[)\s*(.*?)\s*[)\]]?", t, re.IGNORECASE | re.DOTALL)
    if m:
        values = [v.strip().strip("'\"").rstrip(".").strip() for v in re.split(r"[,|/]", m.group(1))]
        return _Type("enum", None, tuple(v for v in values if v))
    canonical = _TYPE_SYNONYMS.get(t.lower())
    if canonical is not None:
        return _Type(canonical)
    return _Type("unknown", t or None)


def _parse_operators(raw: str) -> list[str]:
    text = _plain(raw).lower()
    text = re.sub(r"\bis\s+not\s+null\b", "isnotnull", text)
    text = re.sub(r"\bis\s+null\b", "isnull", text)
    text = re.sub(r"\bnot\s+in\b", "nin", text)
    out: list[str] = []
    for token in re.split(r"[\s,;]+", text):
        token = token.strip().strip("'\"*").rstrip(".")
        token = _SYMBOL_OPERATORS.get(token, token)
        if token and token not in out:
            out.append(token)
    return out


def _split_entries(text: str) -> list[str]:
    """Split a sub-field list on newlines, bullets, commas and semicolons outside brackets."""
    out: list[str] = []
    buf: list[str] = []
    depth = 0
    for i, ch in enumerate(text):
        if ch in "(<[":
            depth += 1
        elif ch in ")>]":
            depth = max(0, depth - 1)
        bullet = ch in "-*+" and (i == 0 or text[i - 1].isspace()) and text[i + 1 : i + 2].isspace()
        if depth == 0 and (ch in "\n,;•" or bullet):
            out.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    out.append("".join(buf))
    return [e.strip() for e in out if e.strip()]


_SUB_FIELD_RE = re.compile(
    rf"(?P<name>{_NAME})(?::[A-Za-z_]\w*)?\s*(?:\(\s*(?P<paren>[^()\n]*?)\s*\)|:\s*(?P<colon>\S.*?))?\s*\.?"
)


def _parse_sub_fields(text: str, owner: str, notes: list[str]) -> list[FilterField] | None:
    fields: list[FilterField] = []
    for entry in _split_entries(text):
        m = _SUB_FIELD_RE.fullmatch(entry)
        if m is None:
            return None
        raw_type = m.group("paren") or m.group("colon") or ""
        parsed = _parse_type(raw_type)
        if parsed.type == "unknown":
            notes.append(
                f"sub-field '{m.group('name')}' of relation '{owner}' has "
                + (f"unknown type '{raw_type}'" if raw_type else "no type")
                + "; kept as 'unknown'"
            )
        # Sub-fields are listed without operators: they get those the tables give their type.
        operators = DEFAULT_OPERATORS[parsed.type]
        fields.append(FilterField(m.group("name"), parsed.type, operators, parsed.arg, parsed.values))
    return fields


def _parse_row(cells: list[str], cols: tuple[int, int, int], notes: list[str]) -> FilterField | None:
    fi, ti, oi = cols
    name_cell = _plain(cells[fi]).strip().strip("*_").strip()
    m = re.fullmatch(rf"({_NAME})(?::\s*[A-Za-z_][\w<>]*)?\.?", name_cell)
    if m is None:
        return None
    name = m.group(1)
    if name != name_cell.rstrip("."):
        # Codegen correction: the published table writes some fields with their type glued on
        # ("company.company_name:string"); the API's field is the bare name.
        notes.append(f"filter field '{name_cell}' read as '{name}'")
    type_cell = _plain(cells[ti]).strip()
    first, _, rest = type_cell.partition("\n")
    relation = re.fullmatch(r"\s*\**relation\**\s*:?\s*(.*)", first, re.IGNORECASE)
    operators = _parse_operators(cells[oi])
    unknown_ops = [op for op in operators if op not in _KNOWN_OPERATORS]
    if unknown_ops:
        notes.append(f"filter field '{name}' lists unknown operators {', '.join(unknown_ops)}; kept")
    if relation is not None:
        # Codegen correction: sub-field types "(id)" and "(enum)" come without the <Name> the
        # top-level rows carry; they are kept as plain id / enum.
        subs = _parse_sub_fields(relation.group(1) + "\n" + rest, name, notes)
        if subs is None:
            return None
        if not operators:
            notes.append(f"relation '{name}' lists no operators; assuming any, all, none, count")
            operators = sorted(RELATION_OPERATORS)
        return FilterField(name, "relation", frozenset(operators), sub_fields=tuple(subs))
    if rest.strip():
        return None  # a second line in a non-relation type cell: not a layout this parser knows
    parsed = _parse_type(first)
    if parsed.type == "unknown":
        shown = f"unknown type '{parsed.arg}'" if parsed.arg else "no type"
        notes.append(f"filter field '{name}' has {shown}; kept as 'unknown'")
    if not operators:
        notes.append(f"filter field '{name}' lists no operators; assuming those of type '{parsed.type}'")
        return FilterField(name, parsed.type, DEFAULT_OPERATORS[parsed.type], parsed.arg, parsed.values)
    return FilterField(name, parsed.type, frozenset(operators), parsed.arg, parsed.values)


def _merge(fields: list[FilterField], new: FilterField, notes: list[str]) -> None:
    for i, old in enumerate(fields):
        if old.name == new.name:
            if (old.type, old.type_arg) == (new.type, new.type_arg):
                fields[i] = FilterField(
                    old.name, old.type, old.operators | new.operators, old.type_arg,
                    old.enum_values or new.enum_values, old.sub_fields or new.sub_fields,
                )  # fmt: skip
                notes.append(f"filter field '{new.name}' is listed twice; operators merged")
            else:
                notes.append(f"filter field '{new.name}' is listed twice with other types; kept the first")
            return
    fields.append(new)


def _filter_table(text: str | None) -> tuple[list[FilterField], list[str]] | None:
    if not text:
        return None
    lines = text.replace("\r\n", "\n").split("\n")
    for i, line in enumerate(lines[:-1]):
        header = _header_columns(line)
        if header is None or not _SEPARATOR_RE.match(lines[i + 1]):
            continue
        fi, ti, oi, ncols = header
        rows = _table_rows(lines[i + 2 :], ncols)
        if not rows:
            return None
        notes: list[str] = []
        fields: list[FilterField] = []
        for row in rows:
            cells = _cells(row)
            if len(cells) <= max(fi, ti, oi):
                return None
            parsed = _parse_row(cells, (fi, ti, oi), notes)
            if parsed is None:
                return None  # one unreadable row makes the whole table untrusted
            _merge(fields, parsed, notes)
        return fields, notes
    return None


def parse_filter_table(text: str | None) -> list[FilterField] | None:
    """The filter fields of a ``filter`` description's Markdown table, in table order.

    ``None`` when no table can be found or any row cannot be read (a partial table would make
    the SDK refuse filters on the fields it missed).
    """
    parsed = _filter_table(text)
    return None if parsed is None else parsed[0]


# -- computed fields --------------------------------------------------------------------------

_COMPUTED_HEADING_RE = re.compile(r"allowed\s+relations\s+for\s+computed[_ ]fields[^\n]*", re.IGNORECASE)
_COMPUTED_ENTRY_RE = re.compile(
    rf"(?P<name>{_NAME})\s*(?:\(\s*(?:→|->|=>)\s*(?P<target>[^()]*?)\s*\))?\s*:\s*"
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
    plain = _plain(text).replace("\r\n", "\n")
    heading = _COMPUTED_HEADING_RE.search(plain)
    if heading is None:
        return None
    relations: list[ComputedRelation] = []
    for line in plain[heading.end() :].split("\n"):
        if not line.strip():
            if relations:
                break
            continue
        if not _BULLET_RE.match(line):
            break
        m = _COMPUTED_ENTRY_RE.fullmatch(_BULLET_RE.sub("", line).strip())
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
        table = _filter_table(_description(found["filter"]))
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


# -- rendering --------------------------------------------------------------------------------

_WIDTH = 110


@dataclass(frozen=True, slots=True)
class _Call:
    func: str
    args: tuple[_Src, ...]
    kwargs: tuple[tuple[str, _Src], ...] = ()


@dataclass(frozen=True, slots=True)
class _Seq:
    open: str
    close: str
    items: tuple[_Src, ...]


_Src = _Call | _Seq | str


def _flat(node: _Src) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, _Seq):
        inner = ", ".join(_flat(i) for i in node.items)
        if node.open == "(" and len(node.items) == 1:
            inner += ","
        return f"{node.open}{inner}{node.close}"
    parts = [_flat(a) for a in node.args] + [f"{k}={_flat(v)}" for k, v in node.kwargs]
    return f"{node.func}({', '.join(parts)})"


def _pretty(node: _Src, indent: int, used: int) -> str:
    """``node`` as source; ``used`` is how much of the current line is already taken."""
    flat = _flat(node)
    if isinstance(node, str) or used + len(flat) + 1 <= _WIDTH:  # + 1: the trailing comma
        return flat
    pad = " " * (indent + 4)
    if isinstance(node, _Seq) and all(isinstance(i, str) for i in node.items):
        # A long run of names (operators, sorts): fill lines rather than one name per line.
        lines: list[str] = []
        line = pad
        for item in node.items:
            assert isinstance(item, str)
            if line != pad and len(line) + len(item) + 1 > _WIDTH:
                lines.append(line.rstrip())
                line = pad
            line += f"{item}, "
        lines.append(line.rstrip())
        return node.open + "\n" + "\n".join(lines) + "\n" + " " * indent + node.close
    if isinstance(node, _Seq):
        items = [f"{pad}{_pretty(i, indent + 4, indent + 4)}," for i in node.items]
        return node.open + "\n" + "\n".join(items) + "\n" + " " * indent + node.close
    parts = [f"{pad}{_pretty(a, indent + 4, indent + 4)}," for a in node.args]
    parts += [f"{pad}{k}={_pretty(v, indent + 4, indent + 5 + len(k))}," for k, v in node.kwargs]
    return f"{node.func}(\n" + "\n".join(parts) + "\n" + " " * indent + ")"


def _strings(values: Iterable[str]) -> _Src:
    items = tuple(repr(v) for v in sorted(values))
    return _Seq("frozenset({", "})", items) if items else "frozenset()"


def _field_src(f: FilterField) -> _Call:
    kwargs: list[tuple[str, _Src]] = []
    if f.type_arg is not None:
        kwargs.append(("type_arg", repr(f.type_arg)))
    if f.enum_values:
        kwargs.append(("enum_values", _Seq("(", ")", tuple(repr(v) for v in f.enum_values))))
    if f.sub_fields:
        subs = sorted(f.sub_fields, key=lambda s: s.name)
        kwargs.append(("sub_fields", _Seq("(", ")", tuple(_field_src(s) for s in subs))))
    return _Call("FilterField", (repr(f.name), repr(f.type), _strings(f.operators)), tuple(kwargs))


def render_capabilities(caps: Capabilities, indent: int = 4) -> str:
    """A Python expression that builds ``caps``, for the generated capabilities module.

    Deterministic: every collection is written sorted, defaults are left out, and lines wrap at
    110 columns with continuation lines indented from ``indent`` (the column of the entry in the
    generated table). ``eval`` of it with the three classes in scope gives back an equal value.
    """
    kwargs: list[tuple[str, _Src]] = [("operation", repr(caps.operation))]
    if caps.sorts:
        kwargs.append(("sorts", _strings(caps.sorts)))
    if caps.sort_prefixes:
        kwargs.append(("sort_prefixes", _strings(caps.sort_prefixes)))
    if caps.includes:
        kwargs.append(("includes", _strings(caps.includes)))
    if caps.fields:
        fields = sorted(caps.fields, key=lambda f: f.name)
        kwargs.append(("fields", _Seq("(", ")", tuple(_field_src(f) for f in fields))))
    if caps.computed_relations:
        rels = sorted(caps.computed_relations, key=lambda r: r.name)
        items: list[_Src] = []
        for r in rels:
            args: tuple[_Src, ...] = (repr(r.name), _strings(r.aggregates))
            if r.target is not None:
                args += (repr(r.target),)
            items.append(_Call("ComputedRelation", args))
        kwargs.append(("computed_relations", _Seq("(", ")", tuple(items))))
    if caps.sorts_computed:
        kwargs.append(("sorts_computed", "True"))
    if caps.unchecked:
        kwargs.append(("unchecked", _strings(caps.unchecked)))
    return _pretty(_Call("Capabilities", (), tuple(kwargs)), indent, indent)
