"""A database in shards, spooled and written a shard at a time: every destination gets the rows of
every shard exactly, typed from the widest values of all of them (not the first shard's), the
tables in ``once`` written once, and a primary key repeated across shards refused by name."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from dbtwin import Database, read, write
from dbtwin.errors import DataValidationError, OptionError
from dbtwin.io.shards import Spool, in_shards, widest_rows
from dbtwin.schema import Column, ColumnKind, ForeignKey, Schema, StorageType, Table

K = ColumnKind
SCHEMA = Schema(
    {
        "shop": Table(
            "shop",
            [Column("code", StorageType.STRING, K.ID, False), Column("city", StorageType.STRING, K.CATEGORICAL)],
            ("code",),
        ),
        "sale": Table(
            "sale",
            [
                Column("id", StorageType.STRING, K.ID, False),
                Column("shop", StorageType.STRING, K.ID, False),
                Column("price", StorageType.DECIMAL, K.FLOAT),
                Column("when", StorageType.DATETIME, K.DATETIME),
                Column("ok", StorageType.BOOL, K.BOOLEAN),
            ],
            ("id",),
        ),
    },
    [ForeignKey("sale", ("shop",), "shop", ("code",))],
)
SHOPS = pd.DataFrame({"code": ["s1", "s2"], "city": ["Oslo", None]})


def shard(ids: list[str], prices: list[str | None]) -> Database:
    n = len(ids)
    sales = pd.DataFrame(
        {
            "id": ids,
            "shop": (["s1", "s2"] * n)[:n],
            "price": [None if p is None else Decimal(p) for p in prices],
            "when": pd.to_datetime(["2024-02-29 10:00:00.123456"] * n),
            "ok": ([True, None, False] * n)[:n],
        }
    )
    return Database.from_frames({"shop": SHOPS, "sale": sales}, SCHEMA)


# the second shard holds the longest key, the most whole digits and the most digits after the point
FIRST = shard(["a", "b"], ["1.5", None])
SECOND = shard(["c" * 200, "d"], ["123456789012345678.25", "0.000001"])


@pytest.fixture
def sharded(tmp_path):
    spool = Spool(tmp_path / "spool", SCHEMA, once=["shop"])
    spool.add(FIRST)
    spool.add(SECOND)
    yield spool.sharded()
    spool.remove()


def whole() -> Database:
    sales = pd.concat([FIRST["sale"], SECOND["sale"]], ignore_index=True)
    return Database.from_frames({"shop": SHOPS, "sale": sales}, SCHEMA)


@pytest.mark.parametrize("where", ["twin.sqlite", "twin_parquet", "twin_csv"])
def test_every_shard_is_written_exactly_typed_from_the_widest_values(tmp_path, sharded, where):
    out = tmp_path / where
    write(sharded, str(out), file_format="csv" if where.endswith("csv") else "parquet")
    back = read(str(out))
    expected = whole()
    assert back.num_rows("shop") == 2  # written once, not once a shard
    for name in ("shop", "sale"):
        pd.testing.assert_frame_equal(back[name], expected[name], check_exact=True)
    assert back["sale"]["price"][2] == Decimal("123456789012345678.25")
    assert back["sale"]["price"][3] == Decimal("0.000001")


def test_shards_are_written_to_a_server_in_one_transaction(postgres_url, sharded):
    write(sharded, postgres_url, replace=True)
    back = read(postgres_url)
    pd.testing.assert_frame_equal(back["sale"], whole()["sale"], check_exact=True)
    assert back.num_rows("shop") == 2


def test_a_primary_key_repeated_across_shards_is_refused_by_name(tmp_path):
    spool = Spool(tmp_path / "spool", SCHEMA, once=["shop"])
    spool.add(FIRST)
    with pytest.raises(DataValidationError, match="table 'sale': shard 2 repeats 1 primary key"):
        spool.add(shard(["z", "b"], ["1", "2"]))
    spool.add(shard(["z", "y"], ["1", "2"]))  # the refused shard left nothing behind
    assert spool.sharded().rows == {"shop": 2, "sale": 4}


def test_shards_spooled_by_several_processes_make_one_whole(tmp_path):
    """Two processes spool shards of one sample into one folder, each with its own spool; one takes the
    other's and sees the whole, in shard order, and refuses a repeated key or a shard it cannot see."""
    third = shard(["e"], ["7.25"])
    main, other = Spool(tmp_path / "spool", SCHEMA, once=["shop"]), Spool(tmp_path / "spool", SCHEMA, once=["shop"])
    main.add(FIRST, 0)
    other.add(SECOND, 1)
    main.add(third, 2)
    main.merge(other.parts())
    merged = main.sharded()
    assert merged.count == 3 and merged.rows == {"shop": 2, "sale": 5}
    assert [db.num_rows("sale") for _i, db in merged.shards()] == [2, 2, 1]
    out = tmp_path / "twin.sqlite"
    write(merged, str(out))
    sales = pd.concat([FIRST["sale"], SECOND["sale"], third["sale"]], ignore_index=True)
    assert read(str(out))["sale"]["id"].tolist() == sales["id"].tolist()
    assert read(str(out))["sale"]["price"].tolist() == sales["price"].tolist()  # the widest decimals of shard 2
    clash = Spool(tmp_path / "spool", SCHEMA, once=["shop"])
    clash.add(shard(["x", "c" * 200], ["1", "2"]), 3)  # repeats a key of the second shard, another process's
    with pytest.raises(DataValidationError, match="table 'sale': shard 4 repeats 1 primary key"):
        main.merge(clash.parts())
    elsewhere = Spool(tmp_path / "other_machine", SCHEMA, once=["shop"])
    elsewhere.add(shard(["y"], ["1"]), 4)
    with pytest.raises(OptionError, match="shard 5 was spooled where this process cannot see it"):
        main.merge(elsewhere.parts())


def test_widest_rows_are_those_of_the_longest_string_and_the_widest_decimals():
    frame = SECOND["sale"]
    assert widest_rows(frame, SCHEMA.table("sale")) == [0, 1]  # longest id and most whole digits; most places
    assert widest_rows(FIRST["sale"], SCHEMA.table("sale")) == [0]


def test_a_database_is_its_own_single_shard():
    db = whole()
    one = in_shards(db)
    assert one.count == 1 and one.total_rows == db.total_rows
    assert [d for _, d in one.shards()] == [db]
