"""The rule kinds beyond the first seven: formulas with constants, bounds from both sides, periods,
grids, running sums, and rules that a few rows break (reported, kept when the metadata asks)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dbtwin.database import Database
from dbtwin.encode.rare import Protection
from dbtwin.encode.table import _unit
from dbtwin.errors import SchemaError
from dbtwin.relations import Formula, Order, Ref, apply_rules, discover, keeping, rule_from_dict
from dbtwin.relations.report import fit_relations, summarize_relations
from dbtwin.relations.rule_json import decimal_text
from dbtwin.relations.rules import Period, Running, Step
from dbtwin.schema.metadata_json import schema_from_dict, schema_to_dict
from dbtwin.schema.model import Column, ColumnKind, ForeignKey, Schema, StorageType, Table
from dbtwin.synthesizer import Synthesizer

INT, F, D = StorageType.INT64, StorageType.FLOAT64, StorageType.DATETIME
K = ColumnKind


def _sales(broken_rows: tuple[int, ...] = ()) -> Database:
    rng = np.random.default_rng(0)
    n = 600
    price = np.round(rng.uniform(1, 50, size=n), 1)
    qty = rng.integers(1, 9, size=n)
    amount = np.round(price * qty, 1)
    amount[list(broken_rows)] += 1
    frame = pd.DataFrame(
        {
            "sale_id": pd.array(np.arange(1, n + 1), dtype="Int64"),
            "price": price,
            "qty": pd.array(qty, dtype="Int64"),
            "amount": amount,
            "fahrenheit": np.round(price * 1.8 + 32, 2),
        }
    )
    columns = [
        Column("sale_id", INT, K.ID, False),
        Column("price", F, K.FLOAT),
        Column("qty", INT, K.INTEGER),
        Column("amount", F, K.FLOAT),
        Column("fahrenheit", F, K.FLOAT),
    ]
    return Database.from_frames({"sale": frame}, Schema({"sale": Table("sale", columns, ("sale_id",))}))


def test_a_formula_with_constants_is_found_with_its_exact_decimals():
    db = _sales()
    rules = [r for r in discover(db).rules if isinstance(r, Formula)]
    affine = next(r for r in rules if r.column == "fahrenheit")
    assert (affine.scale, affine.offset, affine.right) == ("1.8", "32", None)
    assert affine.describe(db.schema) == "sale.fahrenheit = 1.8 * sale.price + 32"
    saved = json.loads(json.dumps(affine.to_dict()))
    assert saved["scale"] == "1.8" and "right" not in saved
    assert rule_from_dict(saved, db.schema) == affine
    declared = rule_from_dict(dict(saved, scale=1.8), db.schema)  # a number in the JSON: its shortest decimal
    assert declared.scale == "1.8"
    with pytest.raises(SchemaError, match="decimal"):
        rule_from_dict(dict(saved, scale="a lot"), db.schema)


def test_decimal_text_is_the_shortest_within_the_tolerance():
    assert decimal_text(1.7999999999, 1e-6) == "1.8"
    assert decimal_text(-3.5, 0.0) == "-3.5"
    assert decimal_text(100.0000001, 1e-3) == "100"
    assert decimal_text(0.333333, 1e-3) == "0.333"


def test_a_rule_a_few_rows_break_is_reported_with_them_and_kept_only_when_asked():
    db = _sales(broken_rows=(5, 77))
    found = discover(db)
    assert not any(r.column == "amount" and isinstance(r, Formula) for r in found.rules)
    near = [(r, k) for r, k in found.near_misses if r.column == "amount" and isinstance(r, Formula)]
    assert near and near[0][1].rows - near[0][1].kept == 2
    assert near[0][1].breaking == ("sale_id=6", "sale_id=78")
    shown = summarize_relations(db)["near_misses"]
    assert any(m["column"] == "amount" and m["breaking"] == ["sale_id=6", "sale_id=78"] for m in shown)

    data = schema_to_dict(db.schema)
    data["relations"] = {"near": [{"table": "sale", "column": "amount"}]}
    schema = schema_from_dict(json.loads(json.dumps(data)))
    assert schema.relations.near == [{"table": "sale", "column": "amount"}]
    asked = Database.from_frames(db.tables, schema)
    kept = fit_relations(asked, True, Protection(), 0)
    rule = next(r for r in kept.rules if r.column == "amount")
    assert rule.near and rule.derives and kept.near_rules[0][0] is rule
    fake = Synthesizer(train_steps=2, sample_steps=2, progress=False, random_state=0).fit(asked).sample(1.5)
    assert keeping(fake, rule).holds  # the twin keeps it on every row


def test_a_declared_near_rule_is_kept_though_rows_break_it():
    db = _sales(broken_rows=(3,))
    data = schema_to_dict(db.schema)
    declared = {
        "kind": "formula",
        "table": "sale",
        "column": "amount",
        "operation": "*",
        "left": "price",
        "right": "qty",
        "near": True,
    }
    data["relations"] = {"discover": False, "declared": [declared]}
    asked = Database.from_frames(db.tables, schema_from_dict(data))
    kept = fit_relations(asked, True, Protection(), 0)
    assert [r.column for r in kept.rules] == ["amount"] and kept.rules[0].near
    strict = Database.from_frames(
        db.tables, schema_from_dict(dict(data, relations={"discover": False, "declared": [dict(declared, near=False)]}))
    )
    assert fit_relations(strict, True, Protection(), 0).rules == []


def _spans(rows: int = 200) -> Database:
    rng = np.random.default_rng(1)
    parents = pd.DataFrame(
        {
            "storm_id": pd.array(np.arange(1, 41), dtype="Int64"),
            "season": pd.array(rng.integers(2001, 2020, size=40), dtype="Int64"),
        }
    )
    parents["start"] = pd.to_datetime(pd.DataFrame({"year": parents["season"], "month": 6, "day": 1}))
    parents["start"] += pd.to_timedelta(rng.integers(0, 90, size=40), unit="D")
    parents["end"] = parents["start"] + pd.to_timedelta(rng.integers(2, 20, size=40), unit="D")
    owner = rng.integers(0, 40, size=rows)
    span = (parents["end"] - parents["start"]).to_numpy()[owner]
    at = parents["start"].to_numpy()[owner] + (span * rng.random(rows)).astype("timedelta64[ns]")
    children = pd.DataFrame(
        {
            "obs_id": pd.array(np.arange(1, rows + 1), dtype="Int64"),
            "storm_id": pd.array(owner + 1, dtype="Int64"),
            "at": pd.Series(at).dt.floor("6h"),
        }
    )
    children["at"] = np.maximum(children["at"], parents["start"].to_numpy()[owner])
    schema = Schema(
        {
            "storm": Table(
                "storm",
                [
                    Column("storm_id", INT, K.ID, False),
                    Column("season", INT, K.INTEGER),
                    Column("start", D, K.DATETIME),
                    Column("end", D, K.DATETIME),
                ],
                ("storm_id",),
            ),
            "obs": Table(
                "obs",
                [Column("obs_id", INT, K.ID, False), Column("storm_id", INT, K.ID), Column("at", D, K.DATETIME)],
                ("obs_id",),
            ),
        },
        [ForeignKey("obs", ("storm_id",), "storm", ("storm_id",))],
    )
    return Database.from_frames({"storm": parents, "obs": children}, schema)


def test_times_stay_within_their_parent_and_on_their_grid():
    db = _spans()
    key = "obs.storm_id->storm"
    rules = discover(db).rules
    assert Period("obs", "at", part="year", value=Ref("season", (key,))) in rules
    assert Order("obs", "at", Ref("start", (key,))) in rules
    assert Order("obs", "at", Ref("end", (key,)), above=False) in rules
    # moved far outside: every bound and the season kept at once
    tables = {t: f.copy() for t, f in db.tables.items()}
    tables["obs"]["at"] = tables["obs"]["at"] + pd.to_timedelta(
        np.arange(len(tables["obs"])) % 7 * 500 - 1500, unit="D"
    )
    moved = Database.from_frames(tables, db.schema)
    bounds = [r for r in rules if r.table == "obs"]
    assert not all(keeping(moved, r).holds for r in bounds)
    apply_rules(moved, bounds, np.random.default_rng(0))
    assert all(keeping(moved, r).holds for r in bounds), [
        r.describe(db.schema) for r in bounds if not keeping(moved, r).holds
    ]


def test_a_period_keeps_the_day_and_time():
    frame = pd.DataFrame(
        {
            "id": pd.array([1, 2], dtype="Int64"),
            "year": pd.array([2019, 2021], dtype="Int64"),
            "at": pd.to_datetime(["2020-02-29 13:45", "2021-07-04 06:00"]),
        }
    )
    schema = Schema(
        {
            "t": Table(
                "t",
                [Column("id", INT, K.ID, False), Column("year", INT, K.INTEGER), Column("at", D, K.DATETIME)],
                ("id",),
            )
        }
    )
    db = Database.from_frames({"t": frame}, schema)
    apply_rules(db, [Period("t", "at", part="year", value=Ref("year"))], np.random.default_rng(0))
    assert list(db["t"]["at"]) == [pd.Timestamp("2019-02-28 13:45"), pd.Timestamp("2021-07-04 06:00")]


def test_a_grid_is_the_real_granularity():
    six_hourly = pd.Series(pd.date_range("2020-01-01", periods=50, freq="6h"))
    assert _unit(six_hourly) == "21600s"
    assert _unit(pd.Series(pd.date_range("2020-01-01", periods=5, freq="D"))) == "D"
    assert _unit(pd.Series(pd.to_datetime(["2020-01-01 10:01", "2020-01-01 10:07"]))) == "m"
    frame = pd.DataFrame({"id": pd.array(range(1, 51), dtype="Int64"), "at": six_hourly + pd.Timedelta(minutes=7)})
    schema = Schema({"t": Table("t", [Column("id", INT, K.ID, False), Column("at", D, K.DATETIME)], ("id",))})
    db = Database.from_frames({"t": frame}, schema)
    assert keeping(db, Step("t", "at", seconds=60)).holds and not keeping(db, Step("t", "at", seconds=3600)).holds
    apply_rules(db, [Step("t", "at", seconds=21600)], np.random.default_rng(0))
    assert (db["t"]["at"] == six_hourly).all()


def test_a_running_sum_skips_nulls_and_follows_the_order():
    frame = pd.DataFrame(
        {
            "id": pd.array(range(1, 7), dtype="Int64"),
            "acct": pd.array([1, 1, 1, 2, 2, 2], dtype="Int64"),
            "at": pd.to_datetime(["2020-01-03", "2020-01-01", "2020-01-02", "2020-01-01", "2020-01-02", "2020-01-03"]),
            "amount": [5.0, 1.0, np.nan, np.nan, 2.0, 3.0],
            "balance": [0.0] * 6,
        }
    )
    columns = [
        Column("id", INT, K.ID, False),
        Column("acct", INT, K.INTEGER),
        Column("at", D, K.DATETIME),
        Column("amount", F, K.FLOAT),
        Column("balance", F, K.FLOAT),
    ]
    db = Database.from_frames({"t": frame}, Schema({"t": Table("t", columns, ("id",))}))
    rule = Running("t", "balance", of="amount", group=("acct",), order=("at",), decimals=2)
    apply_rules(db, [rule], np.random.default_rng(0))
    assert db["t"]["balance"].tolist()[:3] == [6.0, 1.0, 1.0]
    assert pd.isna(db["t"]["balance"].iloc[3]) and db["t"]["balance"].tolist()[4:] == [2.0, 5.0]
    assert keeping(db, rule).holds


def test_inspect_shows_new_kinds_and_the_rows_that_break_a_near_rule(tmp_path):
    from typer.testing import CliRunner

    from dbtwin.cli import app
    from dbtwin.io.files import write_directory

    write_directory(_sales(broken_rows=(5, 77)), tmp_path / "sales")
    result = CliRunner().invoke(app, ["inspect", str(tmp_path / "sales")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "sale.fahrenheit = 1.8 * sale.price + 32" in result.stdout
    assert "almost a relation, not kept: sale.amount = sale.price * sale.qty" in result.stdout
    assert "sale_id=6; sale_id=78" in result.stdout
