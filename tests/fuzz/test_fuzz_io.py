"""Fuzzed round trips: every generated database is written and read back losslessly, or refused with
a DbtwinError that names a table (and column) of it; nothing is ever written outside the destination."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import event, given, settings

from dbtwin import Database, read, write
from dbtwin.errors import DbtwinError
from tests.conftest import assert_same_database
from tests.fuzz.conftest import fresh
from tests.fuzz.strategies import databases, examples, server_names

IO_EXAMPLES = examples(100)  # cheap: a round trip takes milliseconds


def check_refusal(exc: DbtwinError, db: Database) -> None:
    """A refusal names a table of the database (and, when it names a column, a column of it)."""
    table = getattr(exc, "table", None)
    problems = getattr(exc, "problems", None)
    if problems:
        table = problems[0].table
    assert table in db.schema.tables, f"refusal names no table of the database: {exc}"
    column = getattr(exc, "column", None)
    if column is not None:
        assert column in db.schema.table(table).column_names, exc


def round_trip(db: Database, destination: str | Path, workdir: Path, **kwargs) -> Database | None:
    """``db`` written to ``destination`` and read back, or ``None`` when refused (checked)."""
    before = sorted(p.name for p in workdir.iterdir())
    try:
        write(db, destination, **kwargs)
    except DbtwinError as exc:
        event(f"refused: {type(exc).__name__}")
        check_refusal(exc, db)
        assert sorted(p.name for p in workdir.iterdir()) == before  # a refusal leaves nothing behind
        return None
    event("written")
    after = sorted(p.name for p in workdir.iterdir())
    local = Path(str(destination).removeprefix("sqlite:///"))
    assert set(after) - set(before) <= {local.name}, f"files outside the destination: {set(after) - set(before)}"
    return read(destination, metadata=db.schema)


@settings(max_examples=IO_EXAMPLES)
@given(db=databases())
def test_sqlite_round_trip(workdir, db):
    work = fresh(workdir)
    back = round_trip(db, work / "db.sqlite", work)
    if back is not None:
        assert_same_database(db, back, check_kinds=False)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
@settings(max_examples=IO_EXAMPLES)
@given(db=databases())
def test_directory_round_trip(workdir, fmt, db):
    work = fresh(workdir)
    back = round_trip(db, work / "out", work, file_format=fmt)
    if back is not None:
        assert_same_database(db, back, check_kinds=fmt == "parquet")


def _empty_public(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.mark.servers
@settings(max_examples=examples(50))
@given(db=databases(names=server_names))
def test_postgres_round_trip(workdir, postgres_url, db):
    work = fresh(workdir)
    _empty_public(postgres_url)
    back = round_trip(db, postgres_url, work)
    if back is not None:
        assert_same_database(db, back)


def _empty_mariadb(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("SET FOREIGN_KEY_CHECKS = 0"))
        quote = engine.dialect.identifier_preparer.quote  # ``%`` doubled for the driver's formatting
        for (name,) in conn.execute(sa.text("SHOW TABLES")).fetchall():
            conn.exec_driver_sql(f"DROP TABLE {quote(name)}")  # a name may hold ':p' or '%s'
    engine.dispose()


@pytest.mark.servers
@settings(max_examples=examples(40))
@given(db=databases(names=server_names))
def test_mariadb_round_trip(workdir, mariadb_url, db):
    work = fresh(workdir)
    _empty_mariadb(mariadb_url)
    back = round_trip(db, mariadb_url, work)
    if back is not None:
        assert_same_database(db, back)
