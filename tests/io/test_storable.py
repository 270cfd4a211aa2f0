"""Limits of each destination, checked before anything is written, each naming table and column."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from dbtwin import Database, read, write
from dbtwin.cli import app
from dbtwin.errors import NotStorableError
from dbtwin.schema import Column, ColumnKind, Schema, StorageType, Table
from tests.conftest import assert_same_database


def single(table: str, column: str, values: list, dtype: StorageType = StorageType.STRING) -> Database:
    kind = {StorageType.STRING: ColumnKind.TEXT, StorageType.FLOAT64: ColumnKind.FLOAT}.get(dtype, ColumnKind.DATETIME)
    schema = Schema({table: Table(table, [Column(column, dtype, kind)])})
    return Database.from_frames({table: pd.DataFrame({column: values})}, schema)


def _no_tables(url: str) -> bool:
    engine = sa.create_engine(url)
    try:
        return sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


@pytest.mark.servers
def test_identifier_limits_of_each_server(postgres_url, mariadb_url):
    pg_long = "é" * 32  # 64 bytes: one over PostgreSQL's 63
    with pytest.raises(NotStorableError, match=r"table name 'é+' is 64 bytes long; PostgreSQL allows at most 63"):
        write(single(pg_long, "v", ["a"]), postgres_url)
    assert _no_tables(postgres_url)
    col = "c" * 65
    with pytest.raises(NotStorableError, match=r"column name 't\.c+' is 65 characters long; MariaDB/MySQL allows") as e:
        write(single("t", col, ["a"]), mariadb_url)
    assert (e.value.table, e.value.column) == ("t", col)
    assert _no_tables(mariadb_url)
    ok = single("é" * 31, "v" * 63, ["a"])  # at the limit: written and read back
    write(ok, postgres_url)
    assert_same_database(ok, read(postgres_url), check_kinds=False)


@pytest.mark.servers
def test_nul_in_text_is_refused_by_postgres_only(postgres_url, tmp_path):
    db = single("t", "s", ["a\x00b", "c"])
    with pytest.raises(NotStorableError, match=r"column 't\.s' holds text with NUL characters") as e:
        write(db, postgres_url)
    assert (e.value.table, e.value.column) == ("t", "s")
    assert _no_tables(postgres_url)
    write(db, tmp_path / "nul.sqlite")
    assert read(tmp_path / "nul.sqlite")["t"]["s"].tolist() == ["a\x00b", "c"]


@pytest.mark.servers
def test_case_and_padding_of_string_keys_survive_mariadb(mariadb_url):
    schema = Schema({"k": Table("k", [Column("id", StorageType.STRING, ColumnKind.ID, False)], ("id",))})
    db = Database.from_frames({"k": pd.DataFrame({"id": ["a", "A", "a ", "é", "e"]})}, schema)
    write(db, mariadb_url)
    assert sorted(read(mariadb_url)["k"]["id"]) == sorted(["a", "A", "a ", "é", "e"])


def test_nanoseconds_are_refused_where_times_stop_at_microseconds(tmp_path):
    db = single("t", "at", pd.to_datetime(["2020-01-01 00:00:00.000000001"]), StorageType.DATETIME)
    with pytest.raises(NotStorableError, match=r"column 't\.at' holds times with nanoseconds"):
        write(db, tmp_path / "t.sqlite")
    with pytest.raises(NotStorableError, match="CSV"):
        write(db, tmp_path / "csv", file_format="csv")
    write(db, tmp_path / "pq")
    assert_same_database(db, read(tmp_path / "pq"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pq"]


def test_sqlite_names_that_differ_only_in_case(tmp_path):
    schema = Schema(
        {
            "t": Table(
                "t",
                [
                    Column("a", StorageType.FLOAT64, ColumnKind.FLOAT),
                    Column("A", StorageType.FLOAT64, ColumnKind.FLOAT),
                ],
            )
        }
    )
    db = Database.from_frames({"t": pd.DataFrame({"a": [1.0], "A": [2.0]})}, schema)
    with pytest.raises(NotStorableError, match=r"columns 't\.a' and 't\.A' differ only in case"):
        write(db, tmp_path / "c.sqlite")
    write(db, tmp_path / "c")  # Parquet tells them apart
    assert_same_database(db, read(tmp_path / "c"))


@pytest.mark.servers
@pytest.mark.parametrize("verbose", [[], ["-v"]])
def test_password_is_masked_in_everything_printed(postgres_url, verbose):
    url = postgres_url.replace("postgres@", "postgres:s3cr3t-pw@")
    result = CliRunner().invoke(app, [*verbose, "convert", "chinook", url])
    assert result.exit_code == 0, result.output
    assert "s3cr3t-pw" not in result.output and "***" in result.output
    again = CliRunner().invoke(app, [*verbose, "convert", "chinook", url])
    assert again.exit_code == 2 and "s3cr3t-pw" not in again.output
    inspect = CliRunner().invoke(app, [*verbose, "inspect", url])
    assert inspect.exit_code == 0 and "s3cr3t-pw" not in inspect.output and "***" in inspect.output
    wrong = url.replace("127.0.0.1:5432", "127.0.0.1:1")
    failed = CliRunner().invoke(app, [*verbose, "inspect", wrong])
    assert failed.exit_code == 2 and "s3cr3t-pw" not in failed.output
