"""Read an operation's filter table — ``| Field | Type | Operators |`` in the ``filter`` parameter's
prose — into :class:`FilterField` values (build time only; see :mod:`codegen.capabilities`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from codegen.prose import NAME, plain_text
from kanbert_async._core.capabilities import (
    OPERATOR_ALIASES,
    RELATION_OPERATORS,
    SCALAR_OPERATORS,
    FilterField,
)

__all__ = ["DEFAULT_OPERATORS", "filter_table", "parse_filter_table"]

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
    cells = [plain_text(c).strip().strip("*_").lower() for c in _cells(line)]
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
    text = plain_text(raw).lower()
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
    rf"(?P<name>{NAME})(?::[A-Za-z_]\w*)?\s*(?:\(\s*(?P<paren>[^()\n]*?)\s*\)|:\s*(?P<colon>\S.*?))?\s*\.?"
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
    name_cell = plain_text(cells[fi]).strip().strip("*_").strip()
    m = re.fullmatch(rf"({NAME})(?::\s*[A-Za-z_][\w<>]*)?\.?", name_cell)
    if m is None:
        return None
    name = m.group(1)
    if name != name_cell.rstrip("."):
        # Codegen correction: the published table writes some fields with their type glued on
        # ("company.company_name:string"); the API's field is the bare name.
        notes.append(f"filter field '{name_cell}' read as '{name}'")
    type_cell = plain_text(cells[ti]).strip()
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


def filter_table(text: str | None) -> tuple[list[FilterField], list[str]] | None:
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
    parsed = filter_table(text)
    return None if parsed is None else parsed[0]
