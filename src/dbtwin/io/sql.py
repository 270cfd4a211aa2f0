"""Reading and writing databases through SQLAlchemy: SQLite files, PostgreSQL, MariaDB/MySQL, ...

Reading reflects the catalog: tables, column types, primary keys and foreign keys. Writing creates the
tables with their primary and foreign keys, inserts parents before children in batches inside one
transaction, and refuses to touch a database that already holds tables unless asked to replace them.
Column and table comments carry dbtwin's kinds and time column where the database supports comments,
so a round trip keeps them; without comments (SQLite) kinds are inferred again on reading.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Literal

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection, Engine

from dbtwin.database import NULL_REF, Database, parent_positions
from dbtwin.errors import DataValidationError, DestinationNotEmptyError, SchemaError
from dbtwin.schema.detect import infer_kind, infer_storage
from dbtwin.schema.dtypes import ConversionError, to_storage
from dbtwin.schema.model import Column, ColumnKind, ForeignKey, Schema, StorageType, Table

log = logging.getLogger(__name__)

UnsupportedPolicy = Literal["error", "skip"]
_COMMENT = re.compile(r"dbtwin:(\S+)")
#: Longest string key we create as an indexed VARCHAR (MariaDB indexes at most 3072 bytes of utf8mb4).
MAX_KEY_LENGTH = 768


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
        if tables is not None:
            missing = [t for t in tables if t not in names]
            if missing:
                raise SchemaError(f"table(s) {missing} not found in the database", table=missing[0])
            names = [t for t in names if t in tables]
        meta = sa.MetaData(schema=db_schema)
        table_objs = {n: sa.Table(n, meta, autoload_with=engine) for n in names}
        schema_tables: dict[str, Table] = {}
        frames: dict[str, pd.DataFrame] = {}
        foreign_keys: list[ForeignKey] = []
        unhinted: set[tuple[str, str]] = set()
        with engine.connect() as conn:
            for name in names:
                tobj = table_objs[name]
                pk = tuple(c.name for c in tobj.primary_key.columns)
                kept: list[sa.Column] = []
                declared: dict[str, StorageType | None] = {}
                for col in tobj.columns:
                    storage = _storage_for_sql_type(col.type)
                    if storage is _UNSUPPORTED:
                        msg = (
                            f"column '{name}.{col.name}' has SQL type {col.type!r}, which dbtwin does not "
                            "model (numbers, strings, booleans and date/times are supported)"
                        )
                        if unsupported == "error" or col.name in pk:
                            raise SchemaError(msg + "; read with unsupported='skip' to leave it out", name, col.name)
                        log.warning("%s; left out", msg)
                        continue
                    kept.append(col)
                    declared[col.name] = storage
                frame = _read_rows(conn, tobj, kept, chunk_rows)
                table_comment = _parse_comment(_table_comment(inspector, name, db_schema))
                columns = []
                for col in kept:
                    hints = _parse_comment(col.comment)
                    storage = StorageType(hints["dtype"]) if "dtype" in hints else declared[col.name]
                    if storage is None:
                        storage = infer_storage(frame[col.name], name)
                    try:
                        frame[col.name] = to_storage(frame[col.name], storage)
                    except ConversionError as exc:
                        raise SchemaError(
                            f"column '{name}.{col.name}' ({col.type!r}) holds values that are not "
                            f"{storage.value}: {exc}",
                            name,
                            col.name,
                        ) from None
                    if "kind" in hints:
                        kind = ColumnKind(hints["kind"])
                    else:
                        kind = ColumnKind.TEXT if storage == StorageType.STRING else _PLACEHOLDER_KIND[storage]
                        unhinted.add((name, col.name))
                    columns.append(Column(col.name, storage, kind, nullable=bool(col.nullable)))
                time_col = table_comment.get("time_column")
                schema_tables[name] = Table(name, columns, pk, time_col if time_col in frame.columns else None)
                frames[name] = frame
                for fk in inspector.get_foreign_keys(name, schema=db_schema):
                    parent = fk["referred_table"]
                    if parent not in names:
                        log.warning(
                            "foreign key %s(%s) -> %s left out: table '%s' is not read",
                            name,
                            ", ".join(fk["constrained_columns"]),
                            parent,
                            parent,
                        )
                        continue
                    foreign_keys.append(
                        ForeignKey(name, tuple(fk["constrained_columns"]), parent, tuple(fk["referred_columns"]))
                    )
        schema = Schema(schema_tables, _unique_fk_names(foreign_keys))
        _fill_kinds(schema, frames, unhinted)
        return Database(schema, frames)
    finally:
        if isinstance(source, str):
            engine.dispose()


def _read_rows(conn: Connection, tobj: sa.Table, columns: list[sa.Column], chunk_rows: int) -> pd.DataFrame:
    names = [c.name for c in columns]
    result = conn.execution_options(stream_results=True).execute(sa.select(*columns))
    parts = [pd.DataFrame.from_records(chunk, columns=names) for chunk in result.partitions(chunk_rows)]
    if not parts:
        return pd.DataFrame({n: pd.Series(dtype=object) for n in names})
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


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
}
_UNSUPPORTED = object()


def _storage_for_sql_type(sql_type: sa.types.TypeEngine) -> StorageType | object | None:
    """The storage type for a reflected SQL type; ``None`` when the data must decide (SQLite's
    untyped columns); ``_UNSUPPORTED`` for binary, JSON, arrays, intervals and the like."""
    if isinstance(sql_type, sa.types.NullType):
        return None
    if isinstance(sql_type, sa.Boolean):
        return StorageType.BOOL
    if isinstance(sql_type, sa.Integer):
        return StorageType.INT64
    if isinstance(sql_type, sa.Float):
        return StorageType.FLOAT64
    if isinstance(sql_type, sa.Numeric):
        return StorageType.INT64 if getattr(sql_type, "scale", None) == 0 else StorageType.FLOAT64
    if isinstance(sql_type, sa.Date | sa.DateTime):
        return StorageType.DATETIME
    if isinstance(sql_type, sa.Enum | sa.String | sa.Uuid):
        return StorageType.STRING
    return _UNSUPPORTED


def _parse_comment(comment: str | None) -> dict[str, str]:
    if not comment:
        return {}
    match = _COMMENT.search(comment)
    if not match:
        return {}
    return dict(item.split("=", 1) for item in match.group(1).split(",") if "=" in item)


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


# ---------------------------------------------------------------------------------------------- write
def write_sql(
    db: Database,
    destination: str | Engine,
    replace: bool = False,
    batch_rows: int = 5_000,
    db_schema: str | None = None,
) -> None:
    """Create ``db``'s tables with their keys in the destination database and insert every row.

    Refuses when the destination already holds tables, unless ``replace`` is true, in which case the
    tables that clash with ``db``'s are dropped first (other tables are left alone). Rows go in
    parents first, in batches, inside one transaction. On MariaDB/MySQL, whose table creation commits
    implicitly, the tables created are dropped again if inserting fails.
    """
    engine = sa.create_engine(destination) if isinstance(destination, str) else destination
    try:
        inspector = sa.inspect(engine)
        existing = set(inspector.get_table_names(schema=db_schema))
        if existing and not replace:
            raise DestinationNotEmptyError(
                f"the destination database already holds {len(existing)} table(s) "
                f"({', '.join(sorted(existing)[:5])}{', ...' if len(existing) > 5 else ''}); "
                "pass replace=True (--replace) to replace the clashing ones"
            )
        _refuse_orphans(db)
        clashing = [t for t in reversed(db.schema.topological_order()) if t in existing]
        deferred = _deferred_foreign_keys(db)
        meta = _build_metadata(db, engine.dialect, db_schema, deferred)
        created: list[sa.Table] = []
        try:
            with engine.begin() as conn:
                for name in clashing:
                    log.info("dropping existing table '%s'", name)
                    sa.Table(name, sa.MetaData(schema=db_schema)).drop(conn)
                meta.create_all(conn)
                created = [meta.tables[_qualified(t, db_schema)] for t in db.schema.topological_order()]
                for name in db.schema.topological_order():
                    _insert_table(conn, meta.tables[_qualified(name, db_schema)], db, name, deferred, batch_rows)
                for fk in deferred:
                    _apply_deferred(conn, meta.tables[_qualified(fk.child, db_schema)], db, fk, batch_rows)
        except Exception:
            if engine.dialect.name in ("mysql", "mariadb") and created:
                with engine.begin() as conn:
                    for tobj in reversed(created):
                        tobj.drop(conn, checkfirst=True)
            raise
    finally:
        if isinstance(destination, str):
            engine.dispose()


def _refuse_orphans(db: Database) -> None:
    from dbtwin.schema.validate import orphan_counts

    orphaned = [(fk, n) for fk, n, _ in orphan_counts(db) if n]
    if orphaned:
        listing = "; ".join(f"{fk}: {n} row(s)" for fk, n in orphaned)
        raise DataValidationError(
            [
                f"cannot create foreign-key constraints over orphan rows ({listing}); resolve them first "
                "(dbtwin.schema.validate.resolve_orphans or --orphans null/drop)"
            ]
        )


def _qualified(name: str, db_schema: str | None) -> str:
    return f"{db_schema}.{name}" if db_schema else name


def _deferred_foreign_keys(db: Database) -> list[ForeignKey]:
    """One nullable foreign key per table cycle: inserted as NULL, filled in by UPDATE afterwards."""
    deferred = []
    for cycle in db.schema.cycles():
        candidates = [
            fk
            for fk in db.schema.foreign_keys
            if fk.child in cycle
            and fk.parent in cycle
            and not fk.is_self_reference
            and all(db.schema.table(fk.child).column(c).nullable for c in fk.columns)
        ]
        if not candidates:
            raise SchemaError(
                f"tables {' -> '.join(cycle)} form a cycle of NOT NULL foreign keys, which cannot be inserted",
                table=cycle[0],
            )
        if not db.schema.table(candidates[0].child).primary_key:
            raise SchemaError(
                f"table '{candidates[0].child}' is in a foreign-key cycle but has no primary key to update rows by",
                table=candidates[0].child,
            )
        deferred.append(candidates[0])
    return deferred


def _sql_type(col: Column, frame: pd.DataFrame, is_key: bool) -> sa.types.TypeEngine:
    if col.dtype == StorageType.INT64:
        return sa.BigInteger()
    if col.dtype == StorageType.FLOAT64:
        return sa.Double()
    if col.dtype == StorageType.BOOL:
        return sa.Boolean()
    if col.dtype == StorageType.DATETIME:
        return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    lengths = frame[col.name].dropna().map(len)
    longest = int(lengths.max()) if len(lengths) else 0
    if is_key:
        if longest > MAX_KEY_LENGTH:
            raise SchemaError(
                f"key column '{col.name}' holds strings of {longest} characters; keys longer than "
                f"{MAX_KEY_LENGTH} cannot be indexed by every database",
                column=col.name,
            )
        return sa.String(max(64, 1 << max(longest - 1, 0).bit_length()))
    return sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def _build_metadata(
    db: Database, dialect: sa.Dialect, db_schema: str | None, deferred: list[ForeignKey]
) -> sa.MetaData:
    comments = dialect.supports_comments
    meta = sa.MetaData(schema=db_schema)
    deferred_names = {fk.name for fk in deferred}
    for name, table in db.schema.tables.items():
        keys = db.schema.key_columns(name)
        columns = [
            sa.Column(
                col.name,
                _sql_type(col, db[name], col.name in keys),
                nullable=col.nullable and col.name not in table.primary_key,
                comment=f"dbtwin:dtype={col.dtype.value},kind={col.kind.value}" if comments else None,
            )
            for col in table.columns
        ]
        constraints: list[sa.schema.SchemaItem] = []
        if table.primary_key:
            constraints.append(sa.PrimaryKeyConstraint(*table.primary_key))
        for fk in db.schema.foreign_keys_of(name):
            constraints.append(
                sa.ForeignKeyConstraint(
                    list(fk.columns),
                    [f"{_qualified(fk.parent, db_schema)}.{c}" for c in fk.parent_columns],
                    use_alter=fk.name in deferred_names and dialect.name != "sqlite",
                )
            )
        comment = f"dbtwin:time_column={table.time_column}" if comments and table.time_column else None
        sa.Table(name, meta, *columns, *constraints, comment=comment)
    return meta


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


def _insert_table(
    conn: Connection, tobj: sa.Table, db: Database, name: str, deferred: list[ForeignKey], batch_rows: int
) -> None:
    table = db.schema.table(name)
    frame = db[name].iloc[_self_reference_order(db, name)]
    columns = _python_columns(frame, table)
    for fk in deferred:
        if fk.child == name:
            for col in fk.columns:
                columns[col] = [None] * len(frame)
    names = list(columns)
    for rows in _batches(columns, names, batch_rows):
        conn.execute(tobj.insert(), rows)
    log.info("wrote %d rows to '%s'", len(frame), name)


def _apply_deferred(conn: Connection, tobj: sa.Table, db: Database, fk: ForeignKey, batch_rows: int) -> None:
    table = db.schema.table(fk.child)
    frame = db[fk.child]
    pos = parent_positions(frame, db[fk.parent], fk)
    rows = frame.loc[pos != NULL_REF]
    pk = list(table.primary_key)
    columns = _python_columns(rows, table)
    params = {f"k_{i}": columns[c] for i, c in enumerate(pk)} | {f"v_{i}": columns[c] for i, c in enumerate(fk.columns)}
    stmt = (
        tobj.update()
        .where(*[tobj.c[c] == sa.bindparam(f"k_{i}") for i, c in enumerate(pk)])
        .values({c: sa.bindparam(f"v_{i}") for i, c in enumerate(fk.columns)})
    )
    for batch in _batches(params, list(params), batch_rows):
        conn.execute(stmt, batch)


def _batches(columns: dict[str, list], names: list[str], size: int) -> Iterator[list[dict]]:
    n = len(columns[names[0]]) if names else 0
    for start in range(0, n, size):
        stop = min(start + size, n)
        yield [dict(zip(names, row, strict=True)) for row in zip(*(columns[c][start:stop] for c in names), strict=True)]
