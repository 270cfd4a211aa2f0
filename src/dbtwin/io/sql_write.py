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

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dbtwin.database import Database
from dbtwin.errors import (
    DatabaseRefusedError,
    DataValidationError,
    DestinationNotEmptyError,
    driver_message,
)
from dbtwin.io import sql_rows
from dbtwin.io.shards import Sharded, in_shards
from dbtwin.io.sql_tables import table_definitions
from dbtwin.io.storable import check_storable, target_of
from dbtwin.progress import Progress
from dbtwin.schema.dtypes import INT64_MAX
from dbtwin.schema.model import ForeignKey

log = logging.getLogger(__name__)

#: Temporary tables are named ``dbtwin_<token>_<i>``: short enough for every server.
TEMP_PREFIX = "dbtwin_"
#: SQLite engines made by :func:`_create_engine`, whose transactions cover DDL.
_TRANSACTIONAL_SQLITE: weakref.WeakSet[Engine] = weakref.WeakSet()


def write_sql(
    db: Database | Sharded,
    destination: str | Engine,
    replace: bool = False,
    batch_rows: int = 5_000,
    db_schema: str | None = None,
) -> None:
    """Create ``db``'s tables with their keys in the destination database and insert every row (a
    database in shards: a shard at a time, in the one transaction).

    Refuses when the destination already holds tables, unless ``replace`` is true; then the tables
    that clash with ``db``'s are replaced (swapped for fully written new ones, see the module
    docstring) and other tables are left alone.
    """
    engine = _create_engine(destination) if isinstance(destination, str) else destination
    whole = in_shards(db)
    try:
        if isinstance(db, Database):  # a database in shards: each shard checked before it is written
            _checked(db, engine)
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
        sizing = db if isinstance(db, Database) else whole.sizing_database()
        order, deferred = sql_rows.insert_plan(sizing)
        meta = table_definitions(sizing, engine.dialect, db_schema, deferred, names)
        _write_tables(engine, whole, meta, names, order, deferred, batch_rows, db_schema, clashing, token)
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


def _checked(db: Database, engine: Engine) -> None:
    check_storable(db, target_of(engine.dialect.name))
    _refuse_invalid(db)


def _transactional_ddl(engine: Engine) -> bool:
    if engine.dialect.name in ("mysql", "mariadb"):
        return False
    return engine.dialect.name != "sqlite" or engine in _TRANSACTIONAL_SQLITE


def _write_tables(
    engine: Engine,
    whole: Sharded,
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
            with Progress("writing", whole.total_rows, unit="rows") as bar:
                for i, shard in whole.shards():
                    if whole.count > 1:
                        _checked(shard, engine)
                    _insert_shard(conn, meta, shard, [t for t in order if whole.written(i, t)], names, deferred,
                                  batch_rows, db_schema, bar)  # fmt: skip
                    shard = None  # dropped before the next shard is read
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


def _insert_shard(conn, meta, db, order, names, deferred, batch_rows, db_schema, bar) -> None:
    """The rows of ``db``'s tables in ``order``, then the foreign keys deferred among them."""
    for name in order:
        table = meta.tables[_qualified(names[name], db_schema)]
        sql_rows.insert_table(conn, table, db, name, deferred, batch_rows, bar)
    for fk in deferred:
        if fk.child in order:
            sql_rows.apply_deferred(conn, meta.tables[_qualified(names[fk.child], db_schema)], db, fk, batch_rows)


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
