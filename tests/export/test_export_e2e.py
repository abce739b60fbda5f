"""The export against the sandbox on a bad day: output equals the sandbox's data, record for record."""

from __future__ import annotations

import csv
from pathlib import Path

import msgspec
import pytest

from kanbert_async import F, KanbertClient
from kanbert_async.export import ExportConfig, ExportError, run_export
from kanbert_async.sandbox import Sandbox

BAD_DAY = {
    "latency": 0.002,
    "error_rate": 0.03,
    "drop_rate": 0.02,
    "drop_mid_body_rate": 0.02,
    "fault_seed": 7,
}


def _jsonl(path: Path) -> list[dict[str, object]]:
    return [msgspec.json.decode(line) for line in path.read_bytes().splitlines()]


@pytest.mark.parametrize("partitions", [1, 4])
async def test_an_export_on_a_bad_day_equals_the_sandbox_data(tmp_path: Path, partitions: int) -> None:
    async with Sandbox(invoices=180, seed=11, **BAD_DAY) as sb:
        async with KanbertClient(sb.token, base_url=sb.base_url) as kb:
            config = ExportConfig(
                entity="outgoing-invoices", out=tmp_path, pdfs=True, partitions=partitions, page_size=25
            )
            result = await run_export(kb, config)
            everything = {invoice.id for invoice in sb.store.invoices(archived="with")}
            archived = {invoice.id for invoice in sb.store.invoices(archived="only")}
            async with KanbertClient(sb.token, base_url=sb.base_url, max_retries=20) as reference:
                expected = [
                    msgspec.to_builtins(inv)
                    async for inv in reference.outgoing_invoices.list(
                        include=["line_items", "discounts", "external_costs"],
                        filter=F("archived") == "with",
                        page_size=100,
                    )
                ]
        faults = sum(sb.counters.faults.values())
    assert faults > 0, "the bad day injected no faults"
    assert result.retries > 0

    exported = _jsonl(tmp_path / "invoices.jsonl")
    by_id = {record["id"]: record for record in exported}
    # Archived invoices belong in the books too: the export's default takes them.
    assert archived and archived < everything
    assert len(exported) == len(by_id) == len(expected) == len(everything)
    assert set(by_id) == everything
    assert by_id == {record["id"]: record for record in expected}

    with (tmp_path / "line_items.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == sum(len(record["line_items"]) for record in expected)  # type: ignore[arg-type]
    assert {row["invoice_id"] for row in rows} <= set(by_id)

    pdfs = sorted(p.stem for p in (tmp_path / "pdfs").glob("*.pdf"))
    assert pdfs == sorted(by_id)
    assert all((tmp_path / "pdfs" / f"{i}.pdf").read_bytes().startswith(b"%PDF") for i in pdfs)
    assert not list(tmp_path.rglob("*.part")) and not (tmp_path / ".kanbert-export").exists()

    manifest = msgspec.json.decode((tmp_path / "manifest.json").read_bytes())
    assert manifest["counts"]["invoices"] == len(everything)
    assert manifest["counts"]["pdfs"] == len(everything)
    assert manifest["archived"] == "with"
    assert manifest["retries"] == result.retries
    assert set(manifest["files"]) >= {
        "invoices.jsonl",
        "invoices.csv",
        "line_items.csv",
        "pdfs/" + pdfs[0] + ".pdf",
    }


async def test_jsonl_keeps_the_bytes_kanbert_sent(tmp_path: Path) -> None:
    async with Sandbox(invoices=40, seed=2) as sb, KanbertClient(sb.token, base_url=sb.base_url) as kb:
        await run_export(
            kb, ExportConfig(entity="outgoing-invoices", out=tmp_path, format="jsonl", page_size=40)
        )
        pages = [
            page
            async for page in kb.outgoing_invoices.list(
                include=["line_items", "discounts", "external_costs"],
                filter=F("archived") == "with",
                page_size=40,
            )
            .keep_raw()
            .pages()
        ]
    sent = {msgspec.json.decode(bytes(raw))["id"]: bytes(raw) for page in pages for raw in page.raw or []}
    for line in (tmp_path / "invoices.jsonl").read_bytes().splitlines():
        assert line == sent[msgspec.json.decode(line)["id"]]


async def test_since_and_until_restrict_the_invoice_dates(tmp_path: Path) -> None:
    import datetime as dt

    async with Sandbox(invoices=120, seed=5) as sb, KanbertClient(sb.token, base_url=sb.base_url) as kb:
        config = ExportConfig(
            entity="outgoing-invoices",
            out=tmp_path,
            format="jsonl",
            include=(),
            since=dt.date(2024, 1, 1),
            until=dt.date(2024, 12, 31),
        )
        await run_export(kb, config)
        everything = [
            inv async for inv in kb.outgoing_invoices.list(filter=F("archived") == "with", page_size=200)
        ]
    expected = {
        i.id for i in everything if dt.date(2024, 1, 1) <= i.date_of_invoice.date() <= dt.date(2024, 12, 31)
    }
    assert expected and {r["id"] for r in _jsonl(tmp_path / "invoices.jsonl")} == expected


async def test_resume_refuses_a_directory_from_a_different_export(tmp_path: Path) -> None:
    async with Sandbox(invoices=30, seed=2) as sb, KanbertClient(sb.token, base_url=sb.base_url) as kb:
        state = tmp_path / ".kanbert-export"
        config = ExportConfig(entity="outgoing-invoices", out=tmp_path, format="jsonl")
        # leave an unfinished export behind: plan it, then stop before any page
        state.mkdir()
        (state / "state.json").write_bytes(
            msgspec.json.encode(
                {
                    "identity": {**config.identity(), "format": "csv"},
                    "base_url": sb.base_url,
                    "started_at": "2026-01-01T00:00:00+00:00",
                    "plan_field": "date_of_invoice",
                }
            )
        )
        with pytest.raises(ExportError, match=r"different export.*format"):
            await run_export(
                kb, ExportConfig(entity="outgoing-invoices", out=tmp_path, format="jsonl", resume=True)
            )
