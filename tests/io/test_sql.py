"""SQL reading and writing on SQLite files (the embedded default)."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest
import sqlalchemy as sa

from dbtwin import read, write
from dbtwin.errors import DataValidationError, DestinationNotEmptyError, SchemaError
from dbtwin.validate import resolve_orphans
from tests.conftest import assert_same_database


def test_company_round_trip_through_sqlite_keeps_rows_keys_and_constraints(company, tmp_path):
    path = tmp_path / "company.sqlite"
    write(company, path)
    back = read(path)
    # SQLite keeps no comments: kinds are inferred again, the data and keys must be identical
    assert_same_database(company, back, check_kinds=False)
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA foreign_keys = ON")
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        fks = conn.execute("PRAGMA foreign_key_list(timesheet)").fetchall()
        assert {(r[2], r[3], r[4]) for r in fks} == {
            ("assignment", "person", "person"),
            ("assignment", "project", "project"),
        }
        pk = [r[1] for r in conn.execute("PRAGMA table_info(assignment)").fetchall() if r[5]]
        assert pk == ["person", "project"]


def test_self_reference_rows_inserted_bosses_first(company, tmp_path):
    path = tmp_path / "c.sqlite"
    write(company, path)
    with sqlite3.connect(path) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM person ORDER BY rowid")]
    # 1 and 2 have no boss, 4 and 3 report to 1, 5 reports to 4
    assert ids.index(1) < ids.index(4) < ids.index(5) and ids.index(1) < ids.index(3)


def test_chinook_round_trip_through_sqlite(chinook, tmp_path):
    write(chinook, tmp_path / "chinook.db")
    back = read(tmp_path / "chinook.db")
    assert_same_database(chinook, back, check_kinds=False)
    assert back.schema.depth() == 3 and len(back.schema.foreign_keys) == 11


def test_refuses_to_overwrite_sqlite_file_unless_replace(company, chinook, tmp_path):
    path = tmp_path / "x.sqlite"
    write(company, path)
    before = path.read_bytes()
    with pytest.raises(DestinationNotEmptyError, match="already exists"):
        write(chinook, path)
    assert path.read_bytes() == before
    write(chinook, path, replace=True)
    assert set(read(path).schema.table_names) == set(chinook.schema.table_names)


def test_refuses_a_database_that_holds_tables(company, tmp_path):
    url = f"sqlite:///{tmp_path / 'other.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE keepme (x INTEGER)"))
        conn.execute(sa.text("INSERT INTO keepme VALUES (42)"))
    engine.dispose()
    from dbtwin.io.sql import write_sql

    with pytest.raises(DestinationNotEmptyError, match="keepme"):
        write_sql(company, url)
    write_sql(company, url, replace=True)  # replaces clashing tables only; keepme stays
    with sqlite3.connect(tmp_path / "other.sqlite") as conn:
        assert conn.execute("SELECT x FROM keepme").fetchall() == [(42,)]
        assert conn.execute("SELECT count(*) FROM person").fetchone() == (5,)


def test_writer_refuses_orphans_before_touching_the_destination(flights_jan, tmp_path):
    path = tmp_path / "f.sqlite"
    with pytest.raises(DataValidationError, match=r"flights\(tailnum\) -> planes\(tailnum\): 4324 row"):
        write(flights_jan, path)
    assert not path.exists()
    assert not list(tmp_path.iterdir())  # no temporary file left behind


def test_flights_with_orphans_dropped_round_trip_through_sqlite(flights_jan, tmp_path):
    clean, report = resolve_orphans(flights_jan, "drop")
    assert report.orphans["flights.tailnum->planes"] == 4324
    write(clean, tmp_path / "f.sqlite")
    back = read(tmp_path / "f.sqlite")
    assert_same_database(clean, back, check_kinds=False)
    assert back.schema.table("weather").primary_key == ("origin", "time_hour")


def test_unsupported_sql_type_is_named(tmp_path):
    url = f"sqlite:///{tmp_path / 'blob.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE pics (id INTEGER PRIMARY KEY, img BLOB)"))
        conn.execute(sa.text("INSERT INTO pics VALUES (1, x'00ff')"))
    engine.dispose()
    with pytest.raises(SchemaError, match=r"column 'pics\.img' has SQL type BLOB") as info:
        read(url)
    assert info.value.table == "pics" and info.value.column == "img"
    from dbtwin.io.sql import read_sql

    db = read_sql(url, unsupported="skip")
    assert db.schema.table("pics").column_names == ["id"]


def test_sqlite_values_that_do_not_fit_their_declared_type_are_read_as_they_are(tmp_path, caplog):
    """SQLite's declared types are affinities: a column whose values do not fit one is read by its
    values, every value kept, and a warning names the column."""
    path = tmp_path / "bad.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER, b BOOLEAN, c BOOLEAN, m NUMERIC, ok BOOLEAN)")
        conn.execute(
            "INSERT INTO t VALUES (1, 5, 1, 0, 1.5, 1), (2, 'five', 2, 'yes', 'three', 0), (3, NULL, 0, 1, 2, NULL)"
        )
    with caplog.at_level("WARNING"):
        db = read(path)
    frame = db["t"]
    assert frame["n"].tolist() == ["5", "five", None]
    assert frame["b"].tolist() == [1, 2, 0]  # not True, True, False
    assert frame["c"].tolist() == ["0", "yes", "1"]
    assert frame["m"].tolist() == ["1.5", "three", "2"]
    assert frame["ok"].tolist() == [True, False, pd.NA]
    types = {c.name: c.dtype.value for c in db.schema.table("t").columns}
    assert types == {"id": "int64", "n": "string", "b": "int64", "c": "string", "m": "string", "ok": "bool"}
    for column in ("t.n", "t.b", "t.c", "t.m"):
        assert any(f"'{column}' is declared" in r.getMessage() for r in caplog.records), column
    assert not any("'t.ok'" in r.getMessage() for r in caplog.records)


def test_sqlite_blobs_are_refused_with_the_column_named(tmp_path):
    path = tmp_path / "blob.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, x)")
        conn.execute("INSERT INTO t VALUES (1, 'text'), (2, ?)", (b"\xff\x00",))
    with pytest.raises(SchemaError, match=r"column 't\.x' holds binary values"):
        read(path)


def cycle_db():
    import pandas as pd

    from dbtwin import Database
    from dbtwin.schema import Column, ColumnKind, ForeignKey, Schema, StorageType, Table

    i, k = StorageType.INT64, ColumnKind.ID
    schema = Schema(
        {
            "a": Table("a", [Column("id", i, k, False), Column("b_id", i, k, True)], ("id",)),
            "b": Table("b", [Column("id", i, k, False), Column("a_id", i, k, False)], ("id",)),
        },
        [ForeignKey("a", ("b_id",), "b", ("id",)), ForeignKey("b", ("a_id",), "a", ("id",))],
    )
    frames = {"a": pd.DataFrame({"id": [1, 2], "b_id": [10, None]}), "b": pd.DataFrame({"id": [10], "a_id": [2]})}
    return Database.from_frames(frames, schema)


def test_table_cycle_is_written_through_the_nullable_key(tmp_path):
    db = cycle_db()
    write(db, tmp_path / "cycle.sqlite")
    assert_same_database(db, read(tmp_path / "cycle.sqlite"), check_kinds=False)


def test_sqlite_without_declared_keys_is_detected_as_its_csv_copy_is(tmp_path):
    path = tmp_path / "plain.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (customer_id INTEGER, name TEXT, joined TEXT)")
        conn.execute("CREATE TABLE orders (order_id INTEGER, customer_id INTEGER, amount REAL)")
        conn.executemany("INSERT INTO customers VALUES (?, ?, ?)", [(1, "Ann", "2020-01-01"), (2, "Bob", "2021-02-03")])
        conn.executemany("INSERT INTO orders VALUES (?, ?, ?)", [(1, 1, 9.5), (2, 1, 3.0), (3, 2, None)])
    from_sqlite = read(path)
    csv_dir = tmp_path / "csv"
    csv_dir.mkdir()
    for name in ("customers", "orders"):
        pd.read_sql(f"SELECT * FROM {name}", sqlite3.connect(path)).to_csv(csv_dir / f"{name}.csv", index=False)
    from_csv = read(csv_dir)
    for db in (from_sqlite, from_csv):
        assert db.schema.table("orders").primary_key == ("order_id",)
        assert [(fk.child, fk.columns, fk.parent) for fk in db.schema.foreign_keys] == [
            ("orders", ("customer_id",), "customers")
        ]
        assert db.schema.table("customers").column("joined").dtype == "datetime"
