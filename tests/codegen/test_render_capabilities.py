"""A Capabilities is rendered as the expression that builds it: deterministic, and equal when evaluated."""

from __future__ import annotations

import random

import pytest

from codegen.capabilities import (
    parse_operation,
)
from codegen.render_capabilities import render_capabilities
from kanbert_async._core.capabilities import Capabilities, ComputedRelation, FilterField
from tests.codegen.prose_fixtures import (
    ALL_OPERATIONS,
    DATE_OPS,
    ENUM_OPS,
    INVOICES_SORT,
    LINE_ITEMS_CELL,
    RELATION_OPS,
    STRING_OPS,
    q,
    table,
)

# -- rendering ----------------------------------------------------------------------------------

NAMESPACE = {"Capabilities": Capabilities, "FilterField": FilterField, "ComputedRelation": ComputedRelation}


@pytest.mark.parametrize(("operation_id", "params"), ALL_OPERATIONS)
def test_rendered_capabilities_evaluate_back_to_an_equal_value(operation_id: str, params: list[dict]) -> None:
    caps, _ = parse_operation(operation_id, params)
    assert caps is not None
    source = render_capabilities(caps)
    rebuilt = eval(source, dict(NAMESPACE))
    assert rebuilt == caps
    assert rebuilt.filter_fields.keys() == caps.filter_fields.keys()
    assert max(len(line) for line in source.splitlines()) <= 110
    # Sets are written sorted, so the output does not depend on hash order.
    assert "frozenset({'eq', 'in', 'isnotnull', 'isnull', 'ne', 'neq', 'nin', 'notin', 'notnull'})" in source


def test_rendering_does_not_depend_on_document_order() -> None:
    rows = [
        ("title", "string", STRING_OPS),
        ("date_of_invoice", "date", DATE_OPS),
        ("line_items", LINE_ITEMS_CELL, RELATION_OPS),
        ("status", "enum<OutgoingInvoiceStatus>", ENUM_OPS),
    ]
    shuffled = rows[:]
    random.Random(7).shuffle(shuffled)
    assert shuffled != rows
    first, _ = parse_operation("x.index", [q("filter", table(*rows)), q("sort", INVOICES_SORT)])
    second, _ = parse_operation("x.index", [q("sort", INVOICES_SORT), q("filter", table(*shuffled))])
    assert first is not None and second is not None
    assert render_capabilities(first) == render_capabilities(second)


def test_rendering_keeps_unchecked_parameters_and_unknown_types() -> None:
    caps = Capabilities(
        "tasks.index",
        fields=(FilterField("budget", "unknown", frozenset({"eq"}), type_arg="money"),),
        unchecked=frozenset({"sort"}),
    )
    rebuilt = eval(render_capabilities(caps), dict(NAMESPACE))
    assert rebuilt == caps
    assert rebuilt.unchecked == frozenset({"sort"})
