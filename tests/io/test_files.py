"""Parquet and CSV directories: round trips, detection, atomic writes, refusal to overwrite."""

from __future__ import annotations

import json

import pytest

from dbtwin import read, write
from dbtwin.errors import DestinationNotEmptyError, SchemaError
from dbtwin.io.files import write_directory
from tests.conftest import assert_same_database


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_directory_round_trip(company, chinook, tmp_path, fmt):
    for db in (company, chinook):
        out = tmp_path / f"{fmt}-{len(db.tables)}"
        write(db, out, file_format=fmt)
        assert (out / "metadata.json").exists()
        assert_same_database(db, read(out))


def test_directory_is_not_overwritten_unless_asked(company, chinook, tmp_path):
    out = tmp_path / "db"
    write(company, out)
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(DestinationNotEmptyError, match="already holds files"):
        write(chinook, out)
    assert sorted(p.name for p in out.iterdir()) == before
    write(chinook, out, replace=True)
    assert "track.parquet" in {p.name for p in out.iterdir()} and "person.parquet" not in {
        p.name for p in out.iterdir()
    }
    assert [p.name for p in tmp_path.iterdir()] == ["db"]  # no temporary directories left


def test_failed_write_leaves_nothing(company, tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(pq.ParquetWriter, "write_table", boom)
    with pytest.raises(OSError, match="disk full"):
        write_directory(company, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_csv_directory_without_metadata_is_detected(tmp_path):
    (tmp_path / "customers.csv").write_text("customer_id,name,joined\n1,Ann,2020-01-01\n2,Bob,2021-02-03\n")
    (tmp_path / "orders.csv").write_text("order_id,customer_id,amount\n1,1,9.5\n2,1,3\n3,2,\n")
    db = read(tmp_path)
    assert db.schema.table("orders").primary_key == ("order_id",)
    assert [(fk.child, fk.columns, fk.parent) for fk in db.schema.foreign_keys] == [
        ("orders", ("customer_id",), "customers")
    ]
    assert db["orders"]["amount"].isna().sum() == 1
    assert db.schema.table("customers").column("joined").dtype.value == "datetime"


def test_metadata_naming_a_missing_table_is_an_error(company, tmp_path):
    write(company, tmp_path / "d")
    data = json.loads((tmp_path / "d" / "metadata.json").read_text())
    (tmp_path / "d" / "project.parquet").unlink()
    (tmp_path / "m.json").write_text(json.dumps(data))
    with pytest.raises(SchemaError, match="table 'project'"):
        read(tmp_path / "d", metadata=tmp_path / "m.json")


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_an_interrupted_directory_replace_leaves_the_old_files_and_nothing_else(
    company, chinook, tmp_path, monkeypatch, fmt
):
    from dbtwin.io import files

    out = tmp_path / "out"
    write_directory(company, out, fmt)
    (out / "notes.txt").write_text("mine")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real, calls = files.Path.replace, {"n": 0}

    def replace(self, target):  # Ctrl-C while the new files are being moved in
        calls["n"] += 1
        if calls["n"] == len(before) + 1:
            raise KeyboardInterrupt
        return real(self, target)

    monkeypatch.setattr(files.Path, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        write_directory(chinook, out, fmt, replace=True)
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no .dbtwin-*.old or .new left


def test_parquet_written_in_chunks_reads_back_exactly(company, tmp_path, monkeypatch):
    """A table written a few rows at a time (chunks where a column is all NULL, or holds other
    decimals) reads back value for value."""
    import dbtwin.io.parquet as parquet

    monkeypatch.setattr(parquet.ParquetTableWriter.append, "__defaults__", (1,))  # one row a chunk
    out = tmp_path / "chunks"
    write(company, out, file_format="parquet")
    assert_same_database(company, read(out))
    import pyarrow.parquet as pq

    assert pq.ParquetFile(next(out.glob("*.parquet"))).num_row_groups > 1
