"""Kept tables: their real rows in every sample at every scale, keys and values byte for byte, the
generated rows linked to them; parents come along; lookup tables kept by default; a table the user
names that is not there refused by name; the same after save and load."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dbtwin import Database
from dbtwin.cli import app
from dbtwin.errors import OptionError
from dbtwin.evaluate.integrity import kept_tables
from dbtwin.schema import Column, ColumnKind, Schema, StorageType, Table
from dbtwin.schema.metadata_json import schema_from_dict, schema_to_dict
from dbtwin.schema.model import ForeignKey
from dbtwin.synthesizer import Synthesizer
from dbtwin.validate import find_problems

QUICK = {"train_steps": 20, "sample_steps": 4, "hidden": 16, "batch_size": 64, "progress": False, "random_state": 0}


def assert_kept(sample: Database, real: Database, tables) -> None:
    for table in tables:
        pd.testing.assert_frame_equal(sample[table], real[table].reset_index(drop=True), check_exact=True)


def status_db(orders: int = 400) -> Database:
    """A 9-row status table with text keys, exact decimals, NaN beside NULL and moments, referenced by
    ``orders`` orders: the lookup table a user would not want made up."""
    rng = np.random.default_rng(0)
    codes = ["NEW", "PAID", "SHIP", "DONE", "BACK", "LOST", "HOLD", "VOID", "WAIT"]
    status = pd.DataFrame(
        {
            "code": codes,
            "description": [f"{c.lower()} order, see handbook section {i}" for i, c in enumerate(codes)],
            "fee": [
                Decimal("0.10"),
                Decimal("2.50"),
                None,
                Decimal("12345.67"),
                Decimal("-1.00"),
                Decimal("0.00"),
                Decimal("7.77"),
                Decimal("3.14"),
                Decimal("9.99"),
            ],
            "weight": [0.5, np.nan, None, 1e-300, -0.0, 2.5, np.inf, 3.0, 1.0],
            "since": pd.to_datetime(
                ["2020-01-01 10:00:00.123456"] * 4 + [None] + ["1999-12-31 00:00:00"] * 4, format="mixed"
            ),
        }
    )
    orders_frame = pd.DataFrame(
        {
            "id": np.arange(1, orders + 1),
            "status": rng.choice(codes, orders, p=[0.3, 0.2, 0.1, 0.2, 0.05, 0.05, 0.04, 0.03, 0.03]),
            "amount": rng.gamma(2.0, 30.0, orders).round(2),
        }
    )
    schema = Schema(
        {
            "status": Table(
                "status",
                [
                    Column("code", StorageType.STRING, ColumnKind.ID, False),
                    Column("description", StorageType.STRING, ColumnKind.TEXT),
                    Column("fee", StorageType.DECIMAL, ColumnKind.FLOAT, precision=8, scale=2),
                    Column("weight", StorageType.FLOAT64, ColumnKind.FLOAT),
                    Column("since", StorageType.DATETIME, ColumnKind.DATETIME),
                ],
                ("code",),
            ),
            "orders": Table(
                "orders",
                [
                    Column("id", StorageType.INT64, ColumnKind.ID, False),
                    Column("status", StorageType.STRING, ColumnKind.ID),
                    Column("amount", StorageType.FLOAT64, ColumnKind.FLOAT),
                ],
                ("id",),
            ),
        },
        [ForeignKey("orders", ("status",), "status", ("code",))],
    )
    return Database.from_frames({"status": status, "orders": orders_frame}, schema)


@pytest.fixture(scope="module")
def kept_invoices(chinook):
    return Synthesizer(keep=["invoice"], **QUICK).fit(chinook)


def test_kept_tables_and_their_parents_come_back_row_for_row_at_every_scale(chinook, kept_invoices):
    kept = kept_invoices.kept_
    assert kept["invoice"] == "asked for"
    assert kept["customer"].startswith("parent of kept table 'invoice'")
    assert kept["employee"].startswith("parent of kept table 'customer'")
    assert {"genre", "media_type", "playlist"} <= set(kept)  # lookup tables, by default
    for scale in (0.5, 1.0, 2.0):
        twin = kept_invoices.sample(scale=scale, random_state=1)
        assert_kept(twin, chinook, kept)
        assert find_problems(twin) == []
        assert twin.num_rows("track") == round(chinook.num_rows("track") * scale)
        lines = twin["invoice_line"]
        assert len(lines) and lines["invoice_id"].isin(chinook["invoice"]["invoice_id"]).all()


def test_generated_rows_are_linked_to_kept_rows_as_the_real_ones_are(chinook, kept_invoices):
    twin = kept_invoices.sample(random_state=2)
    real = chinook["invoice_line"].groupby("invoice_id").size()
    fake = twin["invoice_line"].groupby("invoice_id").size()
    # lines per kept invoice are drawn from the real degrees: about as many lines in all, and no
    # invoice with more lines than the most any real invoice has
    assert abs(len(twin["invoice_line"]) - len(chinook["invoice_line"])) <= 0.05 * len(chinook["invoice_line"])
    assert fake.max() <= real.max()


def test_a_lookup_table_is_kept_exactly_through_save_and_load(tmp_path):
    db = status_db()
    synth = Synthesizer(**QUICK).fit(db)
    assert synth.kept_ == {"status": "a lookup table: 9 rows, referenced by 400 rows of 'orders'"}
    synth.save(tmp_path / "model")
    loaded = Synthesizer.load(tmp_path / "model")
    assert loaded.kept_ == synth.kept_
    for model in (synth, loaded):
        for scale in (0.5, 2.0):
            twin = model.sample(scale=scale, random_state=3)
            assert_kept(twin, db, ["status"])
            assert twin["orders"]["status"].isin(db["status"]["code"]).all() and find_problems(twin) == []
            assert kept_tables(db, twin) == ["status"]  # what the evaluation report marks as kept
    assert [v for v in loaded.kept_.values()] == ["a lookup table: 9 rows, referenced by 400 rows of 'orders'"]


def test_lookup_tables_can_be_left_to_the_model(tmp_path):
    db = status_db()
    assert Synthesizer(keep_lookups=False, **QUICK).fit(db).kept_ == {}
    table = db.schema.table("status")
    marked = Schema(
        {**db.schema.tables, "status": Table(table.name, table.columns, table.primary_key, keep=False)},
        db.schema.foreign_keys,
    )
    assert Synthesizer(marked, **QUICK).fit(db).kept_ == {}
    asked = Schema(
        {**db.schema.tables, "orders": Table("orders", db.schema.table("orders").columns, ("id",), keep=True)},
        db.schema.foreign_keys,
    )
    kept = Synthesizer(asked, keep_lookups=False, **QUICK).fit(db).kept_
    assert kept == {
        "status": "parent of kept table 'orders' through orders(status) -> status(code)",
        "orders": 'marked "keep": true in the metadata',
    }


def test_keep_in_the_metadata_round_trips_and_is_checked():
    schema = status_db().schema
    table = schema.table("status")
    marked = Schema(
        {**schema.tables, "status": Table(table.name, table.columns, table.primary_key, keep=True)}, schema.foreign_keys
    )
    data = schema_to_dict(marked)
    assert data["tables"]["status"]["keep"] is True and "keep" not in data["tables"]["orders"]
    assert schema_from_dict(json.loads(json.dumps(data))).table("status").keep is True
    data["tables"]["status"]["keep"] = "yes"
    with pytest.raises(Exception, match="table 'status': \"keep\" must be true, false or null"):
        schema_from_dict(data)


def test_a_kept_table_that_is_not_there_is_refused_by_name(chinook):
    with pytest.raises(OptionError, match="keep: table 'invoices' is not in the database"):
        Synthesizer(keep=["invoices"], **QUICK).fit(chinook)
    with pytest.raises(OptionError, match="keep: must be a list of table names"):
        Synthesizer(keep=[3], **QUICK)


def test_the_command_line_keeps_tables_and_says_why(tmp_path):
    src = tmp_path / "shop.sqlite"
    with sqlite3.connect(src) as conn:
        conn.execute("CREATE TABLE region (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("CREATE TABLE shop (id INTEGER PRIMARY KEY, region_id INTEGER REFERENCES region(id), size REAL)")
        conn.execute("CREATE TABLE sale (id INTEGER PRIMARY KEY, shop_id INTEGER REFERENCES shop(id), amount REAL)")
        conn.executemany("INSERT INTO region VALUES (?, ?)", [(i, f"region {i % 3}") for i in range(1, 6)])
        conn.executemany("INSERT INTO shop VALUES (?, ?, ?)", [(i, 1 + i % 5, i * 1.5) for i in range(1, 41)])
        conn.executemany("INSERT INTO sale VALUES (?, ?, ?)", [(i, 1 + i % 40, i % 17 + 0.25) for i in range(1, 301)])
    runner = CliRunner()
    bad = runner.invoke(app, ["fit", str(src), "--out", str(tmp_path / "m0"), "--steps", "2", "--keep", "shops"])
    assert bad.exit_code == 2 and "--keep: table 'shops' is not in the database" in " ".join(bad.output.split())
    assert not (tmp_path / "m0").exists()
    out = tmp_path / "m"
    result = runner.invoke(app, ["fit", str(src), "--out", str(out), "--steps", "5", "--seed", "0", "--keep", "shop"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "kept as they are" in said and "shop (asked for)" in said and "region (parent of kept table 'shop'" in said
    twin_path = tmp_path / "twin.sqlite"
    sampled = runner.invoke(app, ["sample", str(out), "--out", str(twin_path), "--scale", "2", "--seed", "1"])
    assert sampled.exit_code == 0, sampled.output
    with sqlite3.connect(twin_path) as conn, sqlite3.connect(src) as real:
        for table in ("region", "shop"):
            query = f"SELECT * FROM {table} ORDER BY id"
            assert conn.execute(query).fetchall() == real.execute(query).fetchall()
        assert conn.execute("SELECT COUNT(*) FROM sale").fetchone()[0] == 600
