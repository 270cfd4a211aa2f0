"""Replacing never loses the old data: server tables are swapped in only once every row is in, on
failure and on Ctrl-C alike; values a server cannot hold are refused before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from dbtwin import read, write
from dbtwin.errors import DatabaseRefusedError, DestinationNotEmptyError, NotStorableError
from dbtwin.io import sql_rows, sql_write
from tests.conftest import assert_same_database


def _tables(url: str) -> list[str]:
    engine = sa.create_engine(url)
    try:
        return sorted(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _failing_insert(monkeypatch, exc: BaseException, after: int = 2) -> None:
    real = sql_rows.insert_table
    calls = {"n": 0}

    def insert(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > after:
            raise exc
        return real(*args, **kwargs)

    monkeypatch.setattr(sql_rows, "insert_table", insert)


def _server_urls(request) -> list[str]:
    return [request.getfixturevalue("postgres_url"), request.getfixturevalue("mariadb_url")]


@pytest.mark.servers
@pytest.mark.parametrize("exc", [RuntimeError("insert failed"), KeyboardInterrupt()])
def test_failed_replace_keeps_the_old_tables(request, company, chinook, monkeypatch, exc):
    for url in _server_urls(request):
        write(company, url)
        _failing_insert(monkeypatch, exc)
        with pytest.raises(type(exc)):
            write(chinook, url, replace=True)
        monkeypatch.undo()
        assert _tables(url) == sorted(company.schema.table_names)  # no temporary tables left
        assert_same_database(company, read(url))


@pytest.mark.servers
@pytest.mark.parametrize("exc", [RuntimeError("insert failed"), KeyboardInterrupt()])
def test_failed_first_write_leaves_no_tables(request, company, monkeypatch, exc):
    for url in _server_urls(request):
        _failing_insert(monkeypatch, exc)
        with pytest.raises(type(exc)):
            write(company, url)
        monkeypatch.undo()
        assert _tables(url) == []
        write(company, url)  # nothing blocks the next run
        assert_same_database(company, read(url))


@pytest.mark.servers
def test_replace_swaps_clashing_tables_and_leaves_others(request, company, tmp_path):
    for url in _server_urls(request):
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE keepme (x INTEGER)"))
            conn.execute(sa.text("INSERT INTO keepme VALUES (42)"))
        write(company, url, replace=True)
        changed = company.copy()
        changed.tables["dept"].loc[0, "name"] = "Renamed"
        write(changed, url, replace=True)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT x FROM keepme")).fetchall() == [(42,)]
        engine.dispose()
        assert _tables(url) == sorted([*company.schema.table_names, "keepme"])
        back = read(url, tables=company.schema.table_names)
        assert_same_database(changed, back)


@pytest.mark.servers
def test_replace_refuses_when_a_kept_table_references_a_replaced_one(request, company):
    for url in _server_urls(request):
        write(company, url)
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE audit (id INTEGER PRIMARY KEY, p BIGINT REFERENCES person(id))"))
        engine.dispose()
        with pytest.raises(DestinationNotEmptyError, match="table 'audit' of the destination"):
            write(company, url, replace=True)
        assert_same_database(company, read(url, tables=company.schema.table_names))


@pytest.mark.servers
def test_infinity_is_refused_by_mariadb_before_any_table(company, mariadb_url):
    broken = company.copy()
    broken.tables["person"].loc[0, "salary"] = float("inf")
    with pytest.raises(NotStorableError, match=r"column 'person\.salary' holds infinite values") as info:
        write(broken, mariadb_url)
    assert (info.value.table, info.value.column) == ("person", "salary")
    assert _tables(mariadb_url) == []


def test_sqlite_url_replace_swaps_in_one_transaction(company, chinook, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    sql_write.write_sql(company, url)
    _failing_insert(monkeypatch, RuntimeError("boom"))
    with pytest.raises(RuntimeError):
        sql_write.write_sql(chinook, url, replace=True)
    monkeypatch.undo()
    assert _tables(url) == sorted(company.schema.table_names)
    sql_write.write_sql(chinook, url, replace=True)
    assert set(_tables(url)) == set(company.schema.table_names) | set(chinook.schema.table_names)
    assert read(url, tables=chinook.schema.table_names).num_rows("track") == chinook.num_rows("track")


@pytest.mark.servers
def test_a_killed_first_write_to_mariadb_leaves_only_temporary_tables(mariadb_url, tmp_path):
    import subprocess
    import sys

    script = tmp_path / "killed.py"
    script.write_text(
        "import os, signal, sys\n"
        "sys.path.insert(0, os.getcwd())\n"
        "from dbtwin import write\n"
        "from dbtwin.io import sql_rows, sql_write\n"
        "from tests.conftest import company_db\n"
        "real = sql_rows.insert_table\n"
        "def insert(*args, **kwargs):\n"
        "    real(*args, **kwargs)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "sql_rows.insert_table = insert\n"
        "write(company_db(), sys.argv[1])\n"
    )
    done = subprocess.run([sys.executable, str(script), mariadb_url], cwd=str(Path(__file__).parents[2]), check=False)
    assert done.returncode == -9
    left = _tables(mariadb_url)
    assert left and all(t.startswith(sql_write.TEMP_PREFIX) for t in left), left


@pytest.mark.servers
def test_a_server_refusal_names_the_users_table(request, company, monkeypatch):
    for url in _server_urls(request):
        real = sql_rows.insert_table

        def insert(conn, tobj, db, name, *args, **kwargs):
            raise sa.exc.OperationalError("INSERT", {}, Exception(f"value too long for table {tobj.name}"))

        monkeypatch.setattr(sql_rows, "insert_table", insert)
        with pytest.raises(DatabaseRefusedError, match=r"value too long for table (dept|project|person)") as info:
            write(company, url)
        assert "dbtwin_" not in str(info.value) and info.value.table in company.schema.tables
        monkeypatch.setattr(sql_rows, "insert_table", real)
