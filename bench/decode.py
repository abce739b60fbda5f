"""Benchmark 1: decoding a 100-invoice page (with line items, discounts, external costs) from bytes.

Contenders, on the same bytes of a real sandbox response:

- kanbert-async: ``decode_response(_LIST, body)`` — the exact path the client's pager takes;
- the bare floor: ``msgspec.json.Decoder(OutgoingInvoiceDataCursorPaginatedCollection).decode``;
- pydantic v2: ``Model.model_validate_json(body)`` on datamodel-code-generator's page wrapper;
- ``json.loads`` to dicts (no types, no validation).

Bars (issue 18): ≥ 6× faster than pydantic v2; within 1.03× of the bare msgspec decoder (the SDK's
own share within measurement noise).
"""

from __future__ import annotations

import json
import time
from typing import Any

import msgspec

from kanbert_async._core.decode import decode_response
from kanbert_async._generated.models import OutgoingInvoiceDataCursorPaginatedCollection
from kanbert_async._generated.operations import OUTGOING_INVOICES_INDEX as _LIST

from . import pydantic_models
from .common import Result, SandboxProcess, interleave, profile, timed

PYDANTIC_BAR = 6.0
MSGSPEC_BAR = 1.03
PATH = "/outgoing-invoices?include=line_items,discounts,external_costs&page%5Bsize%5D=100"

SDK = "kanbert-async decode_response"
BARE = "bare msgspec.json.Decoder"
PYDANTIC = "pydantic v2 model_validate_json"
JSON = "json.loads (dicts)"


def _inner_for(fn: Any, target: float) -> int:
    """How many calls make one sample last about ``target`` seconds."""
    start = time.perf_counter()
    fn()
    once = time.perf_counter() - start
    return max(1, round(target / max(once, 1e-6)))


def run(quick: bool = False) -> Result:
    """Interleaved samples of each decoder on one real page; ratios of medians."""
    with SandboxProcess(invoices=300, seed=1) as sandbox:
        body = sandbox.get(PATH)
        command = sandbox.command
    models = pydantic_models.load()
    wrapper = models.OutgoingInvoiceDataCursorPaginatedCollection
    bare = msgspec.json.Decoder(OutgoingInvoiceDataCursorPaginatedCollection)

    contenders = {
        SDK: lambda: decode_response(_LIST, body),
        BARE: lambda: bare.decode(body),
        PYDANTIC: lambda: wrapper.model_validate_json(body),
        JSON: lambda: json.loads(body),
    }
    # All four read the same page: same count of invoices and line items, same first id.
    ours, theirs, floor, plain = (contenders[name]() for name in (SDK, PYDANTIC, BARE, JSON))
    line_items = sum(len(inv.line_items or ()) for inv in ours.data)
    assert [i.id for i in ours.data] == [i.id for i in theirs.data] == [i.id for i in floor.data]
    assert [i["id"] for i in plain["data"]] == [i.id for i in ours.data]
    assert line_items == sum(len(inv.line_items or ()) for inv in theirs.data)

    target = 0.02 if quick else 0.1
    figures = interleave(
        {name: timed(fn, inner=_inner_for(fn, target)) for name, fn in contenders.items()},
        rounds=3 if quick else 25,
        warmup=1 if quick else 2,
    )
    sdk = figures[SDK].median
    vs_pydantic = figures[PYDANTIC].median / sdk
    vs_bare = sdk / figures[BARE].median
    result = Result(
        title="1. Decode a 100-invoice page",
        figures=list(figures.values()),
        ratios={"pydantic v2 / kanbert-async": vs_pydantic, "kanbert-async / bare msgspec": vs_bare},
        bars={
            "pydantic v2 / kanbert-async": f"≥ {PYDANTIC_BAR}×",
            "kanbert-async / bare msgspec": f"≤ {MSGSPEC_BAR}×",
        },
        met={
            "pydantic v2 / kanbert-async": vs_pydantic >= PYDANTIC_BAR,
            "kanbert-async / bare msgspec": vs_bare <= MSGSPEC_BAR,
        },
        setup={
            "page": f"GET {PATH} → {len(body) / 1024:.0f} KiB, {len(ours.data)} invoices, "
            f"{line_items} line items",
            "sandbox": command,
            "pydantic models": pydantic_models.COMMAND + " (on codegen's load_spec + apply_rules)",
            "samples": "each sample times a loop of calls lasting ~"
            f"{target * 1000:.0f} ms; GC on, collected between samples",
        },
        notes=[f"json.loads / kanbert-async: {figures[JSON].median / sdk:.2f}× (dicts only, no types)"],
    )
    if not result.all_met:
        result.profile = profile(lambda: [decode_response(_LIST, body) for _ in range(200)])
    return result
