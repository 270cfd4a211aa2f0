"""Values that used to change silently: each comes back exactly, or is refused naming its column."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from dbtwin import Database, read, write
from dbtwin.errors import NotStorableError, SchemaError
from dbtwin.schema import Column, ColumnKind, Schema, StorageType, Table
from tests.test_cli_safety import assert_clean_failure, invoke

BIG = Decimal("12345678901234567891.1234567890")


def _execute(url: str, *statements: str) -> None:
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()


def _nan_db() -> Database:
    schema = Schema(
        {
            "t": Table(
                "t",
                [
                    Column("id", StorageType.INT64, ColumnKind.ID, False),
                    Column("x", StorageType.FLOAT64, ColumnKind.FLOAT),
                ],
                ("id",),
            )
        }
    )
    values = np.array([1.5] + [np.nan] * 20)
    null = np.array([False] * 11 + [True] * 10)  # 10 NaN values, 10 NULLs
    frame = pd.DataFrame({"id": range(21), "x": pd.arrays.FloatingArray(values, null)})
    return Database.from_frames({"t": frame}, schema)


def _nan_counts(db: Database) -> tuple[int, int]:
    x = db["t"]["x"]
    nulls = int(x.isna().sum())
    nans = int(np.isnan(x.to_numpy(dtype=np.float64, na_value=0.0)).sum())
    return nans, nulls


# ---------------------------------------------------------------------------------------- decimals
@pytest.mark.servers
def test_postgres_numeric_keeps_every_digit_and_its_scale(postgres_url, tmp_path):
    _execute(
        postgres_url,
        "CREATE TABLE m (id int PRIMARY KEY, price numeric(38,10), plain numeric, whole numeric(30,0))",
        f"INSERT INTO m VALUES (1, {BIG}, 0.1, 123456789012345678901234567890), (2, NULL, 1e-30, NULL), "
        "(3, -0.0000000001, 5, -1)",
    )
    db = read(postgres_url)
    columns = {c.name: c for c in db.schema.table("m").columns}
    assert (columns["price"].dtype, columns["price"].precision, columns["price"].scale) == ("decimal", 38, 10)
    assert columns["whole"].dtype == "decimal" and columns["whole"].scale == 0
    assert db["m"]["price"].tolist() == [BIG, None, Decimal("-1E-10")]
    assert db["m"]["whole"].tolist() == [Decimal("123456789012345678901234567890"), None, Decimal(-1)]
    for dest in (tmp_path / "m.sqlite", tmp_path / "pq", tmp_path / "csv"):
        fmt = "csv" if dest.name == "csv" else "parquet"
        result = invoke("convert", postgres_url, dest, *(["--format", fmt] if dest.suffix == "" else []))
        assert result.exit_code == 0, result.output
        back = read(dest)
        for name in ("price", "plain", "whole"):
            assert back["m"][name].tolist() == db["m"][name].tolist(), (dest, name)
        assert back.schema.table("m").column("price").scale == 10


@pytest.mark.servers
def test_mariadb_decimal_unsigned_and_set_columns(mariadb_url, postgres_url):
    _execute(
        mariadb_url,
        "CREATE TABLE m (id int PRIMARY KEY, price DECIMAL(38,10), big BIGINT UNSIGNED, tags SET('x','y','z'))",
        f"INSERT INTO m VALUES (1, {BIG}, 18446744073709551615, 'y,x'), (2, NULL, 1, ''), (3, 0, NULL, NULL)",
    )
    db = read(mariadb_url)
    frame = db["m"]
    assert frame["price"].tolist() == [BIG, None, Decimal("0E-10")]
    assert frame["big"].tolist() == [Decimal(2**64 - 1), Decimal(1), None]
    assert frame["tags"].tolist() == ["x,y", "", None]  # MariaDB's own order and text, not Python's set
    write(db, postgres_url)
    back = read(postgres_url)
    for name in ("price", "big", "tags"):
        assert back["m"][name].tolist() == frame[name].tolist(), name


def test_parquet_decimal128_round_trips_through_every_file_destination(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    table = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "d": pa.array([BIG, None, Decimal("-0.0000000001")], pa.decimal128(38, 10)),
        }
    )
    pq.write_table(table, src / "t.parquet")
    db = read(src)
    assert db.schema.table("t").column("d").dtype == StorageType.DECIMAL
    assert db["t"]["d"].tolist() == [BIG, None, Decimal("-1E-10")]
    for dest, fmt in ((tmp_path / "a.sqlite", None), (tmp_path / "b", "parquet"), (tmp_path / "c", "csv")):
        write(db, dest, file_format=fmt)
        assert read(dest)["t"]["d"].tolist() == db["t"]["d"].tolist(), dest
    assert pq.read_schema(tmp_path / "b" / "t.parquet").field("d").type == pa.decimal128(38, 10)


def test_decimal_wider_than_mariadb_is_refused_before_writing(tmp_path):
    schema = Schema({"t": Table("t", [Column("d", StorageType.DECIMAL, ColumnKind.FLOAT, precision=70, scale=10)])})
    db = Database.from_frames({"t": pd.DataFrame({"d": [Decimal("1.5")]})}, schema)
    from dbtwin.io.storable import check_storable

    with pytest.raises(NotStorableError, match=r"column 't\.d' holds decimals of 70 digits"):
        check_storable(db, "mysql")
    check_storable(db, "postgresql")


# --------------------------------------------------------------------------------------------- NaN
def test_parquet_nan_and_null_stay_apart(tmp_path):
    db = _nan_db()
    assert _nan_counts(db) == (10, 10)
    for fmt in ("parquet", "csv"):
        write(db, tmp_path / fmt, file_format=fmt)
        assert _nan_counts(read(tmp_path / fmt)) == (10, 10), fmt
    result = invoke("convert", tmp_path / "parquet", tmp_path / "again")
    assert result.exit_code == 0, result.output
    assert _nan_counts(read(tmp_path / "again")) == (10, 10)


def test_nan_beside_null_is_refused_where_the_destination_cannot_keep_them_apart(tmp_path):
    write(_nan_db(), tmp_path / "src")
    result = invoke("convert", tmp_path / "src", tmp_path / "out.sqlite")
    assert_clean_failure(result, "column 't.x' holds NaN values apart from NULL", "SQLite")
    assert not (tmp_path / "out.sqlite").exists()


@pytest.mark.servers
def test_postgres_nan_and_null_stay_apart(postgres_url, mariadb_url):
    write(_nan_db(), postgres_url)
    assert _nan_counts(read(postgres_url)) == (10, 10)
    with pytest.raises(NotStorableError, match="MariaDB"):
        write(read(postgres_url), mariadb_url)


# ---------------------------------------------------------------------------- Parquet types refused
@pytest.mark.parametrize(
    ("array", "fragment"),
    [
        (pa.array([1, 2**64 - 1], pa.uint64()), "beyond the int64 range"),
        (pa.array([[1], [2, 3]]), "Parquet type list"),
        (pa.array([{"a": 1}, {"a": 2}]), "Parquet type struct"),
        (pa.array([b"x", b"y"], pa.binary()), "Parquet type binary"),
        (pa.array([dt.date(1500, 1, 1), dt.date(2000, 1, 1)], pa.date32()), "outside the range"),
        (pa.array([dt.time(1, 2), dt.time(3, 4)], pa.time64("us")), "Parquet type time64"),
    ],
)
def test_parquet_columns_dbtwin_does_not_hold_are_refused_by_name(tmp_path, array, fragment):
    pq.write_table(pa.table({"id": pa.array([1, 2]), "odd": array}), tmp_path / "t.parquet")
    with pytest.raises(SchemaError, match=rf"column 't\.odd'.*{fragment}") as info:
        read(tmp_path)
    assert (info.value.table, info.value.column) == ("t", "odd")
    assert_clean_failure(invoke("inspect", tmp_path), "column 't.odd'", fragment)


def test_parquet_uint64_within_int64_and_time_zones_are_read(tmp_path, caplog):
    stamps = pa.array([dt.datetime(2020, 1, 1, 12, tzinfo=dt.UTC), None], pa.timestamp("us", tz="Europe/Paris"))
    pq.write_table(pa.table({"id": pa.array([1, 2], pa.uint64()), "at": stamps}), tmp_path / "t.parquet")
    with caplog.at_level(logging.WARNING):
        db = read(tmp_path)
    assert db["t"]["id"].tolist() == [1, 2]
    assert db["t"]["at"].iloc[0] == pd.Timestamp("2020-01-01 12:00")
    assert any("'t.at' holds times with the time zone Europe/Paris" in r.getMessage() for r in caplog.records)


def test_parquet_string_view_text_is_read_exactly_and_written_back(tmp_path):
    """Text as DataFusion, Polars and tpchgen-cli write it (Arrow's string_view) is the same text."""
    texts = ["a", "", None, "naïve ☃", "x\x00y", "a much longer string than the twelve inline bytes"]
    table = pa.table({"id": pa.array(range(6)), "s": pa.array(texts, pa.string_view())})
    pq.write_table(table, tmp_path / "t.parquet")
    db = read(tmp_path)
    assert [None if pd.isna(v) else v for v in db["t"]["s"]] == texts
    write(db, tmp_path / "again", file_format="parquet")
    back = pq.read_table(tmp_path / "again" / "t.parquet").column("s").to_pylist()
    assert back == texts


def test_parquet_file_with_two_columns_of_one_name_is_refused(tmp_path):
    schema = pa.schema([("id", pa.int64()), ("x", pa.int64()), ("x", pa.string())])
    pq.write_table(
        pa.Table.from_arrays([pa.array([1]), pa.array([2]), pa.array(["b"])], schema=schema), tmp_path / "t.parquet"
    )
    with pytest.raises(SchemaError, match="table 't' has two columns named 'x'") as info:
        read(tmp_path)
    assert (info.value.table, info.value.column) == ("t", "x")


@pytest.mark.servers
def test_postgres_time_zones_and_dates_are_said(postgres_url, caplog):
    _execute(
        postgres_url,
        "CREATE TABLE e (id int PRIMARY KEY, at timestamptz, day date)",
        "INSERT INTO e VALUES (1, '2020-01-01 12:00+02', '2020-01-02')",
    )
    with caplog.at_level(logging.WARNING):
        db = read(postgres_url)
    assert db["e"]["at"].iloc[0] == pd.Timestamp("2020-01-01 10:00")
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "time zones dropped: times held in UTC: e.at" in messages
    assert "DATE columns held as date/times, written back as timestamps: e.day" in messages


# ----------------------------------------------------------------------------- SQLite's fast insert
def test_sqlite_rows_sent_on_the_cursor_store_what_sqlalchemy_inserts(tmp_path, monkeypatch):
    """SQLite's rows go to the cursor as tuples, each value bound as SQLAlchemy binds its column's
    type: the file holds the same values, of the same SQLite types, as SQLAlchemy's own insert."""
    import sqlite3

    from dbtwin.io import sql_rows

    s, k = StorageType, ColumnKind
    columns = [
        Column("id", s.INT64, k.ID, False),
        Column("a 'quoted' \"name\"", s.STRING, k.TEXT),
        Column("x", s.FLOAT64, k.FLOAT),
        Column("flag", s.BOOL, k.CATEGORICAL),
        Column("when", s.DATETIME, k.DATETIME),
        Column("amount", s.DECIMAL, k.FLOAT),
    ]
    frame = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "a 'quoted' \"name\"": ["é ü", None, "x'; --"],
            "x": [0.1, None, -2.5e300],
            "flag": pd.array([True, None, False], dtype="boolean"),
            "when": pd.to_datetime(["2024-02-29 13:45:01.123456", None, "1900-01-01 00:00:00.000000"]),
            "amount": [Decimal("0.10"), None, BIG],
        }
    )
    db = Database.from_frames({"odd table": frame}, Schema({"odd table": Table("odd table", columns, ("id",))}))

    def dump(path) -> list:
        with sqlite3.connect(path) as conn:
            quoted = ", ".join(f'"{c.name.replace(chr(34), chr(34) * 2)}"' for c in columns)
            typed = ", ".join(f'typeof("{c.name.replace(chr(34), chr(34) * 2)}")' for c in columns)
            return conn.execute(f'SELECT {quoted}, {typed} FROM "odd table" ORDER BY id').fetchall()

    write(db, str(tmp_path / "fast.sqlite"))
    monkeypatch.setattr(sql_rows, "_sqlite_sender", lambda *a: None)  # SQLAlchemy's insert of row dicts
    write(db, str(tmp_path / "plain.sqlite"))
    assert dump(tmp_path / "fast.sqlite") == dump(tmp_path / "plain.sqlite")
    back = read(str(tmp_path / "fast.sqlite"))["odd table"]
    assert back["amount"].tolist()[2] == BIG and back["a 'quoted' \"name\""].tolist()[2] == "x'; --"
