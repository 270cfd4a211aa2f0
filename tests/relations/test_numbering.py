"""Numberings (a column that numbers the rows of each parent 1..n): found only when every group is
numbered, kept exactly in samples in the order the model generated, filled from the numbers left
free when imputing, declared by other columns in the metadata."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dbtwin.database import Database
from dbtwin.errors import SchemaError
from dbtwin.relations import Numbering, apply_rules, discover, keeping, rule_from_dict
from dbtwin.schema.model import Column, ColumnKind, ForeignKey, Schema, StorageType, Table

INT, FLOAT = StorageType.INT64, StorageType.FLOAT64


def race_db(start: int = 1, seed: int = 0, races: int = 40) -> Database:
    """Races with 2..9 entries each; ``grid`` numbers a race's entries from ``start`` at random."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 10, size=races)
    race_id = np.repeat(np.arange(races), sizes)
    grid = pd.Series(rng.random(len(race_id))).groupby(race_id).rank(method="first").to_numpy() - 1 + start
    entries = pd.DataFrame(
        {
            "entry_id": np.arange(len(race_id)),
            "race_id": race_id,
            "grid": pd.array(grid.astype(int), dtype="Int64"),
            "speed": rng.normal(200, 10, size=len(race_id)),
        }
    )
    schema = Schema(
        {
            "race": Table("race", [Column("race_id", INT, ColumnKind.ID, nullable=False)], ["race_id"]),
            "entry": Table(
                "entry",
                [
                    Column("entry_id", INT, ColumnKind.ID, nullable=False),
                    Column("race_id", INT, ColumnKind.ID, nullable=False),
                    Column("grid", INT, ColumnKind.INTEGER),
                    Column("speed", FLOAT, ColumnKind.FLOAT),
                ],
                ["entry_id"],
            ),
        },
        [ForeignKey("entry", ("race_id",), "race", ("race_id",))],
    )
    return Database.from_frames({"race": pd.DataFrame({"race_id": np.arange(races)}), "entry": entries}, schema)


@pytest.mark.parametrize("start", [0, 1])
def test_found_from_either_start(start):
    db = race_db(start)
    rules = [r for r in discover(db).rules if isinstance(r, Numbering)]
    assert rules == [Numbering("entry", "grid", group=("race_id",), start=start)]
    assert rules[0].describe(db.schema) == f"entry.grid = {start}, {start + 1}, ... within each entry.race_id"
    assert keeping(db, rules[0]).holds


@pytest.mark.parametrize("change", ["repeat", "gap", "null"])
def test_not_claimed_when_one_row_breaks_it(change):
    """A repeated or missing number breaks it; a NULL is a hole: the rule is kept around it."""
    db = race_db()
    frame = db["entry"].copy()
    row = int(np.flatnonzero(frame["grid"].to_numpy() == 2)[3])
    frame.loc[row, "grid"] = {"repeat": 1, "gap": 99, "null": pd.NA}[change]
    broken = Database.from_frames({"race": db["race"], "entry": frame}, db.schema)
    rule = Numbering("entry", "grid", group=("race_id",))
    kept = keeping(broken, rule)
    assert kept.rows - kept.kept == int((frame["race_id"] == frame.loc[row, "race_id"]).sum())  # its group
    found = [r for r in discover(broken).rules if isinstance(r, Numbering)]
    assert [r.holes for r in found] == ([True] if change == "null" else [])


def test_renumbered_in_the_order_generated():
    db = race_db()
    rule = Numbering("entry", "grid", group=("race_id",))
    frame = db["entry"].copy()
    rng = np.random.default_rng(1)
    drawn = rng.normal(5, 3, size=len(frame))  # what a model might generate: any numbers, repeats
    drawn[:4] = 2.0
    frame["grid"] = pd.array(np.round(drawn).astype(int), dtype="Int64")
    fake = Database.from_frames({"race": db["race"], "entry": frame.copy()}, db.schema)
    apply_rules(fake, [rule], rng)
    assert keeping(fake, rule).holds
    out = fake["entry"]["grid"].astype(float).to_numpy()
    for _, rows in frame.groupby("race_id").groups.items():
        before, after = np.round(drawn[rows]), out[rows]
        assert np.all(np.diff(after[np.argsort(before, kind="stable")]) != 0)
        # a row generated lower than another of its race is numbered lower
        lower = before[:, None] < before[None, :]
        assert np.all((after[:, None] < after[None, :])[lower])


def test_imputation_takes_the_numbers_left_free():
    db = race_db()
    rule = Numbering("entry", "grid", group=("race_id",))
    frame = db["entry"].copy()
    truth = frame["grid"].astype(int).to_numpy()
    holes = np.flatnonzero(np.random.default_rng(2).random(len(frame)) < 0.3)
    drawn = truth.astype(float) + np.random.default_rng(3).normal(0, 0.2, size=len(frame))
    frame["grid"] = pd.array(np.where(np.isin(np.arange(len(frame)), holes), np.round(drawn), truth), dtype="Int64")
    filled = Database.from_frames({"race": db["race"], "entry": frame}, db.schema)
    apply_rules(filled, [rule], np.random.default_rng(0), only={"entry": {"grid": holes}})
    out = filled["entry"]["grid"].astype(int).to_numpy()
    known = np.setdiff1d(np.arange(len(frame)), holes)
    assert (out[known] == truth[known]).all()  # known cells never change
    assert keeping(filled, rule).holds
    assert (out == truth).mean() > 0.95  # the free numbers go where the draws point


def test_declared_by_another_column_and_saved():
    db = race_db()
    frame = db["entry"].copy()
    frame["heat"] = frame["race_id"] % 3
    frame["lane"] = frame.groupby("heat").cumcount().astype("Int64")
    db.schema.table("entry").columns += [Column(c, INT, ColumnKind.INTEGER) for c in ("heat", "lane")]
    db = Database.from_frames({"race": db["race"], "entry": frame}, db.schema)
    data = {"kind": "numbering", "table": "entry", "column": "lane", "group": ["heat"], "start": 0}
    rule = rule_from_dict(data, db.schema)
    assert rule == Numbering("entry", "lane", group=("heat",), start=0)
    assert rule.to_dict() == data and keeping(db, rule).holds
    for bad in ({"group": []}, {"group": ["nope"]}, {"group": ["lane"]}, {"start": 1.5}):
        with pytest.raises(SchemaError, match="entry"):
            rule_from_dict({**data, **bad}, db.schema)


def test_holes_in_the_column():
    db = race_db()
    frame = db["entry"].copy()
    frame.loc[frame.index[::7], "grid"] = pd.NA
    holed = Database.from_frames({"race": db["race"], "entry": frame}, db.schema)
    rules = [r for r in discover(holed).rules if isinstance(r, Numbering)]
    assert len(rules) == 1 and rules[0].holes
    kept = keeping(holed, rules[0], holes=True)
    assert kept.holds and kept.holes == frame["grid"].isna().sum()


@pytest.mark.parametrize("share, found", [(0.5, True), (0.95, False)])
def test_found_around_many_holes_only_with_the_evidence_for_it(share, found):
    """Half the positions NULL: still no repeat where independent values would repeat dozens of times;
    with 95% NULL too few races hold two known positions to tell a numbering from chance."""
    db = race_db(races=200, seed=4)
    frame = db["entry"].copy()
    frame.loc[np.random.default_rng(5).random(len(frame)) < share, "grid"] = pd.NA
    holed = Database.from_frames({"race": db["race"], "entry": frame}, db.schema)
    rules = [r for r in discover(holed).rules if isinstance(r, Numbering)]
    assert [r.holes for r in rules] == ([True] if found else [])
