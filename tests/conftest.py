"""Shared fixtures: bundled datasets, tiny awkward schemas, and fresh databases on the local
PostgreSQL and MariaDB servers (started here if they are down)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from dbtwin import Database, datasets
from dbtwin.schema import Column, ColumnKind, ForeignKey, Schema, StorageType, Table

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MARIADB_ADMIN = "mysql+pymysql://root@127.0.0.1:3306/test"


@pytest.fixture(scope="session")
def chinook() -> Database:
    return datasets.load("chinook")


@pytest.fixture(scope="session")
def flights_jan() -> Database:
    return datasets.load("nycflights13_jan")


def company_db() -> Database:
    """A tiny database with the awkward parts: a self-reference, two foreign keys to one parent,
    a composite primary key and a composite foreign key, a nullable foreign key, a link table."""
    i, s, d, f = StorageType.INT64, StorageType.STRING, StorageType.DATETIME, StorageType.FLOAT64
    k = ColumnKind
    schema = Schema(
        {
            "dept": Table("dept", [Column("code", s, k.ID, False), Column("name", s, k.CATEGORICAL)], ("code",)),
            "person": Table(
                "person",
                [
                    Column("id", i, k.ID, False),
                    Column("boss", i, k.ID),
                    Column("dept", s, k.ID),
                    Column("salary", f, k.FLOAT),
                    Column("hired", d, k.DATETIME),
                ],
                ("id",),
                "hired",
            ),
            "project": Table("project", [Column("pid", i, k.ID, False), Column("title", s, k.TEXT)], ("pid",)),
            "assignment": Table(
                "assignment",
                [
                    Column("person", i, k.ID, False),
                    Column("project", i, k.ID, False),
                    Column("reviewer", i, k.ID),
                    Column("hours", i, k.INTEGER),
                ],
                ("person", "project"),
            ),
            "timesheet": Table(
                "timesheet",
                [
                    Column("person", i, k.ID, False),
                    Column("project", i, k.ID, False),
                    Column("week", i, k.INTEGER),
                    Column("ok", StorageType.BOOL, k.BOOLEAN),
                ],
            ),
        },
        [
            ForeignKey("person", ("boss",), "person", ("id",)),
            ForeignKey("person", ("dept",), "dept", ("code",)),
            ForeignKey("assignment", ("person",), "person", ("id",)),
            ForeignKey("assignment", ("project",), "project", ("pid",)),
            ForeignKey("assignment", ("reviewer",), "person", ("id",)),
            ForeignKey("timesheet", ("person", "project"), "assignment", ("person", "project")),
        ],
    )
    frames = {
        "dept": pd.DataFrame({"code": ["R&D", "OPS"], "name": ["Research", "Operations"]}),
        # bosses listed after their reports, so writers must reorder rows
        "person": pd.DataFrame(
            {
                "id": [5, 4, 3, 2, 1],
                "boss": [4, 1, 1, None, None],
                "dept": ["R&D", "R&D", None, "OPS", "OPS"],
                "salary": [10.5, 20.25, None, 30.0, 99.125],
                "hired": pd.to_datetime(
                    ["2020-01-01", "2019-05-06 12:30:00", None, "2018-01-01", "2010-03-04"], format="mixed"
                ),
            }
        ),
        "project": pd.DataFrame({"pid": [10, 20], "title": ["Apollo 'quoted'", 'Gemini "double"']}),
        "assignment": pd.DataFrame(
            {"person": [5, 4, 5, 3], "project": [10, 10, 20, 20], "reviewer": [1, None, 2, 1], "hours": [3, 4, 5, 6]}
        ),
        "timesheet": pd.DataFrame(
            {"person": [5, 5, 4, 3], "project": [10, 10, 10, 20], "week": [1, 2, 1, 1], "ok": [True, False, None, True]}
        ),
    }
    return Database.from_frames(frames, schema)


@pytest.fixture
def company() -> Database:
    return company_db()


def ended_pid() -> int:
    """The pid of a process that has ended (and was reaped), as a process killed outright leaves it."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(child.stdout)


def assert_same_database(a: Database, b: Database, check_kinds: bool = True) -> None:
    """Same tables, columns, storage types, keys, foreign keys and rows (row order ignored)."""
    assert sorted(a.schema.table_names) == sorted(b.schema.table_names)
    for name, ta in a.schema.tables.items():
        tb = b.schema.table(name)
        assert ta.column_names == tb.column_names, name
        assert [c.dtype for c in ta.columns] == [c.dtype for c in tb.columns], name
        if check_kinds:
            assert [c.kind for c in ta.columns] == [c.kind for c in tb.columns], name
            assert ta.time_column == tb.time_column, name
        assert set(ta.primary_key) == set(tb.primary_key), name
        fa, fb = a[name], b[name]
        assert len(fa) == len(fb), name
        order = ta.column_names
        sa_ = fa.sort_values(order, ignore_index=True, na_position="first")
        sb = fb[order].sort_values(order, ignore_index=True, na_position="first")
        pd.testing.assert_frame_equal(sa_, sb, check_dtype=True, obj=name)
    key = lambda fk: (fk.child, fk.columns, fk.parent, fk.parent_columns)  # noqa: E731
    assert sorted(map(key, a.schema.foreign_keys)) == sorted(map(key, b.schema.foreign_keys))


# ------------------------------------------------------------------------------------------- servers
def _reachable(url: str) -> bool:
    try:
        engine = sa.create_engine(url, connect_args={"connect_timeout": 2})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


def _start(commands: list[list[str]]) -> None:
    for cmd in commands:
        if shutil.which(cmd[0]):
            subprocess.run(cmd, check=False, capture_output=True, timeout=60)


def _ensure_server(url: str, start: list[list[str]], name: str) -> None:
    if _reachable(url):
        return
    _start(start)
    for _ in range(30):
        if _reachable(url):
            return
        time.sleep(1)
    pytest.fail(f"the local {name} server is down and could not be started")


def _pg_start() -> list[list[str]]:
    versions = sorted(p.name for p in Path("/etc/postgresql").glob("*")) if Path("/etc/postgresql").exists() else []
    return [["pg_ctlcluster", "--skip-systemctl-redirect", v, "main", "start"] for v in versions[-1:]]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    _ensure_server(PG_ADMIN, _pg_start(), "PostgreSQL")
    name = f"dbtwin_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    """A fresh, empty MariaDB database, dropped afterwards."""
    start = [["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"]]
    _ensure_server(MARIADB_ADMIN, start, "MariaDB")
    name = f"dbtwin_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(MARIADB_ADMIN)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    try:
        yield f"mysql+pymysql://root@127.0.0.1:3306/{name}?charset=utf8mb4"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()
