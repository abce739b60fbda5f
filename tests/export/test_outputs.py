"""What the export writes, read back the way its users read it: spreadsheets, Python's csv,
pyarrow, DuckDB, a pipe — and an incremental export equal to a fresh one, generation after generation."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kanbert_async import KanbertClient
from kanbert_async.export import ExportConfig, ExportError, run_export, stream_export
from kanbert_async.export.directory import clear_own_export
from kanbert_async.sandbox import Sandbox

from .conftest import start_threaded

ALL_FORMATS = "jsonl,csv,parquet"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    """A calm sandbox these tests only read (tests that change data start their own)."""
    yield from start_threaded(invoices=150, seed=8)


def _config(out: Path, **options: Any) -> ExportConfig:
    return ExportConfig(entity="outgoing-invoices", out=out, page_size=40, partitions=3, **options)


async def _export(sb: Sandbox, out: Path, **options: Any) -> Any:
    async with KanbertClient(sb.token, base_url=sb.base_url) as kb:
        return await run_export(kb, _config(out, **options))


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [msgspec.json.decode(line) for line in path.read_bytes().splitlines()]


# -- completeness -------------------------------------------------------------------------------
async def test_archived_invoices_are_exported_unless_left_out_and_the_summary_says_so(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    every = {i.id for i in sandbox.store.invoices(archived="with")}
    archived = {i.id for i in sandbox.store.invoices(archived="only")}
    assert archived
    default = await _export(sandbox, tmp_path / "all", format="jsonl")
    without = await _export(sandbox, tmp_path / "without", format="jsonl", archived="without")
    assert {r["id"] for r in _jsonl(tmp_path / "all" / "invoices.jsonl")} == every
    assert {r["id"] for r in _jsonl(tmp_path / "without" / "invoices.jsonl")} == every - archived
    assert default.scope == []
    assert without.scope == ["archived invoices left out (--archived without)"]
    manifest = msgspec.json.decode((tmp_path / "without" / "manifest.json").read_bytes())
    assert manifest["archived"] == "without" and manifest["scope"] == without.scope


async def test_an_enum_value_no_record_can_have_is_warned_about(sandbox: Sandbox, tmp_path: Path) -> None:
    result = await _export(sandbox, tmp_path, format="jsonl", filter='status eq "bookd"')
    assert result.counts["invoices"] == 0
    assert any("'bookd' is not a value of status" in w and "booked" in w for w in result.warnings)
    assert any("no invoices: the filters matched none" in w for w in result.warnings)


# -- CSV dialects ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("dialect", "delimiter", "bom", "decimal"),
    [("rfc4180", ",", False, "."), ("excel", ",", True, "."), ("excel-de", ";", True, ",")],
)
async def test_csv_dialects_read_back_with_pythons_csv_and_a_bom_aware_reader(
    sandbox: Sandbox, tmp_path: Path, dialect: str, delimiter: str, bom: bool, decimal: str
) -> None:
    await _export(sandbox, tmp_path, format="both", csv_dialect=dialect)
    records = {r["id"]: r for r in _jsonl(tmp_path / "invoices.jsonl")}
    raw = (tmp_path / "invoices.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") is bom
    assert raw.count(b"\r\n") == len(records) + 1  # rows end in CRLF; line breaks in an address stay as sent
    with (tmp_path / "invoices.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=delimiter))
    assert len(rows) == len(records)
    for row in rows:
        record = records[row["id"]]
        # Money with the dialect's decimal separator, equal to the amount sent.
        assert Decimal(row["sum_gross"].replace(decimal, ".")) == Decimal(repr(record["sum_gross"]))
        if decimal == ",":
            assert "." not in row["sum_gross"]
        assert dt.datetime.fromisoformat(row["date_of_invoice"]) == dt.datetime.fromisoformat(
            record["date_of_invoice"]
        )
        assert row["address"] == record["address"]  # line breaks survive the quoting
    # A reader that ignores BOMs sees one in the first header cell: Excel needs it, programs must skip it.
    with (tmp_path / "invoices.csv").open(encoding="utf-8", newline="") as handle:
        first = next(csv.reader(handle, delimiter=delimiter))[0]
    assert (first == "\ufeffid") is bom
    with (tmp_path / "line_items.csv").open(encoding="utf-8-sig", newline="") as handle:
        items = list(csv.DictReader(handle, delimiter=delimiter))
    assert len(items) == sum(len(r["line_items"]) for r in records.values())


#: Texts a spreadsheet would run as formulas (OWASP's list of first characters), and one it would not.
FORMULAS = ('=HYPERLINK("https://evil.example","Pay here")', "+49 30 1234567", "-10% off", "@SUM(A1:A9)",
            "\tcmd", "\rcr", "'quoted already", "a = b")  # fmt: skip


def _with_formula_titles(sb: Sandbox) -> dict[str, str]:
    """Give the first invoices the titles of FORMULAS and a negative amount; their ids and titles."""
    ids = sorted(i.id for i in sb.store.invoices(archived="with"))[: len(FORMULAS)]
    for invoice_id, title in zip(ids, FORMULAS, strict=True):
        sb.store.update_invoice(invoice_id, title=title, sum_net=-10.5, sum_gross=-12.5)
    return dict(zip(ids, FORMULAS, strict=True))


@pytest.mark.parametrize(("dialect", "delimiter", "guarded"), [("excel", ",", True), ("excel-de", ";", True),
                                                              ("rfc4180", ",", False)])  # fmt: skip
async def test_excel_dialects_neutralise_text_a_spreadsheet_would_run_as_a_formula_but_never_numbers(
    tmp_path: Path, dialect: str, delimiter: str, guarded: bool
) -> None:
    async with Sandbox(invoices=30, seed=31) as sb:
        titles = _with_formula_titles(sb)
        await _export(sb, tmp_path, format="both", csv_dialect=dialect)
    with (tmp_path / "invoices.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = {row["id"]: row for row in csv.DictReader(handle, delimiter=delimiter)}
    records = {r["id"]: r for r in _jsonl(tmp_path / "invoices.jsonl")}
    for invoice_id, title in titles.items():
        dangerous = title[0] in "=+-@\t\r"
        assert rows[invoice_id]["title"] == ("'" + title if guarded and dangerous else title)
        assert records[invoice_id]["title"] == title  # JSON Lines keep the records exactly as sent
    # Amounts stay numbers, negative ones too, in every dialect.
    decimal = "," if dialect == "excel-de" else "."
    assert {rows[i]["sum_gross"] for i in titles} == {f"-12{decimal}5"}
    assert all(not row[c].startswith("'") for row in rows.values() for c in ("sum_gross", "sum_net"))
    manifest = msgspec.json.decode((tmp_path / "manifest.json").read_bytes())
    guard = manifest["csv_formula_guard"]
    assert (guard is not None) is guarded
    if guard is not None:
        assert guard["prefix"] == "'" and set(guard["text_starting_with"]) == set("=+-@\t\r")


async def test_an_increment_of_guarded_cells_equals_a_fresh_export_even_where_ids_look_like_formulas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server whose ids start with "-": the id cells themselves are guarded, and the merge must
    # still recognise the rows of a changed record in the CSV (there is no JSON Lines file here).
    from kanbert_async.sandbox import data

    monkeypatch.setattr(data, "new_id", lambda rng: "-" + str(uuid.UUID(int=rng.getrandbits(128), version=4)))
    options = {"format": "csv", "csv_dialect": "excel"}
    async with Sandbox(invoices=40, seed=32) as sb:
        titles = _with_formula_titles(sb)
        await _export(sb, tmp_path / "incremental", **options)
        changed = sorted(titles)[:2]
        sb.store.update_invoice(changed[0], title="=1+1")
        sb.store.update_invoice(changed[1], title="plain again")
        second = await _export(sb, tmp_path / "incremental", since_last=True, **options)
        await _export(sb, tmp_path / "fresh", **options)
    assert second.changes is not None and second.changes["added"] == 0 and second.changes["updated"] >= 2
    for name in ("invoices.csv", "line_items.csv"):
        incremental = (tmp_path / "incremental" / name).read_bytes().splitlines()
        fresh = (tmp_path / "fresh" / name).read_bytes().splitlines()
        assert incremental[0] == fresh[0] and sorted(incremental[1:]) == sorted(fresh[1:]), name
    assert b"'-" in (tmp_path / "fresh" / "invoices.csv").read_bytes()  # the ids were guarded
    assert b"'=1+1" in (tmp_path / "fresh" / "invoices.csv").read_bytes()


# -- Parquet --------------------------------------------------------------------------------------
async def test_parquet_has_real_types_and_reads_in_pyarrow_and_duckdb(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    import duckdb

    await _export(sandbox, tmp_path, format=ALL_FORMATS)
    records = {r["id"]: r for r in _jsonl(tmp_path / "invoices.jsonl")}
    table = pq.read_table(tmp_path / "invoices.parquet")
    schema = table.schema
    assert schema.field("date_of_invoice").type == pa.timestamp("us", tz="UTC")
    assert schema.field("sum_gross").type == pa.decimal128(18, 4)
    assert schema.field("status").type == pa.string()
    assert schema.field("is_credit").type == pa.bool_()
    assert pa.types.is_list(schema.field("project.tags").type)
    assert pa.types.is_date32(pq.read_schema(tmp_path / "invoices.parquet").field("project.start_date").type)
    assert table.num_rows == len(records)
    for row in table.to_pylist():
        record = records[row["id"]]
        assert row["sum_gross"] == Decimal(repr(record["sum_gross"]))
        assert row["date_of_invoice"] == dt.datetime.fromisoformat(record["date_of_invoice"])
        assert row["client.name"] == record["client"]["name"]
    items = pq.read_table(tmp_path / "line_items.parquet")
    assert items.num_rows == sum(len(r["line_items"]) for r in records.values())
    assert items.schema.field("total_net").type == pa.decimal128(18, 4)  # a currency field of the relation

    # The README's query, as written there.
    export = tmp_path
    gross = duckdb.sql(
        f"SELECT status, count(*) AS n, sum(sum_gross) AS gross FROM '{export}/invoices.parquet' "
        "GROUP BY status"
    ).fetchall()
    expected: dict[str, Decimal] = {}
    for record in records.values():
        expected[record["status"]] = expected.get(record["status"], Decimal(0)) + Decimal(
            repr(record["sum_gross"])
        )
    assert {status: total for status, _, total in gross} == expected
    joined = duckdb.sql(
        f"SELECT count(*) FROM '{export}/line_items.parquet' l "
        f"JOIN '{export}/invoices.parquet' i ON l.invoice_id = i.id"
    ).fetchall()
    assert joined == [(items.num_rows,)]


# -- PDF names ------------------------------------------------------------------------------------
async def test_pdf_names_from_a_template_resolve_clashes_and_missing_numbers_the_same_way_every_time(
    tmp_path: Path,
) -> None:
    async with Sandbox(invoices=40, seed=12) as sb:
        store = sb.store
        ids = sorted(i.id for i in store.invoices(archived="with"))
        for record_id in ids[:3]:
            store.update_invoice(record_id, invoice_number="RE/2025 1")  # three clash; '/' and ' ' are unsafe
        store.update_invoice(ids[3], invoice_number="re_2025_1")  # differs only in case: clashes on macOS
        store.update_invoice(ids[4], invoice_number=None)  # a draft: no number yet
        numbers = {i.id: i.invoice_number for i in store.invoices(archived="with")}
        for run in ("a", "b"):
            await _export(sb, tmp_path / run, format="jsonl", pdfs=True, pdf_name="{invoice_number}")
    manifests = [msgspec.json.decode((tmp_path / run / "manifest.json").read_bytes()) for run in "ab"]
    assert manifests[0]["pdf_names"] == manifests[1]["pdf_names"]
    files = manifests[0]["pdf_names"]["files"]
    notes = manifests[0]["pdf_names"]["notes"]
    assert [files[i] for i in ids[:4]] == [
        "RE_2025_1.pdf",
        "RE_2025_1_2.pdf",
        "RE_2025_1_3.pdf",
        "re_2025_1_4.pdf",
    ]
    assert files[ids[4]] == f"{ids[4]}.pdf" and "invoice_number empty" in notes[ids[4]]
    assert "was taken" in notes[ids[1]] and ids[0] not in notes
    on_disk = sorted(p.name for p in (tmp_path / "a" / "pdfs").iterdir())
    assert on_disk == sorted(files.values()) and len(on_disk) == len(numbers)
    for record_id, name in files.items():
        # Each file is that invoice's PDF (the sandbox prints its number or its id into it).
        text = (tmp_path / "a" / "pdfs" / name).read_bytes()
        assert (numbers[record_id] or record_id).encode() in text


# -- streaming ------------------------------------------------------------------------------------
async def test_out_dash_streams_every_record_once_as_json_lines(sandbox: Sandbox, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    async with KanbertClient(sandbox.token, base_url=sandbox.base_url) as kb:
        result = await stream_export(kb, _config(Path("-"), format="jsonl"), buffer)
        with pytest.raises(ExportError, match="--pdfs"):
            await stream_export(kb, _config(Path("-"), format="jsonl", pdfs=True), io.BytesIO())
    await _export(sandbox, tmp_path, format="jsonl")
    streamed = buffer.getvalue().splitlines()
    assert len(streamed) == result.counts["invoices"] == len(sandbox.store.invoices(archived="with"))
    assert sorted(streamed) == sorted((tmp_path / "invoices.jsonl").read_bytes().splitlines())


# -- --since-last ---------------------------------------------------------------------------------
def _contents(out: Path) -> dict[str, Any]:
    """An export's data, independent of row order: JSONL lines, CSV rows, Parquet rows, PDFs."""
    found: dict[str, Any] = {}
    for path in sorted(out.iterdir()):
        if path.suffix == ".jsonl":
            found[path.name] = sorted(path.read_bytes().splitlines())
        elif path.suffix == ".csv":
            with path.open(encoding="utf-8-sig", newline="") as handle:
                header, *rows = list(csv.reader(handle, delimiter=";"))
            found[path.name] = (header, sorted(rows))
        elif path.suffix == ".parquet":
            table = pq.read_table(path)
            found[path.name] = (table.schema, sorted(map(repr, table.to_pylist())))
    found["pdfs"] = {p.name: p.read_bytes() for p in sorted((out / "pdfs").iterdir())}
    return found


async def test_since_last_merges_each_generations_changes_exactly_once(tmp_path: Path) -> None:
    options = {"format": ALL_FORMATS, "csv_dialect": "excel-de", "pdfs": True, "pdf_name": "{invoice_number}"}
    incremental = tmp_path / "incremental"
    async with Sandbox(invoices=120, seed=14) as sb:
        store = sb.store
        ids = sorted(i.id for i in store.invoices(archived="with"))
        first = await _export(sb, incremental, **options)
        assert first.generation == 1

        # Between runs: edits, a booking that gives a draft its number, an archiving, an upload.
        store.update_invoice(ids[0], title="Retainer (corrected)", sum_net=1234.5, sum_gross=1469.06)
        store.update_invoice(ids[1], invoice_number="RE-2025-0999", status="booked")
        store.update_invoice(ids[2], deleted_at=store.now())
        async with KanbertClient(sb.token, base_url=sb.base_url) as kb:
            client = store.invoices()[0].client
            await kb.outgoing_invoices.create_external(
                client_id=client.id,
                title="Uploaded between runs",
                status="booked",
                invoice_number="EXT-NEW-1",
                date_of_invoice=dt.datetime(2025, 6, 1, tzinfo=dt.UTC),
                performance_range_start=dt.datetime(2025, 5, 1, tzinfo=dt.UTC),
                performance_range_end=dt.datetime(2025, 5, 31, tzinfo=dt.UTC),
                payment_due_date=dt.datetime(2025, 6, 15, tzinfo=dt.UTC),
                currency="EUR",
                sum_net=10.0,
                file=b"%PDF-1.4 uploaded between runs",
            )
        second = await _export(sb, incremental, since_last=True, **options)
        fresh = await _export(sb, tmp_path / "fresh-2", **options)
        assert second.generation == 2
        assert second.changes is not None and second.changes["added"] == 1 and second.changes["updated"] >= 3
        assert second.counts == fresh.counts
        assert _contents(incremental) == _contents(tmp_path / "fresh-2")

        # The same record changed again, and another one.
        store.update_invoice(ids[0], title="Retainer (final)")
        store.update_invoice(ids[5], sum_net=1.0, sum_gross=1.19)
        third = await _export(sb, incremental, since_last=True, **options)
        fresh = await _export(sb, tmp_path / "fresh-3", **options)
    assert third.generation == 3 and third.counts == fresh.counts
    assert _contents(incremental) == _contents(tmp_path / "fresh-3")
    manifest = msgspec.json.decode((incremental / "manifest.json").read_bytes())
    assert [g["generation"] for g in manifest["generations"]] == [1, 2, 3]
    assert [g["mode"] for g in manifest["generations"]] == ["full", "since-last", "since-last"]
    assert manifest["watermark"] > manifest["generations"][0]["watermark"]
    assert manifest["files"].keys() == {
        str(p.relative_to(incremental))
        for p in incremental.rglob("*")
        if p.is_file() and p.name != "manifest.json"
    }


async def test_since_last_refuses_what_makes_no_sense(sandbox: Sandbox, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="holds no finished export"):
        await _export(sandbox, tmp_path / "new", since_last=True)
    await _export(sandbox, tmp_path / "done", format="jsonl")
    with pytest.raises(ExportError, match=r"other options \(they differ in: format\)"):
        await _export(sandbox, tmp_path / "done", format="csv", since_last=True)
    with pytest.raises(ExportError, match="add --since-last"):
        await _export(sandbox, tmp_path / "done", format="jsonl")


async def test_since_last_refuses_csv_files_guarded_otherwise(sandbox: Sandbox, tmp_path: Path) -> None:
    # An export made before the excel dialects guarded formula cells: a merge would mix both kinds.
    await _export(sandbox, tmp_path, format="csv", csv_dialect="excel")
    manifest = msgspec.json.decode((tmp_path / "manifest.json").read_bytes())
    del manifest["csv_formula_guard"]
    (tmp_path / "manifest.json").write_bytes(msgspec.json.encode(manifest))
    before = (tmp_path / "invoices.csv").read_bytes()
    with pytest.raises(ExportError, match="guard formula cells differently"):
        await _export(sandbox, tmp_path, format="csv", csv_dialect="excel", since_last=True)
    assert (tmp_path / "invoices.csv").read_bytes() == before


# -- directories that are not ours ----------------------------------------------------------------
async def test_only_an_exports_own_files_are_ever_cleared(sandbox: Sandbox, tmp_path: Path) -> None:
    out = tmp_path / "export"
    await _export(sandbox, out, format="both", pdfs=True)
    assert clear_own_export(out) and list(out.iterdir()) == []

    await _export(sandbox, out, format="jsonl")
    (out / "notes.txt").write_text("mine")
    assert not clear_own_export(out)
    assert (out / "notes.txt").read_text() == "mine" and (out / "invoices.jsonl").exists()

    mine = tmp_path / "mine"
    (mine / "pdfs").mkdir(parents=True)
    (mine / "pdfs" / "contract.pdf").write_bytes(b"%PDF mine")
    assert not clear_own_export(mine)
    with pytest.raises(ExportError, match="not empty"):
        await _export(sandbox, mine, pdfs=True)
    assert (mine / "pdfs" / "contract.pdf").read_bytes() == b"%PDF mine"
    assert sorted(p.name for p in mine.rglob("*")) == ["contract.pdf", "pdfs"]


def test_configs_are_plain_data() -> None:
    config = _config(Path("x"))
    assert dataclasses.replace(config, archived="only").identity()["archived"] == "only"
