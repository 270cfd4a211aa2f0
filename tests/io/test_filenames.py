"""Table names are data, never paths: escaped file names that round-trip, recorded in metadata.json."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from dbtwin import Database, read, write
from dbtwin.errors import SchemaError
from dbtwin.io.filenames import MAX_STEM_BYTES, table_file_stem, table_file_stems, table_name_from_stem
from dbtwin.schema import Column, ColumnKind, Schema, StorageType, Table
from tests.conftest import assert_same_database

AWKWARD = ["../../victim", "/abs", "a/b", "..", ".", ".hidden", "con", "NUL", "%41", "x.y", "~t", "名前", "a b", ""]


def one_column_db(names: list[str]) -> Database:
    tables = {n: Table(n, [Column("v", StorageType.INT64, ColumnKind.INTEGER)]) for n in names}
    return Database.from_frames({n: pd.DataFrame({"v": [i, i + 1]}) for i, n in enumerate(names)}, Schema(tables))


@pytest.mark.parametrize("name", [*AWKWARD, "x" * 300, "é" * 200])
def test_stems_are_plain_distinct_names(name):
    stem = table_file_stem(name)
    assert stem and "/" not in stem and "\\" not in stem and not stem.startswith(".")
    assert len(stem.encode()) <= MAX_STEM_BYTES
    if "~" not in stem:
        assert table_name_from_stem(stem) == name


def test_stems_differ_even_without_case():
    stems = table_file_stems(["Album", "album", "ALBUM"])
    assert len({s.casefold() for s in stems.values()}) == 3


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_traversal_names_stay_inside_the_directory(tmp_path, fmt):
    victim = tmp_path / "victim.csv"
    victim.write_text("precious\n")
    out = tmp_path / "a" / "b" / "out"
    db = one_column_db(AWKWARD)
    write(db, out, file_format=fmt)
    assert victim.read_text() == "precious\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "victim.csv"]
    assert not (tmp_path / "abs.csv").exists() and not (tmp_path / "a" / "victim.csv").exists()
    files = [p for p in out.iterdir()]
    assert all(p.parent == out and p.is_file() for p in files)
    assert len(files) == len(AWKWARD) + 1
    recorded = json.loads((out / "metadata.json").read_text())["files"]
    assert set(recorded) == set(AWKWARD)
    assert_same_database(db, read(out))


def test_metadata_cannot_point_outside_the_directory(tmp_path, company):
    write(company, tmp_path / "d")
    meta = tmp_path / "d" / "metadata.json"
    data = json.loads(meta.read_text())
    data["files"]["dept"] = "../secret.parquet"
    meta.write_text(json.dumps(data))
    with pytest.raises(SchemaError, match=r"file recorded for table 'dept' \('../secret.parquet'\) is not a plain"):
        read(tmp_path / "d")
