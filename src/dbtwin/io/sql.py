"""Reading databases through SQLAlchemy: SQLite files, PostgreSQL, MariaDB/MySQL, ...

Reading reflects the catalog: tables, column types, primary keys and foreign keys. Column and table
comments carry dbtwin's kinds and time column where the database supports comments (written by
:mod:`dbtwin.io.sql_write`), so a round trip keeps them; without comments (SQLite) kinds are inferred
again on reading. Writing lives in :mod:`dbtwin.io.sql_write`.
"""

from __future__ import annotations

import logging
import re
from typing import Literal
from urllib.parse import unquote

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dbtwin.database import Database
from dbtwin.errors import SchemaError
from dbtwin.io.sql_values import Declared, convert_column, declared_type, say_notes
from dbtwin.schema.detect import infer_kind
from dbtwin.schema.model import Column, ColumnKind, ForeignKey, Schema, StorageType, Table

log = logging.getLogger(__name__)

UnsupportedPolicy = Literal["error", "skip"]
_COMMENT = re.compile(r"dbtwin:(\S+)")


# ----------------------------------------------------------------------------------------------- read
def read_sql(
    source: str | Engine,
    tables: list[str] | None = None,
    db_schema: str | None = None,
    unsupported: UnsupportedPolicy = "error",
    chunk_rows: int = 50_000,
) -> Database:
    """Read every table (or ``tables``) of a database given by a SQLAlchemy URL or engine."""
    engine = sa.create_engine(source) if isinstance(source, str) else source
    try:
        inspector = sa.inspect(engine)
        names = inspector.get_table_names(schema=db_schema)
        all_names = set(names)
        if tables is not None:
            missing = [t for t in tables if t not in names]
            if missing:
                raise SchemaError(f"table(s) {missing} not found in the database", table=missing[0])
            names = [t for t in names if t in tables]
        meta = sa.MetaData(schema=db_schema)
        table_objs = {n: _reflect(n, meta, engine, inspector, db_schema) for n in names}
        schema_tables: dict[str, Table] = {}
        frames: dict[str, pd.DataFrame] = {}
        foreign_keys: list[ForeignKey] = []
        unhinted: set[tuple[str, str]] = set()
        notes: dict[str, list[str]] = {}
        with engine.connect() as conn:
            for name in names:
                tobj = table_objs[name]
                raw_types = _sqlite_declared_types(conn, name) if engine.dialect.name == "sqlite" else {}
                declared = _modelled_columns(tobj, engine.dialect.name, raw_types, unsupported)
                frame = _read_rows(conn, tobj, [tobj.columns[c] for c in declared], chunk_rows)
                columns = _read_columns(frame, tobj, declared, engine.dialect.name, notes, unhinted)
                time_col = _parse_comment(_table_comment(inspector, name, db_schema)).get("time_column")
                pk = tuple(c.name for c in tobj.primary_key.columns)
                schema_tables[name] = Table(name, columns, pk, time_col if time_col in frame.columns else None)
                frames[name] = frame
                foreign_keys += _kept_foreign_keys(inspector, name, names, all_names, db_schema)
        say_notes(notes)
        schema = Schema(schema_tables, _unique_fk_names(foreign_keys))
        _fill_kinds(schema, frames, unhinted)
        return Database(schema, frames)
    finally:
        if isinstance(source, str):
            engine.dispose()


def _modelled_columns(
    tobj: sa.Table, dialect: str, raw_types: dict[str, str], unsupported: UnsupportedPolicy
) -> dict[str, Declared]:
    """The declared type of each column dbtwin models, in table order; a column of another type is
    refused by name (``unsupported="skip"``: left out with a warning, unless it is part of the key)."""
    pk = {c.name for c in tobj.primary_key.columns}
    declared: dict[str, Declared] = {}
    for col in tobj.columns:
        found = declared_type(col.type, dialect, raw_types.get(col.name))
        if found is None:
            msg = (
                f"column '{tobj.name}.{col.name}' has SQL type {col.type!r}, which dbtwin does not "
                "model (numbers, decimals, strings, booleans and date/times are supported)"
            )
            if unsupported == "error" or col.name in pk:
                raise SchemaError(msg + "; leave the column out of the source", tobj.name, col.name)
            log.warning("%s; left out", msg)
            continue
        declared[col.name] = found
    return declared


def _read_columns(
    frame: pd.DataFrame,
    tobj: sa.Table,
    declared: dict[str, Declared],
    dialect: str,
    notes: dict[str, list[str]],
    unhinted: set[tuple[str, str]],
) -> list[Column]:
    """Convert the columns of ``frame`` read from ``tobj`` in place and describe them; what a
    conversion notes is added to ``notes``, the columns whose kind must be inferred to ``unhinted``."""
    name, columns = tobj.name, []
    for col_name, found in declared.items():
        col = tobj.columns[col_name]
        hints = _parse_comment(col.comment)
        if "dtype" in hints:
            found = Declared(StorageType(hints["dtype"]), found.precision, found.scale, found.note)
        read_col = convert_column(frame[col_name], found, dialect, name, col_name)
        frame[col_name] = read_col.values
        if found.note:
            notes.setdefault(found.note, []).append(f"{name}.{col_name}")
        storage = read_col.storage
        if "kind" in hints and storage == found.storage:
            kind = ColumnKind(hints["kind"])
        else:
            kind = ColumnKind.TEXT if storage == StorageType.STRING else _PLACEHOLDER_KIND[storage]
            unhinted.add((name, col_name))
        nullable = bool(col.nullable)
        columns.append(Column(col_name, storage, kind, nullable, precision=read_col.precision, scale=read_col.scale))
    return columns


def _kept_foreign_keys(
    inspector: sa.Inspector, name: str, names: list[str], all_names: set[str], db_schema: str | None
) -> list[ForeignKey]:
    """The foreign keys of table ``name`` whose parent is read (the others left out with a warning)."""
    kept = []
    for fk in _foreign_keys(inspector, name, db_schema):
        parent = fk["referred_table"]
        if parent not in names:
            reason = f"table '{parent}' is not read" if parent in all_names else f"the database has no table '{parent}'"
            log.warning(
                "foreign key %s(%s) -> %s left out: %s", name, ", ".join(fk["constrained_columns"]), parent, reason
            )
            continue
        kept.append(ForeignKey(name, tuple(fk["constrained_columns"]), parent, tuple(fk["referred_columns"])))
    return kept


def _foreign_keys(inspector: sa.Inspector, name: str, db_schema: str | None) -> list[dict]:
    try:
        return inspector.get_foreign_keys(name, schema=db_schema)
    except (AttributeError, KeyError, IndexError, ValueError) as exc:
        raise SchemaError(
            f"the foreign keys of table '{name}' cannot be read: the catalog cannot be parsed ({type(exc).__name__})",
            table=name,
        ) from None


def _reflect(name: str, meta: sa.MetaData, engine: Engine, inspector: sa.Inspector, db_schema: str | None) -> sa.Table:
    """Reflect one table's columns and primary key (foreign keys are read from the inspector, so a
    key that references a table the database lacks, which SQLite allows, is reported, not fatal)."""
    try:
        return sa.Table(name, meta, autoload_with=engine, resolve_fks=False)
    except sa.exc.NoSuchTableError as exc:
        raise SchemaError(f"table '{name}' cannot be read: {exc}", table=name) from None
    except (AttributeError, KeyError, IndexError, ValueError) as exc:  # a catalog entry SQLAlchemy cannot parse
        raise SchemaError(
            f"table '{name}' cannot be read: its definition in the catalog cannot be parsed ({type(exc).__name__})",
            table=name,
        ) from None


def _read_rows(conn: Connection, tobj: sa.Table, columns: list[sa.Column], chunk_rows: int) -> pd.DataFrame:
    """Every row of ``columns`` as the driver's Python objects, without SQLAlchemy's type processing
    (which would make a SQLite BOOLEAN of 2 True, or NaN and NULL one missing float)."""
    names = [c.name for c in columns]
    raw = [sa.type_coerce(c, sa.types.NullType()).label(f"c{i}") for i, c in enumerate(columns)]
    result = conn.execution_options(stream_results=True).execute(sa.select(*raw))
    parts = []
    for chunk in result.partitions(chunk_rows):
        parts.append(pd.DataFrame({n: pd.Series([row[i] for row in chunk], dtype=object) for i, n in enumerate(names)}))
    if not parts:
        return pd.DataFrame({n: pd.Series(dtype=object) for n in names})
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def _sqlite_declared_types(conn: Connection, table: str) -> dict[str, str]:
    """Each column's declared type as SQLite keeps it (SQLAlchemy maps unknown names to affinities)."""
    quoted = conn.dialect.identifier_preparer.quote(table)
    return {row[1]: str(row[2] or "") for row in conn.exec_driver_sql(f"PRAGMA table_xinfo({quoted})")}


def _fill_kinds(schema: Schema, frames: dict[str, pd.DataFrame], unhinted: set[tuple[str, str]]) -> None:
    """Kinds of columns without a dbtwin comment: keys are ids, the rest are inferred from the data."""
    for name, table in schema.tables.items():
        keys = schema.key_columns(name)
        for col in table.columns:
            if (name, col.name) not in unhinted:
                continue
            if col.name in keys and col.dtype in (StorageType.INT64, StorageType.STRING):
                col.kind = ColumnKind.ID
            else:
                col.kind = infer_kind(frames[name][col.name], col.dtype, col.name)


_PLACEHOLDER_KIND = {
    StorageType.INT64: ColumnKind.INTEGER,
    StorageType.FLOAT64: ColumnKind.FLOAT,
    StorageType.BOOL: ColumnKind.BOOLEAN,
    StorageType.DATETIME: ColumnKind.DATETIME,
    StorageType.DECIMAL: ColumnKind.FLOAT,
}


def _parse_comment(comment: str | None) -> dict[str, str]:
    if not comment:
        return {}
    match = _COMMENT.search(comment)
    if not match:
        return {}
    return {k: unquote(v) for k, v in (item.split("=", 1) for item in match.group(1).split(",") if "=" in item)}


def _table_comment(inspector: sa.Inspector, name: str, db_schema: str | None) -> str | None:
    try:
        return inspector.get_table_comment(name, schema=db_schema).get("text")
    except NotImplementedError:
        return None


def _unique_fk_names(fks: list[ForeignKey]) -> list[ForeignKey]:
    seen: dict[str, int] = {}
    for fk in fks:
        if fk.name in seen:
            seen[fk.name] += 1
            fk.name = f"{fk.name}#{seen[fk.name]}"
        else:
            seen[fk.name] = 1
    return fks


from dbtwin.io.sql_write import write_sql  # noqa: E402  (re-exported: the module's other half)

__all__ = ["read_sql", "write_sql"]
