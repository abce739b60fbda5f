"""A list call's arguments: sort keys, and the one check of sort, include, filter and computed fields.

Every list call's ``sort``, ``include``, ``filter`` and ``computed_fields`` pass through
:func:`prepare_list_params` against the operation's :class:`~.capabilities.Capabilities`; an
operation that documents none is checked against :meth:`Capabilities.unchecked`, which still
checks what needs no table (computed-field aliases and their types).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NewType

from .capabilities import Capabilities
from .errors import InvalidRequestError
from .filters.computed import Computed, check_alias, computed_fields_params
from .filters.encode import encode_filter
from .filters.tree import Filter

__all__ = ["SortKey", "asc", "desc", "prepare_list_params"]


#: A sort key built by :func:`asc` or :func:`desc`; list methods accept it besides their literal keys.
SortKey = NewType("SortKey", str)


def _sort_name(name: object, fn: str) -> str:
    if not isinstance(name, str) or not name.strip() or name.strip().startswith("-") or "," in name:
        raise InvalidRequestError(f"{fn}() takes one sort field name, got {name!r}")
    return name.strip()


def asc(name: str) -> SortKey:
    """An ascending sort key, e.g. for a computed field: ``asc("computed_fields.items")``."""
    return SortKey(_sort_name(name, "asc"))


def desc(name: str) -> SortKey:
    """A descending sort key: ``desc("created_at")`` → ``"-created_at"``."""
    return SortKey(f"-{_sort_name(name, 'desc')}")


def prepare_list_params(
    caps: Capabilities,
    *,
    sort: str | Sequence[str] | None = None,
    include: str | Sequence[str] | None = None,
    filter: Filter | str | None = None,
    computed_fields: Mapping[str, Computed | str] | None = None,
) -> dict[str, str]:
    """Check a list call's arguments against the operation and return its query parameters.

    Gives ``sort``, ``include``, ``filter`` and ``computed_fields[alias]`` entries for what was
    given; raises :class:`InvalidRequestError` naming the operation and what it allows.

    Example::

        prepare_list_params(caps, sort=["-date_of_invoice"], include="line_items",
                            filter=F("status") == "paid")
        # {"sort": "-date_of_invoice", "include": "line_items",
        #  "filter": '[{"field":"status","op":"eq","value":"paid"}]'}
    """
    params: dict[str, str] = {}
    declared: tuple[str, ...] = ()
    if computed_fields:
        for alias, comp in computed_fields.items():
            check_alias(alias)
            if isinstance(comp, Computed):
                comp.check(caps, alias)
            elif not caps.computed_relations and "computed_fields" not in caps.unchecked:
                raise InvalidRequestError(
                    f"{caps.operation}: computed field '{alias}': the operation offers no computed fields."
                )
        params.update(computed_fields_params(computed_fields))
        declared = tuple(computed_fields)
    if sort is not None:
        value = caps.check_sort(sort, computed=declared)
        if value:
            params["sort"] = value
    if include is not None:
        value = caps.check_include(include)
        if value:
            params["include"] = value
    if filter is not None:
        if not isinstance(filter, str):
            caps.check_filter(filter, computed=declared)
        encoded = encode_filter(filter)
        if encoded is not None:
            params["filter"] = encoded
    return params
