"""Mistakes mypy must catch in a user's file: each line below is one (see ``tests/test_typing.py``)."""

from __future__ import annotations

from kanbert_async import KanbertClient
from kanbert_async.sync import KanbertClient as SyncKanbertClient


async def mistakes(kb: KanbertClient, blocking: SyncKanbertClient) -> tuple[str, int]:
    await kb.outgoing_invoices.with_raw_response.get("inv_1", find_bi="id")  # E: unexpected keyword
    blocking.outgoing_invoices.get("inv_1", find_by="number")  # E: not one of the Literal values
    blocking.outgoing_invoices.list(include=["line_itemz"])  # E: not an include
    name: str = blocking.outgoing_invoices.get("inv_1").title_typo  # E: no such attribute
    await kb.outgoing_invoices.get("inv_1", extra_headers={"X": 1})  # E: header values are str
    count: int = (await kb.outgoing_invoices.list()).items  # E: a list, not an int
    return name, count
