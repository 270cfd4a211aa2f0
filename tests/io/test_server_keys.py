"""Integer keys on servers: a key of 0 stays 0, and a written database takes the next ordinary INSERT."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from dbtwin import Database, read, write
from dbtwin.schema import Column, ColumnKind, ForeignKey, Schema, StorageType, Table
from tests.conftest import assert_same_database


def _zero_keys() -> Database:
    i, s = StorageType.INT64, StorageType.STRING
    schema = Schema(
        {
            "parent": Table(
                "parent", [Column("id", i, ColumnKind.ID, False), Column("name", s, ColumnKind.TEXT)], ("id",)
            ),
            "child": Table(
                "child", [Column("cid", i, ColumnKind.ID, False), Column("parent", i, ColumnKind.ID)], ("cid",)
            ),
        },
        [ForeignKey("child", ("parent",), "parent", ("id",))],
    )
    frames = {
        "parent": pd.DataFrame({"id": list(range(10)), "name": [f"p{k}" for k in range(10)]}),
        "child": pd.DataFrame({"cid": [0, 1, 2, -5], "parent": [0, 0, 9, 3]}),
    }
    return Database.from_frames(frames, schema)


@pytest.mark.servers
@pytest.mark.parametrize("server", ["postgres_url", "mariadb_url"])
def test_zero_keys_round_trip_and_the_next_insert_gets_a_fresh_key(request, server):
    url = request.getfixturevalue(server)
    db = _zero_keys()
    write(db, url)
    assert_same_database(db, read(url), check_kinds=False)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:  # what an application under test does: the key left to the database
            conn.execute(sa.text("INSERT INTO parent (name) VALUES ('new')"))
            conn.execute(sa.text("INSERT INTO child (parent) VALUES (0)"))
            new_parent = conn.execute(sa.text("SELECT id FROM parent WHERE name = 'new'")).scalar_one()
            new_child = conn.execute(sa.text("SELECT max(cid) FROM child")).scalar_one()
        assert new_parent == 10 and new_child == 3
    finally:
        engine.dispose()
    # and after a replace, whose tables were written under temporary names and renamed
    write(db, url, replace=True)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO parent (name) VALUES ('again')"))
            assert conn.execute(sa.text("SELECT id FROM parent WHERE name = 'again'")).scalar_one() == 10
    finally:
        engine.dispose()


@pytest.mark.servers
@pytest.mark.parametrize("server", ["postgres_url", "mariadb_url"])
def test_names_with_percent_signs_keep_their_spelling_through_a_replace(request, server):
    """Both drivers format ``%s``: a table called '%s' was renamed in as '%%s' (MariaDB)."""
    url = request.getfixturevalue(server)
    frames = {"%s": pd.DataFrame({"id": [0, 1, 2], "%(x)s": ["a", "%", "%%"]})}
    db = Database.from_frames(frames)
    write(db, url)
    write(db, url, replace=True)  # the swap path: temporary names renamed to the user's
    back = read(url)
    assert back.schema.table_names == ["%s"]
    assert_same_database(db, back, check_kinds=False)
