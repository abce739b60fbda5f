"""Render a :class:`Capabilities` as the Python expression that builds it, for the generated table."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from kanbert_async._core.capabilities import Capabilities, FilterField

__all__ = ["render_capabilities"]

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
