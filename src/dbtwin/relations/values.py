"""The values rules read and write: columns aligned to a table's rows, as numbers or as codes.

A :class:`Rows` view of one table resolves a :class:`~dbtwin.relations.rules.Ref` to one value per
row (a parent's column through its foreign key; NULL where the key is NULL), turns numbers and
datetimes into ``float64`` (datetimes in seconds) and compares them with a tolerance fitted to the
column's decimals, so that a total rounded to cents equals the sum it was rounded from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dbtwin.database import Database
from dbtwin.relations.rules import Ref
from dbtwin.schema.dtypes import NANOS_PER_SECOND, nanoseconds
from dbtwin.schema.model import ColumnKind, StorageType

#: Relative tolerance of every numeric comparison (float sums and products are not exact).
RELATIVE_TOLERANCE = 1e-9
#: Most decimals a derived number is rounded to.
MAX_DECIMALS = 6


class Rows:
    """One table of ``db`` with its foreign keys resolved once."""

    def __init__(self, db: Database, table: str, positions: dict[str, np.ndarray] | None = None) -> None:
        self.db = db
        self.table = table
        self.frame = db[table]
        self._positions: dict[str, np.ndarray] = {} if positions is None else positions

    def __len__(self) -> int:
        return len(self.frame)

    def positions(self, foreign_key: str) -> np.ndarray:
        """Position in its parent of each row of ``foreign_key``'s child table (negative: none)."""
        if foreign_key not in self._positions:
            self._positions[foreign_key] = self.db.parent_positions(self.db.schema.foreign_key(foreign_key))
        return self._positions[foreign_key]

    def series(self, ref: Ref) -> pd.Series:
        """The values of ``ref``, one per row (NULL where the path reaches no row); with a part, that
        part of the datetime (Int64)."""
        values = self._resolved(ref)
        if ref.part is None:
            return values
        return pd.Series(pd.array(datetime_part(values, ref.part), dtype="Float64")).astype("Int64")

    def _resolved(self, ref: Ref) -> pd.Series:
        if not ref.path:
            return self.frame[ref.column].reset_index(drop=True)
        pos = np.arange(len(self.frame))
        table = self.table
        for name in ref.path:
            step = self.positions(name)
            pos = np.where(pos >= 0, step[np.where(pos >= 0, pos, 0)], -1) if len(step) else np.full(len(pos), -1)
            table = self.db.schema.foreign_key(name).parent
        source = self.db[table][ref.column]
        linked = pos >= 0
        if not len(source):
            return pd.Series([None] * len(linked), dtype=object)
        values = source.iloc[np.where(linked, pos, 0)].reset_index(drop=True)
        if linked.all():
            return values
        if values.dtype == object:
            return values.where(pd.Series(linked), None)
        return values.mask(pd.Series(~linked))

    def numbers(self, ref: Ref) -> np.ndarray:
        """``ref`` as ``float64`` (NaN for NULL; datetimes in seconds since 1970)."""
        return as_numbers(self.series(ref))

    def codes(self, ref: Ref) -> np.ndarray:
        """``ref`` as integer codes, NULL a code of its own."""
        codes, _ = pd.factorize(self.series(ref), use_na_sentinel=False)
        return codes.astype(np.int64)


class Views:
    """The tables of one database as :class:`Rows`, each built once, sharing one cache of the
    foreign keys' parent positions (discovery checks hundreds of candidates on the same tables)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._rows: dict[str, Rows] = {}
        self._positions: dict[str, np.ndarray] = {}

    def of(self, table: str) -> Rows:
        if table not in self._rows:
            self._rows[table] = Rows(self.db, table, self._positions)
        return self._rows[table]


def datetime_part(values: pd.Series, part: str, offset_hours: int = 0) -> np.ndarray:
    """The ``part`` of each datetime (``float64``, NaN where NULL), shifted by ``offset_hours``."""
    stamps = pd.to_datetime(values) + pd.Timedelta(hours=offset_hours)
    out = stamps.dt.weekday if part == "weekday" else getattr(stamps.dt, part)
    return out.to_numpy(dtype=np.float64, na_value=np.nan)


def as_numbers(series: pd.Series) -> np.ndarray:
    """A numeric or datetime column as ``float64`` (NaN for NULL, datetimes in seconds)."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return nanoseconds(series) / NANOS_PER_SECOND
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def from_numbers(values: np.ndarray, dtype: StorageType) -> pd.Series:
    """Numbers back in the storage form of ``dtype`` (int64 rounded, datetimes from seconds)."""
    present = np.isfinite(values)
    if dtype == StorageType.DATETIME:
        nanos = np.where(present, np.round(np.where(present, values, 0) * NANOS_PER_SECOND), 0).astype(np.int64)
        out = pd.Series(nanos.view("datetime64[ns]"))
        return out.mask(~pd.Series(present))
    if dtype == StorageType.INT64:
        ints = pd.array(np.round(np.where(present, values, 0)).astype(np.int64), dtype="Int64")
        ints[~present] = pd.NA
        return pd.Series(ints)
    return pd.Series(np.where(present, values, np.nan))


def decimals_of(values: np.ndarray) -> int | None:
    """The fewest decimals every finite value is written with (None: more than :data:`MAX_DECIMALS`)."""
    sample = values[np.isfinite(values)][:100_000]
    with np.errstate(over="ignore", invalid="ignore"):
        for d in range(MAX_DECIMALS + 1):
            scaled = sample * 10.0**d
            if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6 + 1e-12 * np.abs(scaled)):
                return d
    return None


def close(actual: np.ndarray, expected: np.ndarray, decimals: int | None) -> np.ndarray:
    """Per row: both NULL, or equal up to rounding ``expected`` to ``decimals`` (and a relative 1e-9)."""
    both_missing = np.isnan(actual) & np.isnan(expected)
    half_unit = 0.5 * 10.0 ** (-decimals) if decimals is not None else 0.0
    with np.errstate(invalid="ignore", over="ignore"):
        tol = half_unit * (1 + 1e-6) + RELATIVE_TOLERANCE * np.maximum(np.abs(actual), np.abs(expected))
        return both_missing | (np.abs(actual - expected) <= tol)


def agree_where_known(actual: np.ndarray, expected: np.ndarray, decimals: int | None) -> np.ndarray:
    """Per row: :func:`close`, or a hole (only one of the two NULL), which breaks nothing."""
    return close(actual, expected, decimals) | (np.isnan(actual) != np.isnan(expected))


def rounded(values: np.ndarray, decimals: int | None) -> np.ndarray:
    return values if decimals is None else np.round(values, decimals)


def is_number(kind: ColumnKind, dtype: StorageType) -> bool:
    """Whether a column holds quantities a formula or an aggregate may read or write."""
    return kind in (ColumnKind.INTEGER, ColumnKind.FLOAT) and dtype in (StorageType.INT64, StorageType.FLOAT64)


def is_orderable(kind: ColumnKind, dtype: StorageType) -> bool:
    return is_number(kind, dtype) or dtype == StorageType.DATETIME


def is_label(kind: ColumnKind) -> bool:
    """Whether a column holds labels a dependency may read or write."""
    return kind in (ColumnKind.CATEGORICAL, ColumnKind.TEXT, ColumnKind.BOOLEAN)
