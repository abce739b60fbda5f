"""What an export covers: the filter sent, in words for the summary, and warnings about values
that can match nothing (``status eq "bookd"``: not one of the enum's values)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from enum import Enum
from typing import Any, Literal

from .. import models
from ..filters import And, Condition, Count, F, Filter, Or, and_

__all__ = ["ARCHIVED_MODES", "Archived", "describe", "enum_warnings", "export_filter", "mentions"]

Archived = Literal["with", "only", "without"]
#: ``--archived``: archived records included (the default of an export), only them, or left out
#: (the API's own default).
ARCHIVED_MODES: tuple[Archived, ...] = ("with", "only", "without")
ARCHIVED_FIELD = "archived"


def conditions(node: Filter | None) -> Iterator[Condition]:
    """Every condition of a filter tree, relation conditions' nested ones included."""
    if isinstance(node, And | Or):
        for child in node.nodes:
            yield from conditions(child)
    elif isinstance(node, Condition):
        yield node
        nested = node.value.where if isinstance(node.value, Count) else node.value
        if isinstance(nested, And | Or | Condition):
            yield from conditions(nested)


def mentions(node: Filter | None, field: str) -> bool:
    """Whether the filter has a condition on ``field``."""
    return any(c.field == field for c in conditions(node))


def export_filter(
    user: Filter | None,
    date_field: str | None,
    since: dt.date | None,
    until: dt.date | None,
    *,
    archived: Archived | None,
) -> Filter | None:
    """The user's filter, the date range and the archived mode as one tree (archived at the top
    level, where the API reads it)."""
    tree = user
    if since is not None:
        assert date_field is not None
        tree = _and(tree, F(date_field) >= since)
    if until is not None:
        assert date_field is not None
        tree = _and(tree, F(date_field) <= until)
    if archived is not None:
        tree = _and(tree, F(ARCHIVED_FIELD) == archived)
    return tree


def _and(a: Filter | None, b: Filter) -> Filter:
    combined = and_(a, b)
    assert combined is not None and not isinstance(combined, str)
    return combined


def describe(
    filter_text: str | None,
    date_field: str | None,
    since: dt.date | None,
    until: dt.date | None,
    *,
    archived: Archived | None,
    records: str,
) -> list[str]:
    """What the export leaves out, one phrase per restriction (empty: nothing is left out)."""
    phrases = []
    if filter_text:
        phrases.append(f"only {records} matching --filter '{filter_text}'")
    if since is not None or until is not None:
        low = since.isoformat() if since else "the first"
        high = until.isoformat() if until else "the last"
        phrases.append(f"only {date_field} from {low} to {high} (--since/--until)")
    if archived == "without":
        phrases.append(f"archived {records} left out (--archived without)")
    elif archived == "only":
        phrases.append(f"only archived {records} (--archived only)")
    return phrases


def _enum_values(capabilities: Any, field: str) -> tuple[str, ...]:
    spec = capabilities.filter_fields.get(field) if capabilities is not None else None
    if spec is None or spec.type != "enum":
        return ()
    if spec.enum_values:
        return tuple(spec.enum_values)
    enum = getattr(models, spec.type_arg or "", None)
    if isinstance(enum, type) and issubclass(enum, Enum):
        return tuple(str(member.value) for member in enum)
    return ()


def enum_warnings(user: Filter | None, capabilities: Any) -> list[str]:
    """A warning for each compared value that is not one of its enum field's values."""
    warnings = []
    for cond in conditions(user):
        if cond.op not in ("eq", "ne", "neq", "in", "nin", "notin"):
            continue
        allowed = _enum_values(capabilities, cond.field)
        if not allowed:
            continue
        values = cond.value if isinstance(cond.value, tuple) else (cond.value,)
        for value in values:
            text = value.value if isinstance(value, Enum) else value
            if text is not None and str(text) not in allowed:
                effect = "excludes nothing" if cond.op in ("ne", "neq", "nin", "notin") else "matches nothing"
                warnings.append(
                    f"--filter: {str(text)!r} is not a value of {cond.field} ({', '.join(allowed)}), "
                    f"so that condition {effect}"
                )
    return warnings
