"""A list call's arguments as one typed value, :class:`ListArgs`, and the one place they are checked.

Generated list methods put the caller's ``sort``, ``include``, ``filter``, ``computed_fields``,
page size and any other query parameters into a :class:`ListArgs`; a partitioned scan narrows it
per partition (:meth:`ListArgs.narrowed`); the client encodes it once per listing
(:meth:`ListArgs.encode`), checking it against the operation's
:class:`~.capabilities.Capabilities` in :func:`prepare_list_params`. An operation that documents
no table is checked against :meth:`Capabilities.undocumented`, which still checks what needs no
table (computed-field aliases and their types).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NewType

from .encoding import flatten_query
from .errors import InvalidRequestError
from .filters.computed import Computed, check_alias, computed_fields_params
from .filters.encode import and_, encode_filter

if TYPE_CHECKING:
    from .capabilities import Capabilities
    from .filters.tree import Filter

__all__ = ["ListArgs", "SortKey", "asc", "desc", "prepare_list_params"]

_NO_EXTRAS: Mapping[str, Any] = MappingProxyType({})


@dataclasses.dataclass(frozen=True, slots=True)
class ListArgs:
    """What a list call asks for: sort, include, filter, computed fields, page size, other parameters.

    ``extras`` holds the operation's other query parameters by their API names (``find_by``);
    ``None`` values are left out. Immutable: a scan derives each partition's arguments with
    :meth:`narrowed` instead of rewriting wire keys.

    Example::

        ListArgs(sort=["-date_of_invoice"], filter=F("status") == "booked", page_size=100)
    """

    sort: str | Sequence[str] | None = None
    include: str | Sequence[str] | None = None
    filter: Filter | str | None = None
    computed_fields: Mapping[str, Computed | str] | None = None
    page_size: int | None = None
    extras: Mapping[str, Any] = dataclasses.field(default_factory=lambda: _NO_EXTRAS)

    def narrowed(self, condition: Filter | None, *, sort: Sequence[str]) -> ListArgs:
        """These arguments for a part of the listing: the filter and-ed with ``condition``, in ``sort`` order.

        ``condition=None`` narrows nothing. A DSL-string filter cannot be combined with a condition
        and raises :class:`InvalidRequestError`.
        """
        return dataclasses.replace(self, filter=and_(self.filter, condition), sort=tuple(sort))

    def encode(self, capabilities: Capabilities, page_size_param: str) -> list[tuple[str, str]]:
        """The query pairs, checked against ``capabilities`` (raises :class:`InvalidRequestError`)."""
        params: dict[str, Any] = prepare_list_params(
            capabilities,
            sort=self.sort,
            include=self.include,
            filter=self.filter,
            computed_fields=self.computed_fields,
        )
        if self.page_size is not None:
            params[page_size_param] = self.page_size
        return flatten_query({**params, **self.extras})


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
