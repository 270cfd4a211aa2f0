"""Numeric feature matrices of table rows, shared by detection, privacy and utility measures:
continuous columns as numbers (datetimes in days), categoricals as integer codes fitted on the real
and synthetic values together in sorted order (in order of appearance, every value only one side has
would sit above all the real ones, and one split would tell a generated city from every real one),
missing values as NaN (gradient boosting handles them)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dbtwin.database import Database
from dbtwin.evaluate.trends import CONTINUOUS, scored_columns
from dbtwin.graph import RowGraph
from dbtwin.schema.dtypes import NANOS_PER_DAY, nanoseconds


def numeric_column(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return nanoseconds(series) / NANOS_PER_DAY
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("float64").to_numpy()
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def table_features(
    real: Database, synthetic: Database, table: str, columns: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Row features of ``table`` in both databases (same encoding), and their names."""
    cols = scored_columns(real.schema, table) if columns is None else columns
    kinds = {c.name: c.kind for c in real.schema.table(table).columns}
    real_parts, syn_parts = [], []
    for col in cols:
        a, b = real[table][col], synthetic[table][col]
        if kinds[col] in CONTINUOUS:
            real_parts.append(numeric_column(a))
            syn_parts.append(numeric_column(b))
        else:
            both = pd.concat([a.astype(object), b.astype(object)], ignore_index=True)
            codes, _ = pd.factorize(both.where(both.notna(), "<NULL>").astype(str), sort=True)
            real_parts.append(codes[: len(a)].astype(np.float64))
            syn_parts.append(codes[len(a) :].astype(np.float64))
    shape = lambda parts, n: np.stack(parts, axis=1) if parts else np.zeros((n, 0))  # noqa: E731
    return shape(real_parts, len(real[table])), shape(syn_parts, len(synthetic[table])), list(cols)


def child_aggregates(
    db: Database, table: str, codes_of: dict[tuple[str, str], np.ndarray] | None = None
) -> tuple[np.ndarray, list[str]]:
    """Per row of ``table``: for each foreign key pointing at it, the number of children, the mean of
    each continuous child column and the number of distinct values of each categorical child column."""
    graph = RowGraph.from_database(db)
    n = db.num_rows(table)
    parts, names = [], []
    for fk in db.schema.foreign_keys_to(table):
        link = graph.links[fk.name]
        parents = link.parent_rows
        counts = np.bincount(parents, minlength=n).astype(np.float64)
        parts.append(counts)
        names.append(f"{fk.child}.count")
        kinds = {c.name: c.kind for c in db.schema.table(fk.child).columns}
        child = db[fk.child]
        for col in scored_columns(db.schema, fk.child):
            if kinds[col] in CONTINUOUS:
                values = numeric_column(child[col])[link.child_rows]
                ok = np.isfinite(values)
                sums = np.bincount(parents[ok], weights=values[ok], minlength=n)
                num = np.bincount(parents[ok], minlength=n)
                with np.errstate(invalid="ignore", divide="ignore"):
                    parts.append(np.where(num > 0, sums / np.maximum(num, 1), np.nan))
                names.append(f"{fk.child}.{col}.mean")
            else:
                values = child[col].astype(object).where(child[col].notna(), "<NULL>").astype(str).to_numpy()
                frame = pd.DataFrame({"p": parents, "v": values[link.child_rows]})
                distinct = frame.groupby("p")["v"].nunique()
                out = np.zeros(n)
                out[distinct.index.to_numpy()] = distinct.to_numpy()
                parts.append(out)
                names.append(f"{fk.child}.{col}.distinct")
    if not parts:
        return np.zeros((n, 0)), []
    return np.stack(parts, axis=1), names
