"""Render ``_generated/operations.py``: every operation of the description, and the table of them.

Both sides read this one explicit table: the generated resources run their operations from it,
and the sandbox serves the operations it names (checking each against the description itself).
"""

from __future__ import annotations

from codegen.operations import Op
from codegen.render_resources import HEADER, _operation_constant, _ordered, model_names_in

__all__ = ["render_operations_module"]


def render_operations_module(ops: list[Op]) -> str:
    """The module: one typed ``Operation`` constant per operation, then ``OPERATIONS`` by operation id."""
    models = model_names_in(
        m
        for op in ops
        if not op.binary
        for m in (op.response_model, op.item_model if op.paginated else None)
        if m
    )
    parts = [
        HEADER,
        '"""Every operation of the description, and ``OPERATIONS``: the table of them by id."""\n\n',
        "from __future__ import annotations\n\n",
        "from collections.abc import Mapping\n",
        "from typing import Any\n\n",
        "from kanbert_async._core.operation import DuplicateCheck, Operation, Paging\n\n",
        "from .capabilities import CAPABILITIES\n",
    ]
    if models:
        parts.append(f"from .models import {', '.join(models)}\n")
    names = sorted(op.const_name for op in ops)
    parts.append(f"\n__all__ = {['OPERATIONS', *names]!r}\n\n")
    for op in _ordered(ops):
        parts.append(_operation_constant(op) + "\n\n")
    parts.append("#: Every operation by its id, as the description names it.\n")
    parts.append("OPERATIONS: Mapping[str, Operation[Any]] = {\n")
    for op in sorted(ops, key=lambda o: o.operation_id):
        parts.append(f"    {op.operation_id!r}: {op.const_name},\n")
    parts.append("}\n")
    return "".join(parts)
