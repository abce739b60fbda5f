"""What a list operation accepts: its sorts, includes, filter fields and computed-field relations.

These are plain runtime values. Codegen reads them out of the API description's prose (see
``codegen/capabilities.py``) and writes one :class:`Capabilities` per list operation into the
generated resources, where it is built once at import time. At call time it checks the caller's
``sort``, ``include``, ``filter`` and ``computed_fields`` before anything is sent, so a typo
fails here with the list of allowed values instead of as a bare HTTP 400.

A parameter whose prose codegen could not read is named in ``Capabilities.unchecked``: it is
passed through as given rather than checked against a guess.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from types import MappingProxyType

from .errors import InvalidRequestError
from .filters.operators import (
    COMPUTED_OPERATORS,
    OPERATOR_ALIASES,
    RELATION_OPERATORS,
    SCALAR_OPERATORS,
    canonical_operator,
)
from .filters.tree import And, Condition, Count, Filter, Or

# The operator vocabulary is re-exported: codegen reads filter tables in these terms.
__all__ = [
    "COMPUTED_PREFIX",
    "FIELD_TYPES",
    "OPERATOR_ALIASES",
    "RELATION_OPERATORS",
    "SCALAR_OPERATORS",
    "Capabilities",
    "ComputedRelation",
    "FilterField",
    "canonical_operator",
]

#: The types a filter field can have; "unknown" keeps a field whose documented type codegen
#: did not recognise (it is still checked by name and operator).
FIELD_TYPES = frozenset(
    {
        "string", "date", "datetime", "currency", "float", "integer", "boolean",
        "enum", "id", "relation", "unknown",
    }
)  # fmt: skip

#: Sorts and filters reference a computed field declared in the same call as ``computed_fields.<alias>``.
COMPUTED_PREFIX = "computed_fields."

_PARTITION_TYPE_RANK = {"datetime": 0, "date": 1, "currency": 2}


@dataclass(frozen=True, slots=True)
class FilterField:
    """One filterable field of a list operation, as its filter table documents it.

    ``type`` is one of :data:`FIELD_TYPES`; ``type_arg`` carries the ``Name`` of ``enum<Name>`` /
    ``id<Name>`` (for an ``unknown`` type: the type text as documented); ``enum_values`` the values
    of ``enum: a, b``; ``sub_fields`` the fields a ``relation``'s nested filter may use.

    Example::

        FilterField("title", "string", frozenset({"eq", "contains"}))
    """

    name: str
    type: str
    operators: frozenset[str]
    type_arg: str | None = None
    enum_values: tuple[str, ...] = ()
    sub_fields: tuple[FilterField, ...] = ()
    _canonical: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_canonical", frozenset(canonical_operator(op) for op in self.operators))
        if any(a.name > b.name for a, b in itertools.pairwise(self.sub_fields)):
            # Sorted so that equality (and codegen's rendering) does not depend on document order.
            object.__setattr__(self, "sub_fields", tuple(sorted(self.sub_fields, key=lambda f: f.name)))

    @property
    def is_relation(self) -> bool:
        """Whether conditions on this field are ``any``/``all``/``none``/``count`` over sub-fields."""
        return self.type == "relation"

    def allows(self, op: str) -> bool:
        """Whether ``op`` or an alias of it is allowed here: ``allows("le")`` ≡ ``allows("lte")``."""
        return canonical_operator(op) in self._canonical

    def sub_field_map(self) -> Mapping[str, FilterField]:
        """The relation's sub-fields by name (empty for a plain field)."""
        return {f.name: f for f in self.sub_fields}


@dataclass(frozen=True, slots=True)
class ComputedRelation:
    """A relation that ``computed_fields[alias]`` may aggregate over, and the aggregates it allows.

    ``target`` is the API's internal relation name (``line_items (→ lineItems)``), informational only.
    """

    name: str
    aggregates: frozenset[str]
    target: str | None = None


@dataclass(frozen=True, slots=True)
class Capabilities:
    """The sorts, includes, filter fields and computed fields one list operation accepts.

    An empty collection means the operation offers nothing there. ``unchecked`` names the
    parameters (``"sort"``, ``"include"``, ``"filter"``, ``"computed_fields"``) that the operation
    documents but whose prose codegen could not read: those are passed through as given.
    ``filter_fields`` maps each field's name to its :class:`FilterField`.

    Example::

        caps = Capabilities(
            "outgoingInvoices.index",
            sorts=frozenset({"title", "created_at"}),
            includes=frozenset({"line_items"}),
            fields=(FilterField("title", "string", frozenset({"eq", "contains"})),),
        )
        caps.check_sort(["-created_at", "title"])  # "-created_at,title"
    """

    operation: str
    sorts: frozenset[str] = frozenset()
    includes: frozenset[str] = frozenset()
    fields: tuple[FilterField, ...] = ()
    computed_relations: tuple[ComputedRelation, ...] = ()
    sorts_computed: bool = False
    unchecked: frozenset[str] = frozenset()
    #: Families of sort keys named by the caller: ``custom_fields.`` admits ``custom_fields.<alias>``.
    sort_prefixes: frozenset[str] = frozenset()
    filter_fields: Mapping[str, FilterField] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Kept sorted so that equality, hashing and codegen's rendering ignore document order.
        fields = self.fields
        if any(a.name > b.name for a, b in itertools.pairwise(fields)):
            fields = tuple(sorted(fields, key=lambda f: f.name))
            object.__setattr__(self, "fields", fields)
        rels = self.computed_relations
        if any(a.name > b.name for a, b in itertools.pairwise(rels)):
            object.__setattr__(self, "computed_relations", tuple(sorted(rels, key=lambda r: r.name)))
        object.__setattr__(self, "filter_fields", MappingProxyType({f.name: f for f in fields}))

    @staticmethod
    def undocumented(operation: str) -> Capabilities:
        """For an operation that documents none of its list parameters: each is passed through as
        given (only what needs no table is checked, such as computed-field aliases)."""
        return _undocumented(operation)

    # -- sort / include -------------------------------------------------------------------------

    def check_sort(self, values: str | Iterable[str], *, computed: Iterable[str] = ()) -> str:
        """Check sort keys and return the ``sort`` query value.

        ``values`` is a comma-separated string or a sequence; ``-name`` sorts descending;
        ``computed_fields.<alias>`` sorts by a computed field declared in the same call
        (``computed`` holds the declared aliases).

        Example: ``caps.check_sort(["-date_of_invoice", "title"])`` → ``"-date_of_invoice,title"``.
        """
        items = _split(values, "sort")
        if "sort" in self.unchecked:
            return ",".join(items)
        declared = frozenset(computed)
        for item in items:
            name = item[1:] if item.startswith("-") else item
            if name.startswith(COMPUTED_PREFIX):
                if not self.sorts_computed:
                    raise self._error(f"cannot sort by '{name}': the operation has no computed-field sorts")
                self._check_declared(name[len(COMPUTED_PREFIX) :], declared, "sort")
                continue
            if name in self.sorts or any(
                name.startswith(prefix) and len(name) > len(prefix) for prefix in self.sort_prefixes
            ):
                continue
            if name in declared:
                raise self._error(
                    f"sort key '{name}' is a computed field alias; write it as '{COMPUTED_PREFIX}{name}'"
                )
            allowed = sorted(self.sorts) + [f"{p}<alias>" for p in sorted(self.sort_prefixes)]
            allowed += [f"{COMPUTED_PREFIX}<alias>"] if self.sorts_computed else []
            raise self._error(f"unknown sort key '{name}'{_suggest(name, self.sorts)}", allowed, "Allowed")
        return ",".join(items)

    def check_include(self, values: str | Iterable[str]) -> str:
        """Check relation names to include and return the ``include`` query value (duplicates dropped).

        Example: ``caps.check_include(["line_items", "discounts"])`` → ``"line_items,discounts"``.
        """
        items = list(dict.fromkeys(_split(values, "include")))
        if "include" in self.unchecked:
            return ",".join(items)
        for name in items:
            if name not in self.includes:
                if not self.includes:
                    raise self._error(f"cannot include '{name}': the operation offers no includes")
                msg = f"unknown include '{name}'{_suggest(name, self.includes)}"
                raise self._error(msg, sorted(self.includes), "Allowed")
        return ",".join(items)

    # -- filter ---------------------------------------------------------------------------------

    def check_filter(self, node: Filter | str | None, *, computed: Iterable[str] = ()) -> None:
        """Check every condition of a filter tree against this operation's filter table.

        Unknown fields, operators a field does not allow, and relation conditions that do not fit
        the relation's sub-fields raise :class:`InvalidRequestError`. ``computed_fields.<alias>``
        is accepted for aliases declared in the same call (``computed``). A raw DSL string and
        ``None`` are not checked (the SDK does not parse the DSL).
        """
        if node is None or isinstance(node, str) or "filter" in self.unchecked:
            return
        self._check_node(node, self.filter_fields, frozenset(computed), "")

    def check_computed(self, alias: str, relation: str, aggregate: str, where: Filter | str | None) -> None:
        """Check one ``computed_fields[alias] = relation.aggregate(...)`` declaration.

        The relation must be one the operation allows for computed fields, with that aggregate; a
        ``where`` filter tree is checked against the relation's sub-fields from the filter table.
        """
        label = f"computed field '{alias}'"
        if "computed_fields" in self.unchecked:
            return
        allowed = {r.name: r for r in self.computed_relations}
        rel = allowed.get(relation)
        if rel is None:
            if not allowed:
                raise self._error(f"{label}: the operation offers no computed fields")
            msg = f"{label}: relation '{relation}' is not allowed{_suggest(relation, allowed)}"
            raise self._error(msg, sorted(allowed), "Allowed")
        if aggregate not in rel.aggregates:
            msg = f"{label}: aggregate '{aggregate}' is not allowed on '{relation}'"
            raise self._error(msg, sorted(rel.aggregates), "Allowed")
        if where is None or isinstance(where, str) or "filter" in self.unchecked:
            return
        target = self.filter_fields.get(relation)
        if target is None or not target.is_relation or not target.sub_fields:
            return  # the filter table does not describe this relation's fields: nothing to check against
        self._check_node(where, target.sub_field_map(), frozenset(), f" in relation '{relation}' ({label})")

    def partition_fields(self) -> list[FilterField]:
        """Fields a scan can be split on: date, datetime or currency fields allowing ``lt`` and ``gte``.

        Ordered by preference: fields that are also sort keys first (a partitioned scan wants to
        sort by the field it splits on), then datetime before date before currency, then by name.
        """
        ranks = _PARTITION_TYPE_RANK
        found = [f for f in self.fields if f.type in ranks and f.allows("lt") and f.allows("gte")]
        return sorted(found, key=lambda f: (f.name not in self.sorts, ranks[f.type], f.name))

    # -- internals ------------------------------------------------------------------------------

    def _error(
        self, message: str, allowed: Iterable[str] | None = None, label: str = ""
    ) -> InvalidRequestError:
        text = f"{self.operation}: {message}."
        if allowed is not None:
            text += f" {label}: {', '.join(allowed) or '(none)'}."
        return InvalidRequestError(text)

    def _check_declared(self, alias: str, declared: frozenset[str], where: str) -> None:
        if alias not in declared:
            hint = f" Declared: {', '.join(sorted(declared))}." if declared else ""
            raise InvalidRequestError(
                f"{self.operation}: {where} uses '{COMPUTED_PREFIX}{alias}', but no computed field "
                f"'{alias}' is declared in this call; pass computed_fields={{'{alias}': Computed...}}.{hint}"
            )

    def _check_node(
        self, node: Filter, fields: Mapping[str, FilterField], computed: frozenset[str], where: str
    ) -> None:
        if isinstance(node, And | Or):
            for child in node.nodes:
                self._check_node(child, fields, computed, where)
            return
        if not isinstance(node, Condition):
            raise TypeError(f"{self.operation}: not a filter node: {node!r}")
        self._check_condition(node, fields, computed, where)

    def _check_condition(
        self, cond: Condition, fields: Mapping[str, FilterField], computed: frozenset[str], where: str
    ) -> None:
        op = canonical_operator(cond.op)
        if not where and cond.field.startswith(COMPUTED_PREFIX):
            self._check_declared(cond.field[len(COMPUTED_PREFIX) :], computed, "the filter")
            if op not in COMPUTED_OPERATORS:
                raise self._error(
                    f"operator '{cond.op}' is not allowed on computed field '{cond.field}'",
                    sorted(COMPUTED_OPERATORS),
                    "Allowed",
                )
            return
        spec = fields.get(cond.field)
        if spec is None:
            if not where and cond.field in computed:
                raise self._error(
                    f"filter field '{cond.field}' is a computed field alias; "
                    f"write it as '{COMPUTED_PREFIX}{cond.field}'"
                )
            if not fields:
                raise self._error(f"cannot filter on '{cond.field}'{where}: no filter fields are offered")
            msg = f"unknown filter field '{cond.field}'{where}{_suggest(cond.field, fields)}"
            raise self._error(msg, sorted(fields), "Allowed")
        if spec.is_relation != (op in RELATION_OPERATORS):
            if spec.is_relation:
                raise self._error(
                    f"filter field '{cond.field}'{where} is a relation; use F('{cond.field}').any(...), "
                    f".all(...), .none(...) or .count(...) with a filter over its fields, not '{cond.op}'",
                    sorted(spec.operators),
                    "Allowed operators",
                )
            raise self._error(
                f"operator '{cond.op}' on '{cond.field}'{where} needs a relation field, "
                f"but '{cond.field}' is a {spec.type}",
                sorted(spec.operators),
                "Allowed operators",
            )
        if not spec.allows(op):
            raise self._error(
                f"operator '{cond.op}' is not allowed on filter field '{cond.field}' ({spec.type}){where}",
                sorted(spec.operators),
                "Allowed operators",
            )
        if spec.is_relation and spec.sub_fields:
            nested = cond.value.where if isinstance(cond.value, Count) else cond.value
            if isinstance(nested, And | Or | Condition):
                context = f" in relation '{cond.field}'{where}"
                self._check_node(nested, spec.sub_field_map(), frozenset(), context)


@cache
def _undocumented(operation: str) -> Capabilities:
    return Capabilities(operation, unchecked=frozenset({"sort", "include", "filter", "computed_fields"}))


def _split(values: str | Iterable[str], what: str) -> list[str]:
    raw = values.split(",") if isinstance(values, str) else list(values)
    out: list[str] = []
    for item in raw:
        if not isinstance(item, str):
            raise TypeError(f"{what} values must be strings, got {item!r}")
        item = item.strip()
        if item:
            out.append(item)
    return out


def _suggest(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
