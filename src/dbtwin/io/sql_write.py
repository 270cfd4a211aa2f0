"""Writing a database through SQLAlchemy: SQLite files, PostgreSQL, MariaDB/MySQL, ...

Tables are created with their primary and foreign keys and filled parents first, in batches, in one
transaction. Nothing is written before the destination is checked (:mod:`dbtwin.io.storable`): names
too long for the server, values it cannot hold, orphan foreign keys.

Replacing never loses the old tables: the new ones are created and filled under temporary names and
swapped in only once every row is in (PostgreSQL: drop and rename inside the one transaction;
MariaDB/MySQL, whose DDL commits implicitly: one atomic ``RENAME TABLE``). A failure or an interrupt
(Ctrl-C) before the swap removes the temporary tables and leaves the destination as it was. Tables
of the destination that are not written are left alone.
"""

from __future__ import annotations

import logging
import re
import secrets
import weakref
from collections.abc import Iterator
from urllib.parse import quote

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection, Engine

from dbtwin.database import NULL_REF, Database, parent_positions
from dbtwin.errors import (
    DatabaseRefusedError,
    DataValidationError,
    DestinationNotEmptyError,
    SchemaError,
    driver_message,
)
from dbtwin.io.sql_values import SQLITE_DECIMAL
from dbtwin.io.storable import check_storable, target_of
from dbtwin.schema.dtypes import INT64_MAX, decimal_size, decimal_text
from dbtwin.schema.model import Column, ForeignKey, StorageType, Table, strongly_connected

log = logging.getLogger(__name__)

#: Longest string key we create as an indexed VARCHAR (MariaDB indexes at most 3072 bytes of utf8mb4).
MAX_KEY_LENGTH = 768
#: Temporary tables are named ``dbtwin_<token>_<i>``: short enough for every server.
TEMP_PREFIX = "dbtwin_"
#: SQLite engines made by :func:`_create_engine`, whose transactions cover DDL.
_TRANSACTIONAL_SQLITE: weakref.WeakSet[Engine] = weakref.WeakSet()


def write_sql(
    db: Database,
    destination: str | Engine,
    replace: bool = False,
    batch_rows: int = 5_000,
    db_schema: str | None = None,
) -> None:
    """Create ``db``'s tables with their keys in the destination database and insert every row.

    Refuses when the destination already holds tables, unless ``replace`` is true; then the tables
    that clash with ``db``'s are replaced (swapped for fully written new ones, see the module
    docstring) and other tables are left alone.
    """
    engine = _create_engine(destination) if isinstance(destination, str) else destination
    try:
        check_storable(db, target_of(engine.dialect.name))
        _refuse_invalid(db)
        inspector = sa.inspect(engine)
        existing = set(inspector.get_table_names(schema=db_schema))
        if existing and not replace:
            raise DestinationNotEmptyError(
                f"the destination database already holds {len(existing)} table(s) "
                f"({', '.join(sorted(existing)[:5])}{', ...' if len(existing) > 5 else ''}); "
                "pass --replace (replace=True) to replace the clashing ones"
            )
        clashing = [t for t in db.schema.topological_order() if t in existing]
        if clashing:
            _refuse_outside_references(inspector, existing, set(db.schema.table_names), clashing, db_schema)
        token = secrets.token_hex(4)
        # under temporary names when replacing, and always where DDL commits at once (MariaDB/MySQL),
        # so that even a killed process leaves no half-written table under a final name
        temporary = clashing or not _transactional_ddl(engine)
        names = (
            {t: f"{TEMP_PREFIX}{token}_{i}" for i, t in enumerate(db.schema.table_names)}
            if temporary
            else {t: t for t in db.schema.table_names}
        )
        order, deferred = insert_plan(db)
        meta = _build_metadata(db, engine.dialect, db_schema, deferred, names)
        _write_tables(engine, db, meta, names, order, deferred, batch_rows, db_schema, clashing, token)
    finally:
        if isinstance(destination, str):
            engine.dispose()


def _create_engine(url: str) -> Engine:
    """An engine for ``url``; on SQLite, one whose transactions cover DDL too (the pysqlite driver
    commits before CREATE TABLE unless told to leave transactions to SQLAlchemy)."""
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _no_driver_transactions(dbapi_connection, _record) -> None:
            dbapi_connection.isolation_level = None

        @sa.event.listens_for(engine, "begin")
        def _begin(conn) -> None:
            conn.exec_driver_sql("BEGIN")

        _TRANSACTIONAL_SQLITE.add(engine)
    elif engine.dialect.name in ("mysql", "mariadb"):

        @sa.event.listens_for(engine, "connect")
        def _keep_zero_keys(dbapi_connection, _record) -> None:
            # an AUTO_INCREMENT key of 0 would otherwise be stored as the next counter value
            with dbapi_connection.cursor() as cursor:
                cursor.execute(
                    "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@SESSION.sql_mode, ''), 'NO_AUTO_VALUE_ON_ZERO')"
                )

    return engine


def _transactional_ddl(engine: Engine) -> bool:
    if engine.dialect.name in ("mysql", "mariadb"):
        return False
    return engine.dialect.name != "sqlite" or engine in _TRANSACTIONAL_SQLITE


def _write_tables(
    engine: Engine,
    db: Database,
    meta: sa.MetaData,
    names: dict[str, str],
    order: list[str],
    deferred: list[ForeignKey],
    batch_rows: int,
    db_schema: str | None,
    clashing: list[str],
    token: str,
) -> None:
    transactional_ddl = _transactional_ddl(engine)
    created = False
    try:
        with engine.begin() as conn:
            meta.create_all(conn)
            created = True
            for name in order:
                _insert_table(conn, meta.tables[_qualified(names[name], db_schema)], db, name, deferred, batch_rows)
            for fk in deferred:
                _apply_deferred(conn, meta.tables[_qualified(names[fk.child], db_schema)], db, fk, batch_rows)
            _advance_counters(conn, meta, names, db_schema)
            if clashing and (transactional_ddl or engine.dialect.name == "sqlite"):
                _swap_in_transaction(conn, names, clashing, db_schema)
        if not transactional_ddl and engine.dialect.name in ("mysql", "mariadb"):
            _swap_atomic_rename(engine, names, clashing, db_schema, token)
    except BaseException as exc:  # Ctrl-C included: never leave half-written tables behind
        if created and not transactional_ddl:
            _drop_quietly(engine, [names[t] for t in order], db_schema)
        if isinstance(exc, sa.exc.SQLAlchemyError):
            raise _refusal(exc, names) from exc
        raise
    for name in clashing:
        log.info("replaced table '%s'", name)


def _advance_counters(conn: Connection, meta: sa.MetaData, names: dict[str, str], db_schema: str | None) -> None:
    """Set each key counter (PostgreSQL's serial sequences) past the largest key written, so that the
    next ordinary INSERT that leaves the key to the database gets a fresh one. MariaDB/MySQL move
    their AUTO_INCREMENT counters past inserted keys themselves; SQLite keys have no counter here."""
    if conn.dialect.name != "postgresql":
        return
    prep = conn.dialect.identifier_preparer
    for temp in names.values():
        tobj = meta.tables[_qualified(temp, db_schema)]
        col = tobj.autoincrement_column
        if col is None:
            continue
        qualified, quoted_col = _quoted(prep, temp, db_schema), prep.quote(col.name)
        largest = conn.exec_driver_sql(f"SELECT max({quoted_col}) FROM {qualified}").scalar()
        # the next key is one past the largest; at the int64 ceiling the counter says it is spent
        value, called = (
            (largest, True) if largest is not None and largest >= INT64_MAX else (max((largest or 0) + 1, 1), False)
        )
        conn.execute(
            sa.text("SELECT setval(pg_get_serial_sequence(:table, :column), :value, :called)"),
            {"table": _pg_name(temp, db_schema), "column": col.name, "value": value, "called": called},
        )


def _refuse_outside_references(
    inspector: sa.Inspector, existing: set[str], written: set[str], clashing: list[str], db_schema: str | None
) -> None:
    """A table that stays (not written now) must not reference one that is replaced: the swap would
    break its foreign key, so the write is refused before it starts."""
    replaced = set(clashing)
    for other in sorted(existing - written):
        for fk in inspector.get_foreign_keys(other, schema=db_schema):
            if fk.get("referred_table") in replaced:
                raise DestinationNotEmptyError(
                    f"table '{other}' of the destination, which is not written, references table "
                    f"'{fk['referred_table']}', which would be replaced; drop that foreign key or write elsewhere"
                )


def _swap_in_transaction(conn: Connection, names: dict[str, str], clashing: list[str], db_schema: str | None) -> None:
    prep = conn.dialect.identifier_preparer
    q = lambda n: _quoted(prep, n, db_schema)  # noqa: E731
    if conn.dialect.name == "sqlite":  # one table per DROP there (foreign keys are not enforced by default)
        for t in reversed(clashing):
            conn.exec_driver_sql(f"DROP TABLE {q(t)}")
    else:  # one statement drops tables that reference each other
        conn.exec_driver_sql("DROP TABLE " + ", ".join(q(t) for t in clashing))
    for final, temp in names.items():
        conn.exec_driver_sql(f"ALTER TABLE {q(temp)} RENAME TO {prep.quote(final)}")


def _swap_atomic_rename(
    engine: Engine, names: dict[str, str], clashing: list[str], db_schema: str | None, token: str
) -> None:
    prep = engine.dialect.identifier_preparer
    q = lambda n: _quoted(prep, n, db_schema)  # noqa: E731
    olds = {t: f"{TEMP_PREFIX}{token}_old{i}" for i, t in enumerate(clashing)}
    pairs = [f"{q(t)} TO {q(olds[t])}" for t in clashing] + [
        f"{q(temp)} TO {q(final)}" for final, temp in names.items()
    ]
    with engine.begin() as conn:
        conn.exec_driver_sql("RENAME TABLE " + ", ".join(pairs))  # all or nothing
    _drop_quietly(engine, list(olds.values()), db_schema)


def _refusal(exc: sa.exc.SQLAlchemyError, names: dict[str, str]) -> DatabaseRefusedError:
    """The server's refusal in the user's names (not the temporary ones the tables were written under)."""
    message = driver_message(exc)
    table = None
    for final, temp in sorted(names.items(), key=lambda item: -len(item[1])):
        if temp != final and temp in message:
            message = message.replace(temp, final)
            table = table or final
    if table is None:  # written under their own names: the first one the message names
        table = next((t for t in names if re.search(rf"(?<!\w){re.escape(t)}(?!\w)", message)), None)
    return DatabaseRefusedError(f"the database refused the write: {message}", table)


def _drop_quietly(engine: Engine, tables: list[str], db_schema: str | None) -> None:
    """Drop ``tables`` where DDL commits at once (MariaDB/MySQL with foreign-key checks off for the drop)."""
    if not tables:
        return
    prep = engine.dialect.identifier_preparer
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                for t in reversed(tables):
                    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_quoted(prep, t, db_schema)}")
                return
            conn.execute(sa.text("SET FOREIGN_KEY_CHECKS = 0"))
            conn.exec_driver_sql("DROP TABLE IF EXISTS " + ", ".join(_quoted(prep, t, db_schema) for t in tables))
            conn.execute(sa.text("SET FOREIGN_KEY_CHECKS = 1"))
    except sa.exc.SQLAlchemyError as exc:
        log.warning("could not remove the temporary tables %s: %s", tables, exc)


def _pg_name(name: str, db_schema: str | None) -> str:
    """A PostgreSQL table name as a value (a bound text, not SQL: no percent doubling)."""
    quote = lambda n: '"' + n.replace('"', '""') + '"'  # noqa: E731
    return f"{quote(db_schema)}.{quote(name)}" if db_schema else quote(name)


def _quoted(prep: sa.sql.compiler.IdentifierPreparer, name: str, db_schema: str | None) -> str:
    """A quoted table name for :meth:`Connection.exec_driver_sql`, which passes it through the driver's
    parameter formatting (``%`` doubled where the driver formats ``%s``)."""
    return f"{prep.quote_schema(db_schema)}.{prep.quote(name)}" if db_schema else prep.quote(name)


def _refuse_invalid(db: Database) -> None:
    """Refuse, before anything is written, rows the constraints would reject: NULL or duplicate
    primary keys, NULLs in NOT NULL columns, orphan foreign keys (empty tables are fine)."""
    from dbtwin.validate import Problem, find_problems, orphan_counts

    problems = [
        p
        for p in find_problems(db, include_orphans=False)
        if p.severity == "error" and p.code in ("null_primary_key", "duplicate_primary_key", "null_in_not_null")
    ]
    orphaned = [(fk, n) for fk, n, _ in orphan_counts(db) if n]
    if orphaned:
        listing = "; ".join(f"{fk}: {n} row(s)" for fk, n in orphaned)
        fk = orphaned[0][0]
        problems.append(
            Problem(
                "orphan_foreign_key",
                fk.child,
                fk.columns[0],
                f"cannot create foreign-key constraints over orphan rows ({listing}); resolve them first "
                "(dbtwin.validate.resolve_orphans or --orphans null/drop)",
                sum(n for _, n in orphaned),
            )
        )
    if problems:
        raise DataValidationError(problems)


def _qualified(name: str, db_schema: str | None) -> str:
    return f"{db_schema}.{name}" if db_schema else name


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


def _sql_type(col: Column, frame: pd.DataFrame, is_key: bool, dialect: sa.Dialect) -> sa.types.TypeEngine:
    if col.dtype == StorageType.INT64:
        return sa.BigInteger()
    if col.dtype == StorageType.FLOAT64:
        return sa.Double()
    if col.dtype == StorageType.BOOL:
        return sa.Boolean()
    if col.dtype == StorageType.DATETIME:
        return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    if col.dtype == StorageType.DECIMAL:
        precision, scale = decimal_size(frame[col.name], col.precision, col.scale)
        return sa.Numeric(precision, scale).with_variant(SqliteDecimal(precision, scale), "sqlite")
    lengths = frame[col.name].dropna().map(len)
    longest = int(lengths.max()) if len(lengths) else 0
    if is_key:
        if longest > MAX_KEY_LENGTH:
            raise SchemaError(
                f"key column '{col.name}' holds strings of {longest} characters; keys longer than "
                f"{MAX_KEY_LENGTH} cannot be indexed by every database",
                column=col.name,
            )
        length = max(64, 1 << max(longest - 1, 0).bit_length())
        # keys compare byte for byte on MariaDB/MySQL too ('a' and 'A', 'a' and 'a ' are distinct keys)
        collation = "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_bin"
        return sa.String(length).with_variant(mysql.VARCHAR(length, collation=collation), "mysql", "mariadb")
    return sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


class SqliteDecimal(sa.types.UserDefinedType):
    """An exact decimal in SQLite: declared ``DECIMAL_TEXT(p, s)`` (TEXT affinity keeps every digit,
    which NUMERIC affinity would cut to 15) and stored as plain text."""

    cache_ok = True

    def __init__(self, precision: int, scale: int) -> None:
        self.precision, self.scale = precision, scale

    def get_col_spec(self, **_kw) -> str:
        return f"{SQLITE_DECIMAL}({self.precision}, {self.scale})"

    def bind_processor(self, dialect):
        return lambda value: None if value is None else decimal_text(value)


def _build_metadata(
    db: Database, dialect: sa.Dialect, db_schema: str | None, deferred: list[ForeignKey], names: dict[str, str]
) -> sa.MetaData:
    """Tables named by ``names`` (final or temporary), their foreign keys pointing at those names.
    Foreign keys reference column objects, never ``"table.column"`` strings, so names with dots work."""
    comments = dialect.supports_comments
    meta = sa.MetaData(schema=db_schema)
    deferred_names = {id(fk) for fk in deferred}
    tables: dict[str, sa.Table] = {}
    for name, table in db.schema.tables.items():
        keys = db.schema.key_columns(name)
        columns = [
            sa.Column(
                sa.sql.quoted_name(col.name, quote=True),  # every name quoted: reserved words differ by server
                _sql_type(col, db[name], col.name in keys, dialect),
                nullable=col.nullable and col.name not in table.primary_key,
                comment=f"dbtwin:dtype={col.dtype.value},kind={col.kind.value}" if comments else None,
            )
            for col in table.columns
        ]
        constraints: list[sa.schema.SchemaItem] = []
        if table.primary_key:
            constraints.append(sa.PrimaryKeyConstraint(*table.primary_key))
        comment = f"dbtwin:time_column={quote(table.time_column, safe='')}" if comments and table.time_column else None
        tables[name] = sa.Table(
            sa.sql.quoted_name(names[name], quote=True), meta, *columns, *constraints, comment=comment
        )
    for fk in db.schema.foreign_keys:
        parent = tables[fk.parent]
        tables[fk.child].append_constraint(
            sa.ForeignKeyConstraint(
                list(fk.columns),
                [parent.c[c] for c in fk.parent_columns],
                use_alter=id(fk) in deferred_names and dialect.name != "sqlite",
            )
        )
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
