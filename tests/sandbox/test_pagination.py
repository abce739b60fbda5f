"""Cursor pagination: every record exactly once, in the requested order, with Laravel's meta."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Any

import pytest

from kanbert_async.sandbox import Sandbox

from .conftest import Api


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _sortable(value: Any) -> tuple[bool, Any]:
    # MySQL: NULL first ascending; strings by a case- and accent-insensitive collation.
    if value is None:
        return (False, 0)
    if hasattr(value, "value"):
        value = value.value
    if isinstance(value, str):
        return (True, _fold(value))
    return (True, value)


def expected_ids(models: list[Any], sort: str | None, default: str = "created_at") -> list[str]:
    """The order the API must produce, computed independently: stable sorts, id ascending last."""
    rows = sorted(models, key=lambda m: m.id)
    for key in reversed((sort or default).split(",")):
        name = key.lstrip("-")
        rows.sort(key=lambda m, n=name: _sortable(getattr(m, n)), reverse=key.startswith("-"))
    return [m.id for m in rows]


SORTS = [None, "-date_of_invoice", "sum_net,-invoice_number", "invoice_number", "-title", "-created_at,title"]


@pytest.mark.parametrize("size", [7, 30, 200])
async def test_every_invoice_exactly_once_in_order(api: Api, size: int) -> None:
    models = api.sandbox.store.invoices()
    for sort in SORTS:
        params = {"page[size]": str(size)}
        if sort:
            params["sort"] = sort
        pages = await api.pages("/outgoing-invoices", params)
        ids = [item["id"] for page in pages for item in page]
        assert ids == expected_ids(models, sort), sort
        assert all(len(page) == size for page in pages[:-1])
        assert 0 < len(pages[-1]) <= size


async def test_masters_sort_with_nulls_both_ways(api: Api) -> None:
    models = api.sandbox.store.masters()
    assert any(m.performance_range_start is None for m in models)
    for sort in ("performance_range_start", "-performance_range_start,title"):
        pages = await api.pages("/outgoing-invoices/master", {"page[size]": "4", "sort": sort})
        assert [i["id"] for p in pages for i in p] == expected_ids(models, sort)


async def test_meta_is_laravels_and_urls_work(api: Api) -> None:
    body = await api.json("/outgoing-invoices", {"page[size]": "5", "sort": "-sum_net"})
    meta = body["meta"]
    assert set(meta) == {
        "path",
        "per_page",
        "next_cursor",
        "next_cursor_url",
        "prev_cursor",
        "prev_cursor_url",
    }
    assert meta["path"] == api.sandbox.base_url + "/outgoing-invoices"
    assert meta["per_page"] == 5 and body["links"] == []
    assert meta["prev_cursor"] is None and meta["prev_cursor_url"] is None
    assert "page%5Bcursor%5D=" in meta["next_cursor_url"] and "sort=-sum_net" in meta["next_cursor_url"]
    response = await api.session.get(
        meta["next_cursor_url"], headers={"Authorization": f"Bearer {api.token}"}
    )
    second = await response.json()
    assert second["data"][0]["sum_net"] <= body["data"][-1]["sum_net"]
    assert second["meta"]["prev_cursor"] is not None


async def test_default_page_size_and_last_page(api: Api) -> None:
    body = await api.json("/outgoing-invoices")
    assert len(body["data"]) == 30 and body["meta"]["per_page"] == 30
    everything = await api.json(
        "/outgoing-invoices",
        {"page[size]": "200", "filter": '[{"field":"archived","op":"eq","value":"only"}]'},
    )
    assert everything["meta"]["next_cursor"] is None and everything["meta"]["next_cursor_url"] is None


async def test_prev_cursor_walks_back(api: Api) -> None:
    params = {"page[size]": "10", "sort": "title"}
    first = await api.json("/outgoing-invoices", params)
    second = await api.json("/outgoing-invoices", {**params, "page[cursor]": first["meta"]["next_cursor"]})
    third = await api.json("/outgoing-invoices", {**params, "page[cursor]": second["meta"]["next_cursor"]})
    back = await api.json("/outgoing-invoices", {**params, "page[cursor]": third["meta"]["prev_cursor"]})
    assert [i["id"] for i in back["data"]] == [i["id"] for i in second["data"]]
    start = await api.json("/outgoing-invoices", {**params, "page[cursor]": back["meta"]["prev_cursor"]})
    assert [i["id"] for i in start["data"]] == [i["id"] for i in first["data"]]
    assert start["meta"]["prev_cursor"] is None


async def test_cursors_stay_correct_when_records_are_added(api: Api) -> None:
    before = [m.id for m in api.sandbox.store.invoices()]
    params = {"page[size]": "25", "sort": "title"}
    first = await api.json("/outgoing-invoices", params)
    # An upload that sorts before the cursor must not shift the following pages.
    client = api.sandbox.store.clients[0]
    response = await api.post(
        "/outgoing-invoices/external",
        {
            "client_id": client.id, "title": "!!! first", "status": "booked", "invoice_number": "X-1",
            "date_of_invoice": "2024-01-01", "performance_range_start": "2024-01-01",
            "performance_range_end": "2024-01-31", "payment_due_date": "2024-02-01", "currency": "EUR",
            "sum_net": "10", "file_url": "https://example.com/x.pdf",
        },
    )  # fmt: skip
    assert response.status == 200, await response.text()
    seen = [i["id"] for i in first["data"]]
    cursor = first["meta"]["next_cursor"]
    while cursor:
        body = await api.json("/outgoing-invoices", {**params, "page[cursor]": cursor})
        seen += [i["id"] for i in body["data"]]
        cursor = body["meta"]["next_cursor"]
    assert sorted(seen) == sorted(before)


async def test_cursor_rules(api: Api) -> None:
    first = await api.json("/outgoing-invoices", {"page[size]": "3", "sort": "title"})
    cursor = first["meta"]["next_cursor"]
    for bad in ("not-a-cursor", cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1], "%%%"):
        body = await api.json("/outgoing-invoices", {"sort": "title", "page[cursor]": bad}, status=400)
        assert "cursor" in body["message"]
    other_sort = await api.json("/outgoing-invoices", {"sort": "-title", "page[cursor]": cursor}, status=400)
    assert "sort" in other_sort["message"]
    masters = await api.json("/outgoing-invoices/master", {"page[size]": "1"})
    foreign = await api.json(
        "/outgoing-invoices", {"page[cursor]": masters["meta"]["next_cursor"]}, status=400
    )
    assert "another listing" in foreign["message"]


@pytest.mark.parametrize(
    ("size", "message"),
    [
        ("201", "The page.size field must not be greater than 200."),
        ("0", "The page.size field must be at least 1."),
        ("ten", "The page.size field must be an integer."),
    ],
)
async def test_page_size_is_validated(api: Api, size: str, message: str) -> None:
    body = await api.json("/outgoing-invoices", {"page[size]": size}, status=422)
    assert body == {"message": message, "errors": {"page.size": [message]}}


async def test_max_page_size_is_configurable(session: Any) -> None:
    async with Sandbox(invoices=20, seed=1, max_page_size=10) as sb:
        api = Api(sb, session, sb.token)
        await api.json("/outgoing-invoices", {"page[size]": "10"})
        await api.json("/outgoing-invoices", {"page[size]": "11"}, status=422)


async def test_line_items_paginate(api: Api) -> None:
    store = api.sandbox.store
    record = max(store.invoice_records(), key=lambda r: r.plan.lines)
    items = store.invoice_line_items(record.model.id)
    assert len(items) == 200
    pages = await api.pages(f"/outgoing-invoices/{record.model.id}/line-items", {"page[size]": "60"})
    assert [i["id"] for p in pages for i in p] == [i.id for i in items], "document order by default"
    pages = await api.pages(
        f"/outgoing-invoices/{record.model.id}/line-items", {"page[size]": "45", "sort": "-total_net,title"}
    )
    assert [i["id"] for p in pages for i in p] == expected_ids(items, "-total_net,title")
    by_created = await api.pages(f"/outgoing-invoices/{record.model.id}/line-items", {"sort": "-created_at"})
    assert [i["id"] for p in by_created for i in p] == [i.id for i in reversed(items)]
    first = await api.json(f"/outgoing-invoices/{record.model.id}/line-items", {"page[size]": "5"})
    other = next(r for r in store.invoice_records() if r.plan.lines > 5 and r is not record)
    body = await api.json(
        f"/outgoing-invoices/{other.model.id}/line-items",
        {"page[cursor]": first["meta"]["next_cursor"]},
        status=400,
    )
    assert "another listing" in body["message"]


def test_expected_ids_helper_breaks_ties_by_id() -> None:
    class M:
        def __init__(self, id: str, x: Any) -> None:
            self.id, self.x, self.created_at = id, x, datetime(2024, 1, 1, tzinfo=UTC)

    rows = [M("b", 1), M("a", 1), M("c", None)]
    assert expected_ids(rows, "-x") == ["a", "b", "c"]
    assert expected_ids(rows, "x") == ["c", "a", "b"]
