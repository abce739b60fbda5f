"""An export's files and where they live: the part files a page is written to, the final JSONL,
CSV and Parquet files joined from them, and the PDFs, named and moved into ``pdfs/``.

Layout of ``--out``: the final files and ``manifest.json`` at the top, PDFs in ``pdfs/``, and,
while a run is unfinished, its working directory ``.kanbert-export/`` (the state, each
partition's part files under ``parts/<n>/``, the PDFs downloaded under their ids).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec

from .._core.page import Page
from .config import ExportConfig
from .dialects import CSV_DIALECTS, CsvDialect
from .durable import AtomicFile, fsync_dir, sha256_of
from .flatten import record_id
from .parquet import BUILTIN_TYPES, ParquetTable
from .pdfnames import DEFAULT_TEMPLATE, PdfNames, id_file_name
from .plan import Plan

__all__ = ["MANIFEST", "PDF_DIR", "STATE_FILE", "WORK_DIR", "Output"]

WORK_DIR = ".kanbert-export"
STATE_FILE = "state.json"
MANIFEST = "manifest.json"
PDF_DIR = "pdfs"


class Output:
    """The files one export writes into ``config.out``, for the tables of ``plan``."""

    def __init__(self, config: ExportConfig, plan: Plan) -> None:
        self.config = config
        self.plan = plan
        self.entity = plan.entity
        self.formats = config.formats()
        self.dialect: CsvDialect = CSV_DIALECTS[config.csv_dialect]
        self.out = config.out
        self.work = self.out / WORK_DIR
        self.jsonl = f"{self.entity.stem}.jsonl"
        self.csv_columns: dict[str, list[str]] = (
            {f"{t.stem}.csv": list(t.columns) for t in plan.tables} if "csv" in self.formats else {}
        )
        # The JSONL part is always written: Parquet, PDF names and --since-last are made from it.
        self.part_names = [self.jsonl, *self.csv_columns]

    # -- part files ---------------------------------------------------------------------------
    def page_parts(self, page: Page[Any]) -> tuple[dict[str, bytes], dict[str, int]]:
        """What ``page`` appends to each part file, and how many rows of each table it holds."""
        counts = {self.entity.stem: len(page.items)}
        assert page.raw is not None
        parts = {self.jsonl: b"".join(bytes(raw) + b"\n" for raw in page.raw)}
        builtins = [msgspec.to_builtins(item) for item in page.items] if self.csv_columns else []
        for relation in self.config.include:
            counts[relation] = sum(len(getattr(item, relation, None) or ()) for item in page.items)
        dialect = self.dialect
        for name, columns in self.csv_columns.items():
            stem = name.removesuffix(".csv")
            if stem == self.entity.stem:
                rows = [dialect.row(b, columns) for b in builtins]
            else:
                rows = [
                    [dialect.cell(b["id"]), *dialect.row(child, columns[1:])]
                    for b in builtins
                    for child in b.get(stem) or ()
                ]
            parts[name] = dialect.encode(rows)
        return parts, counts

    def part_paths(self, name: str, partitions: Iterable[str]) -> list[Path]:
        """The part files of ``name`` of the given partitions, in plan order."""
        return [self.work / "parts" / key / name for key in sorted(partitions, key=int)]

    def records(self, paths: list[Path]) -> Iterator[Any]:
        """The records of JSONL part files, decoded into the model."""
        decoder = msgspec.json.Decoder(self.entity.model)
        for path in paths:
            with path.open("rb") as lines:
                for line in lines:
                    yield decoder.decode(line)

    # -- final files --------------------------------------------------------------------------
    def csv_header(self, columns: list[str]) -> bytes:
        """What a CSV file starts with: the dialect's preamble and the header row."""
        return self.dialect.preamble() + self.dialect.encode([columns])

    def join_parts(self, partitions: Iterable[str]) -> dict[str, str]:
        """Join the partitions' part files into the final files; their sha256 by name."""
        keys = list(partitions)
        files: dict[str, str] = {}
        jsonl_parts = self.part_paths(self.jsonl, keys)
        if "jsonl" in self.formats:
            final = AtomicFile(self.out / self.jsonl)
            for path in jsonl_parts:
                final.write_from(path)
            files[self.jsonl] = final.commit()
        for name, columns in self.csv_columns.items():
            final = AtomicFile(self.out / name)
            final.write(self.csv_header(columns))
            for path in self.part_paths(name, keys):
                final.write_from(path)
            files[name] = final.commit()
        if "parquet" in self.formats:
            tables = self.parquet_tables(self.out)
            self.add_parquet_rows(tables, self.records(jsonl_parts))
            files.update(self.commit_parquet(tables))
        return files

    def parquet_tables(self, directory: Path) -> dict[str, ParquetTable]:
        """Open a Parquet writer per table; each writes ``.<stem>.parquet.tmp`` in ``directory``."""
        return {
            t.stem: ParquetTable(directory / f".{t.stem}.parquet.tmp", t.columns, t.money)
            for t in self.plan.tables
        }

    def add_parquet_rows(self, tables: dict[str, ParquetTable], records: Iterator[Any]) -> None:
        """Add each record's row, and its relations' rows, to the Parquet tables."""
        stem = self.entity.stem
        for record in records:
            builtins = msgspec.to_builtins(record, builtin_types=BUILTIN_TYPES)
            tables[stem].add(builtins)
            for table in self.plan.tables[1:]:
                for child in builtins.get(table.stem) or ():
                    tables[table.stem].add(child, prefix={"invoice_id": builtins["id"]})

    def commit_parquet(self, tables: dict[str, ParquetTable]) -> dict[str, str]:
        """Close the Parquet writers and rename their files into place; their sha256 by name."""
        files = {}
        for stem, table in tables.items():
            table.close()
            name = f"{stem}.parquet"
            temp = self.out / f".{name}.tmp"
            with temp.open("rb") as handle:
                os.fsync(handle.fileno())
            os.replace(temp, self.out / name)
            files[name] = sha256_of(self.out / name)
        return files

    # -- PDFs ---------------------------------------------------------------------------------
    def downloaded_pdf(self, record: str) -> Path:
        """Where the PDF of the record with id ``record`` is downloaded to during a run."""
        return self.work / PDF_DIR / id_file_name(record)

    def pdf_names(self, paths: list[Path], keep: dict[str, str], notes: dict[str, str]) -> PdfNames:
        """Name the PDFs of the records in JSONL ``paths`` (``keep``: names given earlier)."""
        names = PdfNames(self.config.pdf_name, notes=dict(notes))
        if self.config.pdf_name == DEFAULT_TEMPLATE:
            records: Iterator[dict[str, Any]] = (
                {"id": record_id(line)} for path in paths for line in path.read_bytes().splitlines()
            )
        else:
            records = (msgspec.json.decode(line) for path in paths for line in path.read_bytes().splitlines())
        names.assign(records, keep)
        return names

    def move_pdfs(self, names: PdfNames, ids: set[str] | None = None) -> None:
        """Move downloaded PDFs (of ``ids``, default all) to their names in ``pdfs/`` (repeatable)."""
        target = self.out / PDF_DIR
        target.mkdir(exist_ok=True)
        for key, name in names.files.items():
            if ids is not None and key not in ids:
                continue
            source = self.downloaded_pdf(key)
            if source.exists():
                os.replace(source, target / name)
        fsync_dir(target)

    def pdf_digests(self, names: Iterable[str]) -> dict[str, str]:
        """The sha256 of the named PDFs in ``pdfs/``, by their path in the manifest."""
        return {f"{PDF_DIR}/{name}": sha256_of(self.out / PDF_DIR / name) for name in names}
