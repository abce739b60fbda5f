"""What an export's options mean for one listing, checked before anything is written: the filter
to send, the output tables (the records', and one per included relation), and the scope and
warnings the summary reports."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from .._client import KanbertClient
from .._core.errors import InvalidRequestError
from ..filter_dsl import parse_filter
from ..filters import Filter
from .config import ExportConfig, ExportError
from .dialects import CSV_DIALECTS
from .entities import ENTITIES, Entity
from .flatten import column_types
from .parquet import require_pyarrow
from .pdfnames import template_fields
from .scope import ARCHIVED_FIELD, ARCHIVED_MODES, Archived, describe, enum_warnings, export_filter, mentions

__all__ = ["Plan", "Table", "prepare"]


@dataclass(frozen=True)
class Table:
    """One output table: the entity's records, or one relation's rows with the record's id first."""

    stem: str
    model: type[msgspec.Struct]
    relation: str | None
    columns: dict[str, Any]
    money: frozenset[str]

    @property
    def key(self) -> str:
        """The column that names the record a row belongs to."""
        return "id" if self.relation is None else "invoice_id"


@dataclass
class Plan:
    """What the options mean for this listing: the filter to send, the tables, the warnings."""

    entity: Entity
    capabilities: Any
    tree: Filter | None
    tables: list[Table]
    scope: list[str]
    warnings: list[str]
    archived: Archived | None


def prepare(kb: KanbertClient, config: ExportConfig) -> Plan:
    """Check ``config`` against the entity and its listing's capabilities; raises ExportError in
    the command's words (``--filter``, ``--include``, …) for anything the export cannot do."""
    try:
        entity = ENTITIES[config.entity]
    except KeyError:
        raise ExportError(f"unknown entity {config.entity!r}; choose one of: {', '.join(ENTITIES)}") from None
    if config.pdfs and entity.pdf is None:
        raise ExportError(f"{entity.name} has no PDFs to export; drop --pdfs")
    if (config.since or config.until) and entity.date_field is None:
        raise ExportError(f"{entity.name} has no date field to filter on; drop --since/--until")
    if config.since and config.until and config.since > config.until:
        raise ExportError(f"--since {config.since} is after --until {config.until}: no date is in that range")
    if config.archived not in ARCHIVED_MODES:
        raise ExportError(f"--archived {config.archived!r}: choose with, only or without")
    if config.csv_dialect not in CSV_DIALECTS:
        raise ExportError(f"--csv-dialect {config.csv_dialect!r}: choose {', '.join(CSV_DIALECTS)}")
    try:
        formats = config.formats()
        template_fields(config.pdf_name)
    except ValueError as exc:
        option = "--format" if "jsonl" in str(exc) else "--pdf-name"
        raise ExportError(f"{option} {exc}") from None
    if "parquet" in formats:
        try:
            require_pyarrow()
        except ImportError as exc:
            raise ExportError(str(exc)) from None
    capabilities = entity.list(kb)().capabilities
    user = parse_filter(config.filter) if config.filter else None
    if capabilities is not None:
        try:
            capabilities.check_include(list(config.include))
        except InvalidRequestError as exc:
            raise ExportError(f"--include: {exc}") from None
        try:
            capabilities.check_filter(user)
        except InvalidRequestError as exc:
            raise ExportError(f"--filter: {exc}") from None
    if mentions(user, ARCHIVED_FIELD):
        raise ExportError("--filter: leave archived out of the filter and use --archived with|only|without")
    offers_archived = capabilities is not None and ARCHIVED_FIELD in capabilities.filter_fields
    if not offers_archived and config.archived != "with":
        raise ExportError(f"--archived {config.archived}: {entity.name} has no archived filter")
    archived = config.archived if offers_archived else None
    dates = (entity.date_field, config.since, config.until)
    return Plan(
        entity=entity,
        capabilities=capabilities,
        tree=export_filter(user, *dates, archived=archived),
        tables=_tables(entity, config, capabilities),
        scope=describe(config.filter, *dates, archived=archived, records=entity.records),
        warnings=enum_warnings(user, capabilities),
        archived=archived,
    )


def _currency_fields(fields: Any) -> frozenset[str]:
    return frozenset(f.name for f in fields if f.type == "currency")


def _tables(entity: Entity, config: ExportConfig, capabilities: Any) -> list[Table]:
    filter_fields = capabilities.filter_fields if capabilities is not None else {}
    tables = [
        Table(
            entity.stem,
            entity.model,
            None,
            column_types(entity.model, skip=entity.children),
            _currency_fields(capabilities.fields if capabilities is not None else ()),
        )
    ]
    for relation in config.include:
        if relation in entity.children:
            model = entity.children[relation]
            spec = filter_fields.get(relation)
            tables.append(
                Table(
                    relation,
                    model,
                    relation,
                    {"invoice_id": msgspec.inspect.StrType(), **column_types(model)},
                    _currency_fields(spec.sub_fields if spec is not None else ()),
                )
            )
    return tables
