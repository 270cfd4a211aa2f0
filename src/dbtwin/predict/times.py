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

log = logging.getLogger(__name__)

NANOS_PER_DAY = 86_400e9

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
