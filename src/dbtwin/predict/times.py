"""When each row of a database became known: the clock that temporal sampling checks rows against.

A table's row time is, in order of preference, the task's SQL expression for it (``row_times``), the
schema's time column, or nothing: the table is static and its rows are always visible. Times are
int64 nanoseconds since the epoch; a row whose time is missing is never visible (it cannot be proven
to lie in the past).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from dbtwin.database import Database
from dbtwin.errors import SchemaError
from dbtwin.evaluate.features import numeric_column
from dbtwin.schema.dtypes import NANOS_PER_DAY
from dbtwin.schema.model import ColumnKind

log = logging.getLogger(__name__)


#: Column kinds that can hold a calendar position (see :func:`calendar_columns`).
CALENDAR_KINDS = {ColumnKind.INTEGER, ColumnKind.FLOAT, ColumnKind.DATETIME, ColumnKind.CATEGORICAL}

#: The time given to rows whose time is missing: after every timestamp, so never visible.
NEVER = np.iinfo(np.int64).max


def row_times(db: Database, expressions: Mapping[str, str] | None = None) -> dict[str, np.ndarray]:
    """Per table with a time, the int64-nanosecond time of each row (static tables are left out)."""
    expressions = dict(expressions or {})
    out: dict[str, np.ndarray] = {}
    for name, table in db.schema.tables.items():
        if name in expressions:
            values = _evaluate(db, name, expressions[name])
        elif table.time_column is not None:
            values = db[name][table.time_column]
        else:
            continue
        out[name] = to_nanos(values, name)
    return out


def known_before(times: Mapping[str, np.ndarray], moment: str | pd.Timestamp) -> dict[str, np.ndarray]:
    """Per timed table, which rows are known before ``moment`` (rows without a time never are)."""
    cutoff = _nanos(moment)
    return {table: values < cutoff for table, values in times.items()}


def rows_until(db: Database, times: Mapping[str, np.ndarray], moment: str | pd.Timestamp) -> Database:
    """``db`` cut at ``moment``: each timed table's rows whose time is at or before it (rows without a
    time left out), static tables whole."""
    cutoff = _nanos(moment)
    tables = {}
    for name in db.schema.table_names:
        frame = db[name]
        tables[name] = frame[times[name] <= cutoff].reset_index(drop=True) if name in times else frame
    return Database(db.schema, tables)


def _nanos(moment: str | pd.Timestamp) -> np.int64:
    """``moment`` as int64 nanoseconds since the epoch, as row times are held."""
    return pd.Timestamp(moment).to_datetime64().astype("datetime64[ns]").astype(np.int64)


def time_span(times: Mapping[str, np.ndarray]) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The earliest and the latest row time of any table (rows without a time left out)."""
    known = [t[t != NEVER] for t in times.values()]
    known = [t for t in known if len(t)]
    if not known:
        raise SchemaError("the task's schedule needs row times, and no table has any")
    return pd.Timestamp(min(int(t.min()) for t in known)), pd.Timestamp(max(int(t.max()) for t in known))


def calendar_columns(db: Database, times: Mapping[str, np.ndarray], agreement: float = 0.99) -> dict[str, list[str]]:
    """Per timed table, the columns that repeat where the row lies in absolute time: equal to the row's
    time itself, its year or its month on at least ``agreement`` of the rows with both (a local-time
    column disagrees with its UTC time near midnight at month ends).

    A temporal split never shows the training examples the later values of such a column (the test
    period's months, its year), so a model can only misread them; the age encoding already tells each
    row's time relative to the example's moment.
    """
    out: dict[str, list[str]] = {}
    for table, nanos in times.items():
        known = nanos != NEVER
        if not known.any():
            continue
        stamps = pd.DatetimeIndex(nanos[known].astype("datetime64[ns]"))
        parts = {
            "time": nanos[known] / NANOS_PER_DAY,  # in days, as numeric_column gives datetimes
            "year": stamps.year.to_numpy(np.float64),
            "month": stamps.month.to_numpy(np.float64),
        }
        keys = set(db.schema.key_columns(table))
        for col in db.schema.table(table).columns:
            if col.name in keys or col.kind not in CALENDAR_KINDS:
                continue
            values = numeric_column(db[table][col.name])[known]
            present = np.isfinite(values)
            if present.any() and any(np.mean(values[present] == part[present]) >= agreement for part in parts.values()):
                out.setdefault(table, []).append(col.name)
    return out


def to_nanos(values: pd.Series, table: str) -> np.ndarray:
    """Datetimes as int64 nanoseconds, missing ones as :data:`NEVER`."""
    try:
        stamps = pd.to_datetime(values)
    except (ValueError, TypeError) as exc:
        raise SchemaError(f"row times of table '{table}' are not datetimes: {exc}", table=table) from exc
    missing = stamps.isna().to_numpy()
    nanos = stamps.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    if missing.any():
        log.info("table '%s': %d row(s) without a time are never visible to predictions", table, int(missing.sum()))
        nanos[missing] = NEVER
    return nanos


def _evaluate(db: Database, table: str, expression: str) -> pd.Series:
    import duckdb

    con = duckdb.connect()
    try:
        con.register(table, db[table])
        try:  # DuckDB keeps a plain projection in insertion order
            frame = con.execute(f'SELECT {expression} AS t FROM "{table}"').df()
        except duckdb.Error as exc:
            raise SchemaError(f"row time expression of table '{table}' failed: {exc}", table=table) from exc
    finally:
        con.close()
    if len(frame) != db.num_rows(table):
        raise SchemaError(f"row time expression of table '{table}' must give one value per row", table=table)
    return frame["t"]
