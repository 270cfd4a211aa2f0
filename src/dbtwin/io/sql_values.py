"""From SQL column types and the values a driver returns to dbtwin's storage types, value by value.

Values are read raw (no SQLAlchemy type processing, which would turn a SQLite BOOLEAN holding 2 into
True, or a MariaDB SET into a Python set), then converted here, where nothing changes silently:

* exact decimals (``NUMERIC(p, s)``, ``DECIMAL``) stay decimals with their scale; integers beyond
  int64 (``numeric(30, 0)``, ``BIGINT UNSIGNED``) are kept as decimals of scale 0;
* NaN in a float column stays apart from NULL;
* a SQLite column's declared type is an affinity, not a constraint: one whose values do not fit it
  (a BOOLEAN holding 2 or 'yes', a NUMERIC holding 'three') is read by its values, and a warning
  says which column and how;
* binary values are refused with the column named;
* what a destination will not get back as it was (a SET becomes text, a time zone is dropped, a
  DATE becomes a time) is said once per read.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from dbtwin.errors import SchemaError
from dbtwin.schema.detect import infer_storage
from dbtwin.schema.dtypes import ConversionError, decimal_shape, to_storage
from dbtwin.schema.model import StorageType

log = logging.getLogger(__name__)

#: How dbtwin declares an exact decimal in SQLite, which has no such type: TEXT affinity keeps every
#: digit (NUMERIC affinity would keep 15), the name tells dbtwin to read it back as a decimal.
SQLITE_DECIMAL = "DECIMAL_TEXT"


@dataclass
class Declared:
    """What the catalog says a column holds: a storage type (None: the values decide) and, for a
    decimal, its precision and scale."""

    storage: StorageType | None
    precision: int | None = None
    scale: int | None = None
    #: what reading does to the column that a user should hear of (said once per read)
    note: str | None = None


@dataclass
class ReadColumn:
    """A column as read: its values in canonical form and its storage type."""

    values: pd.Series
    storage: StorageType
    precision: int | None = None
    scale: int | None = None


def declared_type(sql_type: sa.types.TypeEngine, dialect: str, raw_type: str | None = None) -> Declared | None:
    """The storage a reflected SQL type declares; ``None`` for types dbtwin does not model (binary,
    JSON, arrays, intervals, times of day). ``raw_type`` is SQLite's declared type text."""
    if dialect == "sqlite" and raw_type and raw_type.strip().upper().startswith(SQLITE_DECIMAL):
        precision, scale = _numbers(raw_type)
        return Declared(StorageType.DECIMAL, precision, scale)
    if isinstance(sql_type, sa.types.NullType):
        return Declared(None)
    if isinstance(sql_type, sa.Boolean):
        return Declared(StorageType.BOOL)
    if isinstance(sql_type, sa.Integer):
        return Declared(StorageType.INT64)
    if isinstance(sql_type, sa.Float):
        return Declared(StorageType.FLOAT64)
    if isinstance(sql_type, sa.Numeric):
        scale, precision = getattr(sql_type, "scale", None), getattr(sql_type, "precision", None)
        if scale == 0:
            return Declared(StorageType.INT64, precision, 0)
        if dialect == "sqlite":  # NUMERIC affinity: SQLite itself stores such values as REAL
            return Declared(StorageType.FLOAT64)
        return Declared(StorageType.DECIMAL, precision, scale)
    if isinstance(sql_type, sa.DateTime) and getattr(sql_type, "timezone", False):
        return Declared(StorageType.DATETIME, note="time zones dropped: times held in UTC")
    if isinstance(sql_type, sa.Date) and not isinstance(sql_type, sa.DateTime):
        if dialect == "sqlite":
            return Declared(StorageType.DATETIME)
        return Declared(StorageType.DATETIME, note="DATE columns held as date/times, written back as timestamps")
    if isinstance(sql_type, sa.DateTime):
        return Declared(StorageType.DATETIME)
    if type(sql_type).__name__ == "SET":
        return Declared(StorageType.STRING, note="SET columns held as text, members joined by commas ('x,y')")
    if isinstance(sql_type, sa.Enum | sa.String | sa.Uuid):
        return Declared(StorageType.STRING)
    return None


def _numbers(raw_type: str) -> tuple[int | None, int | None]:
    inside = raw_type.partition("(")[2].partition(")")[0]
    parts = [p.strip() for p in inside.split(",")]
    try:
        return (int(parts[0]), int(parts[1])) if len(parts) == 2 else (None, None)
    except ValueError:
        return None, None


def convert_column(values: pd.Series, declared: Declared, dialect: str, table: str, column: str) -> ReadColumn:
    """``values`` (raw driver objects) in the canonical form of the declared storage, or refused
    with the table and column named."""
    where = f"column '{table}.{column}'"
    binary = [v for v in values.tolist() if isinstance(v, bytes | bytearray | memoryview)]
    if binary:
        raise SchemaError(
            f"{where} holds binary values (BLOB, e.g. {bytes(binary[0])[:16]!r}), which dbtwin does not model; "
            "leave the column out of the source",
            table,
            column,
        )
    storage = declared.storage
    if storage is None:
        return _by_values(values, table, column, None)
    if dialect == "sqlite" and not _fits_sqlite(values, storage):
        return _by_values(values, table, column, storage)
    try:
        if storage == StorageType.FLOAT64:
            return ReadColumn(_floats(values), storage)
        if storage == StorageType.DECIMAL:
            return ReadColumn(to_storage(values, storage, declared.scale), storage, declared.precision, declared.scale)
        return ReadColumn(to_storage(values, storage), storage)
    except ConversionError as exc:
        if storage == StorageType.INT64 and "int64 range" in exc.reason:
            return _wide_integers(values, declared, where, table, column)
        if dialect == "sqlite":
            return _by_values(values, table, column, storage)
        raise SchemaError(f"{where} holds values that are not {storage.value}: {exc}", table, column) from None


def _wide_integers(values: pd.Series, declared: Declared, where: str, table: str, column: str) -> ReadColumn:
    """Integers beyond int64 (``numeric(30, 0)``, ``BIGINT UNSIGNED``) kept exactly as decimals."""
    try:
        converted = to_storage(values, StorageType.DECIMAL, 0)
    except ConversionError as exc:
        raise SchemaError(f"{where} holds values that are not integers: {exc}", table, column) from None
    precision = max(declared.precision or 0, decimal_shape(converted)[0])
    log.warning("%s holds integers beyond the int64 range: kept exactly as decimal(%d, 0)", where, precision)
    return ReadColumn(converted, StorageType.DECIMAL, precision, 0)


def _fits_sqlite(values: pd.Series, storage: StorageType) -> bool:
    """Whether SQLite values fit their declared storage as that storage means it: a BOOLEAN holds
    only 0 and 1, a DATE or DATETIME only text (SQLite stores anything there)."""
    if storage == StorageType.BOOL:
        return all(v is None or (isinstance(v, int) and v in (0, 1)) for v in values.tolist())
    if storage == StorageType.DATETIME:  # a number there is no moment (pandas would count it from 1970)
        return all(v is None or isinstance(v, str) for v in values.tolist())
    return True


def _by_values(values: pd.Series, table: str, column: str, declared: StorageType | None) -> ReadColumn:
    """A column whose declared type does not hold its values (or that has none): typed by its values.
    Text stays text: a database's 'yes' or '2020-01-01' is read back as that text, never parsed."""
    present = values.dropna().tolist()
    storage = StorageType.STRING if any(isinstance(v, str) for v in present) else infer_storage(values, table)
    if declared is not None:
        example = next((v for v in present if not _fits_one(v, declared)), present[0] if present else None)
        log.warning(
            "column '%s.%s' is declared %s but holds values that are not (e.g. %r): it is read as %s, every "
            "value as it is",
            table,
            column,
            declared.value,
            example,
            storage.value,
        )
    elif storage == StorageType.STRING:
        _warn_converted(values, table, column)
    try:
        if storage == StorageType.FLOAT64:
            return ReadColumn(_floats(values), storage)
        if storage == StorageType.DECIMAL:
            converted = to_storage(values, storage)
            return ReadColumn(converted, storage, *decimal_shape(converted))
        return ReadColumn(to_storage(values, storage), storage)
    except ConversionError as exc:
        raise SchemaError(
            f"column '{table}.{column}' holds values of several types that cannot be read together: {exc}",
            table,
            column,
        ) from None


def _fits_one(value: object, storage: StorageType) -> bool:
    if storage == StorageType.DATETIME and not isinstance(value, str):
        return False
    try:
        to_storage(pd.Series([value], dtype=object), storage)
    except ConversionError:
        return False
    return storage != StorageType.BOOL or (isinstance(value, int) and value in (0, 1))


def _floats(values: pd.Series) -> pd.Series:
    """Floats with NaN kept apart from NULL (``None``), as PostgreSQL returns them."""
    items = values.tolist()
    if not any(isinstance(v, float) and math.isnan(v) for v in items):
        return to_storage(values, StorageType.FLOAT64)
    numbers = pd.to_numeric(pd.Series([math.nan if v is None else v for v in items], dtype=object))
    null = [v is None for v in items]
    array = pd.arrays.FloatingArray(numbers.to_numpy(dtype="float64"), pd.array(null, dtype=bool).to_numpy())
    return pd.Series(array, index=values.index)


def _warn_converted(values: pd.Series, table: str, column: str) -> None:
    """Say which values of an untyped column (SQLite) become text because the column mixes types."""
    other = [v for v in values.dropna().tolist() if not isinstance(v, str)]
    if other:
        log.warning(
            "column '%s.%s' has no declared type and mixes text with other values: %d value(s) are stored "
            "as text, e.g. %r -> %r",
            table,
            column,
            len(other),
            other[0],
            to_storage(pd.Series([other[0]], dtype=object), StorageType.STRING).iloc[0],
        )


def say_notes(notes: dict[str, list[str]]) -> None:
    """One warning per kind of change, naming the columns it concerns."""
    for note, columns in notes.items():
        shown = ", ".join(columns[:5]) + (f" and {len(columns) - 5} more" if len(columns) > 5 else "")
        log.warning("%s: %s", note, shown)


__all__ = ["SQLITE_DECIMAL", "Declared", "ReadColumn", "convert_column", "declared_type", "say_notes"]
