"""Parquet tables with real types: dates, timestamps with zone, decimals for money, lists and structs.

One file per table, the columns those of the CSV (:mod:`.flatten`). Column types come from the
model: ``datetime`` → ``timestamp[us, UTC]``, ``date`` → ``date32``, enums → strings, lists →
lists, nested objects below the flattened levels → structs, free-form objects → JSON text.
Money (the fields the API's filter table types as currency) → ``decimal128(18, 4)``.

Needs pyarrow: ``pip install 'kanbert-async[parquet]'``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
from msgspec import inspect as mi

from .flatten import lookup

__all__ = ["MONEY", "ParquetTable", "copy_rows_except", "require_pyarrow"]

#: Money columns: 18 digits, 4 of them after the point (cents, and unit prices of a tenth of a cent).
MONEY_PRECISION, MONEY_SCALE = 18, 4
MONEY = "decimal"
_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)
_BATCH_ROWS = 10_000
#: Keep datetimes and dates as objects when turning models into builtins (Arrow wants them so).
BUILTIN_TYPES = (dt.datetime, dt.date)


def require_pyarrow() -> Any:
    """The pyarrow module; an ImportError that says how to install it otherwise."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ImportError("--format parquet needs pyarrow: pip install 'kanbert-async[parquet]'") from None
    return pyarrow


def _unwrap(info: mi.Type) -> mi.Type | None:
    """The one real type of an optional (``X | None``, ``X | UNSET``), or None for a true union."""
    while isinstance(info, mi.Metadata):
        info = info.type
    if isinstance(info, mi.UnionType):
        real = [t for t in info.types if not isinstance(t, mi.NoneType)]
        return _unwrap(real[0]) if len(real) == 1 else None
    return info


def _json_text(value: Any) -> Any:
    return None if value is None else msgspec.json.encode(value).decode()


def _money(value: Any) -> Decimal | None:
    if value is None:
        return None
    return Decimal(repr(value) if isinstance(value, float) else str(value)).quantize(_QUANTUM)


def _arrow(pa: Any, info: mi.Type, path: tuple[type, ...] = ()) -> tuple[Any, Callable[[Any], Any] | None]:
    """The Arrow type for a msgspec type, and how to convert a builtin value (None: as it is).

    ``path`` holds the structs being expanded: a struct that contains itself (a client's contact's
    client) is written as JSON text where it recurs.
    """
    real = _unwrap(info)
    if isinstance(real, mi.BoolType):
        return pa.bool_(), None
    if isinstance(real, mi.IntType):
        return pa.int64(), None
    if isinstance(real, mi.FloatType):
        return pa.float64(), None
    if isinstance(real, mi.StrType | mi.EnumType | mi.LiteralType):
        return pa.string(), None
    if isinstance(real, mi.DateTimeType):
        return pa.timestamp("us", tz="UTC"), None
    if isinstance(real, mi.DateType):
        return pa.date32(), None
    if isinstance(real, mi.ListType | mi.VarTupleType):
        item_type, convert = _arrow(pa, real.item_type, path)
        if convert is None:
            return pa.list_(item_type), None
        return pa.list_(item_type), lambda v: None if v is None else [convert(x) for x in v]
    if isinstance(real, mi.StructType) and real.fields and real.cls not in path:
        inner = (*path, real.cls)
        parts = [(f.encode_name, *_arrow(pa, f.type, inner)) for f in real.fields]
        arrow_type = pa.struct([pa.field(name, t) for name, t, _ in parts])
        converters = {name: c for name, _, c in parts if c is not None}
        if not converters:
            return arrow_type, None

        def struct(value: Any) -> Any:
            if value is None:
                return None
            return {k: (converters[k](v) if k in converters else v) for k, v in value.items()}

        return arrow_type, struct
    # Free-form objects, true unions, objects the description shows no fields of: JSON text.
    return pa.string(), _json_text


class ParquetTable:
    """One Parquet file written in batches; rows are model builtins (see :data:`BUILTIN_TYPES`)."""

    def __init__(self, path: Path, columns: Mapping[str, mi.Type], money: Iterable[str] = ()) -> None:
        self.pa = require_pyarrow()
        import pyarrow.parquet as pq

        money = frozenset(money)
        fields, self._converters = [], []
        for name, info in columns.items():
            convert: Callable[[Any], Any] | None
            if name in money and isinstance(_unwrap(info), mi.FloatType):
                arrow_type, convert = self.pa.decimal128(MONEY_PRECISION, MONEY_SCALE), _money
            else:
                arrow_type, convert = _arrow(self.pa, info)
            fields.append(self.pa.field(name, arrow_type))
            self._converters.append(convert)
        self.columns = list(columns)
        self.schema = self.pa.schema(fields)
        self._writer = pq.ParquetWriter(str(path), self.schema, compression="zstd")
        self._pending: list[list[Any]] = [[] for _ in self.columns]
        self.rows = 0

    def add(self, builtins: Mapping[str, Any], prefix: Mapping[str, Any] | None = None) -> None:
        """Add one row: ``prefix`` columns (``invoice_id`` of a child row) first, then the rest."""
        for index, column in enumerate(self.columns):
            if prefix is not None and column in prefix:
                value = prefix[column]
            else:
                value = lookup(dict(builtins), column)
                convert = self._converters[index]
                if convert is not None:
                    value = convert(value)
            self._pending[index].append(value)
        self.rows += 1
        if len(self._pending[0]) >= _BATCH_ROWS:
            self._flush()

    def write_batch(self, batch: Any) -> None:
        """Copy an Arrow record batch of this schema (rows of an earlier generation)."""
        self._flush()
        self._writer.write_batch(batch)
        self.rows += batch.num_rows

    def _flush(self) -> None:
        if not self._pending[0]:
            return
        arrays = [
            self.pa.array(values, type=field.type)
            for values, field in zip(self._pending, self.schema, strict=True)
        ]
        self._writer.write_batch(self.pa.record_batch(arrays, schema=self.schema))
        self._pending = [[] for _ in self.columns]

    def close(self) -> None:
        """Write what is pending and the file footer."""
        self._flush()
        self._writer.close()


def copy_rows_except(source: Path, table: ParquetTable, key: str, drop: set[str]) -> int:
    """Copy the rows of ``source`` whose ``key`` is not in ``drop`` into ``table``; returns how many
    were dropped."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    pa = table.pa
    dropped = 0
    drop_array = pa.array(sorted(drop), type=pa.string())
    for batch in pq.ParquetFile(str(source)).iter_batches(batch_size=_BATCH_ROWS):
        if batch.schema != table.schema:
            raise ValueError(f"{source.name} has other columns than this version of kanbert-async writes")
        keep = pc.invert(pc.is_in(batch.column(key), value_set=drop_array))
        kept = batch.filter(keep)
        dropped += batch.num_rows - kept.num_rows
        if kept.num_rows:
            table.write_batch(kept)
    return dropped
