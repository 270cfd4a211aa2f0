"""The rows dbtwin writes through SQLAlchemy: the order tables are filled in (parents first; within a
cycle of tables, nullable foreign keys deferred and filled by UPDATE afterwards), rows of a
self-referencing table after the rows they reference, values as the driver takes them, in batches."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dbtwin.database import NULL_REF, Database, parent_positions
from dbtwin.errors import SchemaError
from dbtwin.progress import Progress
from dbtwin.schema.components import strongly_connected
from dbtwin.schema.model import ForeignKey, StorageType, Table

log = logging.getLogger(__name__)


def insert_plan(db: Database) -> tuple[list[str], list[ForeignKey]]:
    """The order to insert tables in, and the foreign keys to insert as NULL and fill in by UPDATE
    afterwards: within each cycle of tables, nullable foreign keys are deferred until the rest orders
    parents before children (self-references aside, which rows handle)."""
    schema = db.schema
    deferred: list[ForeignKey] = []
    while True:
        live = [fk for fk in schema.foreign_keys if not fk.is_self_reference and fk not in deferred]
        parents = {t: sorted({fk.parent for fk in live if fk.child == t}) for t in schema.table_names}
        components = strongly_connected(schema.table_names, lambda t, p=parents: p[t])
        cyclic = [c for c in components if len(c) > 1]
        if not cyclic:
            return [t for comp in components for t in comp], deferred
        cycle = set(cyclic[0])
        candidates = [
            fk
            for fk in live
            if fk.child in cycle
            and fk.parent in cycle
            and all(schema.table(fk.child).column(c).nullable for c in fk.columns)
        ]
        if not candidates:
            names = " -> ".join(sorted(cycle))
            raise SchemaError(
                f"tables {names} form a cycle of NOT NULL foreign keys, which cannot be inserted",
                table=sorted(cycle)[0],
            )
        fk = candidates[0]
        if not schema.table(fk.child).primary_key:
            raise SchemaError(
                f"table '{fk.child}' is in a foreign-key cycle but has no primary key to update rows by",
                table=fk.child,
            )
        deferred.append(fk)


def _python_columns(frame: pd.DataFrame, table: Table) -> dict[str, list]:
    out = {}
    for col in table.columns:
        series = frame[col.name]
        if col.dtype == StorageType.DATETIME:
            values = [None if pd.isna(v) else v.to_pydatetime() for v in series]
        elif col.dtype == StorageType.FLOAT64:
            values = series.astype(object).where(series.notna(), None).tolist()
        else:
            values = series.to_numpy(dtype=object, na_value=None).tolist()
        out[col.name] = values
    return out


def _self_reference_order(db: Database, name: str) -> np.ndarray:
    """Row order of ``name`` that puts every row after the row it references through a
    self-referencing foreign key (depth in the reference forest)."""
    n = db.num_rows(name)
    self_fks = [fk for fk in db.schema.foreign_keys_of(name) if fk.is_self_reference]
    if not self_fks:
        return np.arange(n)
    depth = np.zeros(n, dtype=np.int64)
    for fk in self_fks:
        parent = parent_positions(db[name], db[name], fk)
        own = (parent >= 0) & (parent != np.arange(n))
        cur = np.where(own, parent, -1)
        level = np.zeros(n, dtype=np.int64)
        for _ in range(n + 1):
            active = cur >= 0
            if not active.any():
                break
            level += active
            nxt = np.full(n, -1, dtype=np.int64)
            nxt[active] = np.where(own[cur[active]], parent[cur[active]], -1)
            cur = nxt
        else:
            raise SchemaError(
                f"rows of table '{name}' reference each other in a cycle through {fk}", table=name, column=fk.columns[0]
            )
        depth = np.maximum(depth, level)
    return np.argsort(depth, kind="stable")


def insert_table(
    conn: Connection,
    tobj: sa.Table,
    db: Database,
    name: str,
    deferred: list[ForeignKey],
    batch_rows: int,
    progress: Progress | None = None,
) -> None:
    """The rows of ``name`` inserted ``batch_rows`` at a time, each batch turned into the driver's
    values only when it is sent (memory holds one batch of Python values, not the table's)."""
    table = db.schema.table(name)
    frame = db[name]
    if any(fk.is_self_reference for fk in db.schema.foreign_keys_of(name)):
        frame = frame.iloc[_self_reference_order(db, name)]
    later = [col for fk in deferred if fk.child == name for col in fk.columns]  # set once their parents are in
    send = _sqlite_sender(conn, tobj, [c.name for c in table.columns]) if conn.dialect.name == "sqlite" else None
    for start in range(0, len(frame), batch_rows):
        chunk = frame.iloc[start : start + batch_rows]
        columns = _python_columns(chunk, table)
        columns.update({col: [None] * len(chunk) for col in later})
        if send is not None:
            send(columns)
        else:
            conn.execute(tobj.insert(), _rows(columns))
        if progress is not None:
            progress.advance(len(chunk))
    log.info("wrote %d rows to '%s'", len(frame), name)


def apply_deferred(conn: Connection, tobj: sa.Table, db: Database, fk: ForeignKey, batch_rows: int) -> None:
    table = db.schema.table(fk.child)
    frame = db[fk.child]
    pos = parent_positions(frame, db[fk.parent], fk)
    rows = frame.loc[pos != NULL_REF]
    pk = list(table.primary_key)
    stmt = (
        tobj.update()
        .where(*[tobj.c[c] == sa.bindparam(f"k_{i}") for i, c in enumerate(pk)])
        .values({c: sa.bindparam(f"v_{i}") for i, c in enumerate(fk.columns)})
    )
    for start in range(0, len(rows), batch_rows):
        columns = _python_columns(rows.iloc[start : start + batch_rows], table)
        params = {f"k_{i}": columns[c] for i, c in enumerate(pk)} | {
            f"v_{i}": columns[c] for i, c in enumerate(fk.columns)
        }
        conn.execute(stmt, _rows(params))


def _sqlite_sender(conn: Connection, tobj: sa.Table, names: list[str]):
    """A function inserting column lists of ``names`` into ``tobj`` with one ``executemany`` of row
    tuples on SQLite's cursor, each value bound as SQLAlchemy binds it for the column's type: the same
    stored values as an ``insert()`` of row dicts (which spends most of its time building them)."""
    prepare = conn.dialect.identifier_preparer
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        prepare.format_table(tobj), ", ".join(prepare.quote(n) for n in names), ", ".join("?" * len(names))
    )
    binders = [tobj.c[n].type.dialect_impl(conn.dialect).bind_processor(conn.dialect) for n in names]

    def send(columns: dict[str, list]) -> None:
        bound = [
            columns[n] if bind is None else [bind(v) for v in columns[n]]
            for n, bind in zip(names, binders, strict=True)
        ]
        conn.exec_driver_sql(sql, list(zip(*bound, strict=True)))

    return send


def _rows(columns: dict[str, list]) -> list[dict]:
    """Column lists as the list of row dicts the driver takes."""
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*(columns[c] for c in names), strict=True)]
