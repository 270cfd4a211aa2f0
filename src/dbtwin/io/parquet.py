"""Parquet files, read and written type by type so that no value changes on the way.

pandas' own reader would turn NaN and NULL of a float column into one missing value, unsigned
integers above int64 into an internal error, and dates outside 1677-2262 into a bare "out of bounds"
message. Here each column is checked against what dbtwin models before it is converted: exact
decimals stay decimals, NaN stays apart from NULL, and anything else is refused with the table and
column named.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from dbtwin.errors import SchemaError
from dbtwin.schema.detect import DECIMAL_SIZES
from dbtwin.schema.dtypes import INT64_MAX, decimal_size
from dbtwin.schema.model import StorageType, Table

log = logging.getLogger(__name__)

#: The range of pandas' datetime64[ns], in which dbtwin holds times.
_FIRST, _LAST = pd.Timestamp.min, pd.Timestamp.max


def read_parquet_file(file: Path, table: str) -> pd.DataFrame:
    """Every column of a Parquet file as pandas, each checked to be one dbtwin holds exactly. The file
    is read a column at a time: memory holds the frame and one column's Arrow copy, not the whole
    table twice."""
    source = pq.ParquetFile(file)
    schema = source.schema_arrow
    seen: set[str] = set()
    for name in schema.names:
        if name in seen:
            raise SchemaError(f"table '{table}' has two columns named '{name}'; rename one", table, name)
        seen.add(name)
    columns: dict[str, pd.Series] = {}
    for field in schema:
        data = source.read(columns=[field.name])
        columns[field.name] = _column(data.column(0), field, table)
        del data
    frame = pd.DataFrame(columns, index=pd.RangeIndex(source.metadata.num_rows), copy=False)  # no second copy
    # declared sizes of decimal columns, for detection when no metadata says them
    frame.attrs[DECIMAL_SIZES] = {
        f.name: (f.type.precision, f.type.scale) for f in schema if pa.types.is_decimal(f.type)
    }
    return frame


def _column(values: pa.ChunkedArray, field: pa.Field, table: str) -> pd.Series:
    kind, where = field.type, f"column '{table}.{field.name}'"
    if pa.types.is_dictionary(kind):
        values, kind = values.cast(kind.value_type), kind.value_type
    if pa.types.is_string_view(kind):  # text as DataFusion and Polars write it: the same strings
        values, kind = values.cast(pa.large_string()), pa.large_string()
    if pa.types.is_unsigned_integer(kind) and kind.bit_width == 64:
        largest = pc.max(values).as_py()
        if largest is not None and largest > INT64_MAX:
            raise SchemaError(
                f"{where} holds unsigned integers beyond the int64 range (up to {largest}), which dbtwin does "
                "not model; store them as decimal or text",
                table,
                field.name,
            )
        values = values.cast(pa.int64())
    if pa.types.is_floating(kind):
        has_nan = bool(pc.any(pc.is_nan(values)).as_py() or False)
        array = values.to_pandas(types_mapper={kind: pd.Float64Dtype()}.get if has_nan else None)
        return pd.Series(array, name=field.name).reset_index(drop=True)
    if pa.types.is_integer(values.type):  # beside NULLs too, never through float64
        return pd.Series(
            values.cast(pa.int64()).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get), name=field.name
        )
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return _times(values, kind, where, table, field.name)
    if not _supported(kind):
        raise SchemaError(
            f"{where} has Parquet type {kind}, which dbtwin does not model (numbers, decimals, text, booleans "
            "and date/times are); leave the column out of the file",
            table,
            field.name,
        )
    return pd.Series(values.to_pandas(), name=field.name).reset_index(drop=True)


def _supported(kind: pa.DataType) -> bool:
    return (
        pa.types.is_integer(kind)
        or pa.types.is_decimal(kind)
        or pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_null(kind)
    )


def _times(values: pa.ChunkedArray, kind: pa.DataType, where: str, table: str, column: str) -> pd.Series:
    stamps = values.cast(pa.timestamp("us", tz=getattr(kind, "tz", None))) if pa.types.is_date(kind) else values
    low, high = pc.min(stamps).as_py(), pc.max(stamps).as_py()
    for bound in (low, high):
        if bound is not None and not _FIRST <= pd.Timestamp(bound).tz_localize(None) <= _LAST:
            raise SchemaError(
                f"{where} holds the time {bound}, outside the range dbtwin holds times in "
                f"({_FIRST.year}-09-21 to {_LAST.year}-04-11); store it as text",
                table,
                column,
            )
    if getattr(kind, "tz", None):
        log.warning("%s holds times with the time zone %s: they are kept as UTC times without a zone", where, kind.tz)
    return pd.Series(stamps.to_pandas(), name=column).reset_index(drop=True)


#: Rows converted and written at a time: memory holds one chunk's Arrow copy, not the table's.
CHUNK_ROWS = 500_000


def write_parquet_file(frame: pd.DataFrame, table: Table, file: Path, chunk_rows: int = CHUNK_ROWS) -> None:
    """One table as a Parquet file, ``chunk_rows`` rows (one row group) at a time; decimal columns as
    decimal128/256 of their precision and scale (found over the whole column), nullable floats with
    their NaN values apart from NULL."""
    with ParquetTableWriter(file, table, frame) as writer:
        writer.append(frame, chunk_rows)


class ParquetTableWriter:
    """One table's Parquet file written a frame at a time, its column types found from ``sizing``:
    rows holding each column's widest values (the whole table, or those rows of every part)."""

    def __init__(self, file: Path, table: Table, sizing: pd.DataFrame) -> None:
        self.schema = pa.Schema.from_pandas(sizing, preserve_index=False)
        for col in table.columns:
            if col.dtype != StorageType.DECIMAL:
                continue
            precision, scale = decimal_size(sizing[col.name], col.precision, col.scale)
            kind = pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(min(precision, 76), scale)
            self.schema = self.schema.set(self.schema.get_field_index(col.name), pa.field(col.name, kind))
        self._writer = pq.ParquetWriter(file, self.schema, compression="zstd")

    def append(self, frame: pd.DataFrame, chunk_rows: int = CHUNK_ROWS) -> None:
        for start in range(0, len(frame), chunk_rows):
            chunk = frame.iloc[start : start + chunk_rows]
            self._writer.write_table(pa.Table.from_pandas(chunk, schema=self.schema, preserve_index=False))

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> ParquetTableWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["ParquetTableWriter", "read_parquet_file", "write_parquet_file"]
