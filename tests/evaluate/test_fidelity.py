"""Fidelity scores react to what they claim to measure: real against itself scores 1; shuffling a
column breaks intra-table trends; moving children to random parents breaks inter-table trends but not
the column shapes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dbtwin import Database
from dbtwin.cli import app
from dbtwin.evaluate import detection, evaluate, foreign_key_paths, inter_table_trends, intra_table_trends
from dbtwin.evaluate.trends import pair_similarity
from dbtwin.validate import resolve_orphans


@pytest.fixture(scope="module")
def flights(flights_jan):
    return resolve_orphans(flights_jan, "drop")[0]


def test_real_against_itself_scores_one(chinook):
    metrics = evaluate(chinook, chinook)
    for key in ("cardinality", "column_shapes", "intra_table_trends"):
        assert metrics[key]["score"] == pytest.approx(1.0)
    assert metrics["inter_table_trends"]["mean"] == pytest.approx(1.0)
    assert {metrics["inter_table_trends"][k]["count"] > 0 for k in ("1", "2", "3")} == {True}
    assert metrics["integrity"] == {
        **metrics["integrity"],
        "fk_violations": 0,
        "pk_duplicates": 0,
        "schema_mismatches": 0,
    }


def test_paths_per_hop(chinook):
    assert [len(foreign_key_paths(chinook.schema, k)) for k in (1, 2, 3)] == [11, 11, 6]


def test_pair_similarity_definitions():
    a = pd.Series([1.0, 2.0, 3.0, 4.0])
    assert pair_similarity(a, a, a, -a, True, True) == pytest.approx(0.0)  # rho 1 against -1
    cats = pd.Series(["x", "x", "y", "y"])
    assert pair_similarity(cats, a, cats, a, False, True) == pytest.approx(1.0)
    # same marginals, opposite association: half the joint mass moves
    assert (
        pair_similarity(cats, pd.Series(["p", "p", "q", "q"]), cats, pd.Series(["q", "q", "p", "p"]), False, False)
        == 0.0
    )


def test_shuffled_columns_lose_intra_table_trends(flights):
    rng = np.random.default_rng(0)
    frames = dict(flights.tables)
    frame = frames["flights"].copy()
    for col in ("air_time", "distance", "dep_delay"):
        frame[col] = frame[col].to_numpy()[rng.permutation(len(frame))]
    frames["flights"] = frame
    shuffled = Database(flights.schema, frames)
    scores = intra_table_trends(flights, shuffled)
    assert scores["flights.air_time|distance"] < 0.6  # real correlation 0.99, shuffled about 0
    assert scores["flights.dep_delay|arr_delay"] < 0.7
    assert scores["weather.temp|dewp"] == pytest.approx(1.0)


def test_children_moved_to_random_parents_keep_shapes_but_lose_inter_table_trends(flights):
    rng = np.random.default_rng(0)
    frames = dict(flights.tables)
    frame = frames["flights"].copy()
    frame["dest"] = frame["dest"].to_numpy()[rng.permutation(len(frame))]
    frames["flights"] = frame
    moved = Database(flights.schema, frames)
    metrics = evaluate(flights, moved, max_rows=5_000, detection_rows=1_000)
    assert metrics["column_shapes"]["score"] == pytest.approx(1.0)
    one_hop = inter_table_trends(flights, moved, 1)
    key = "airports <- flights(dest): airports.tz|flights.air_time"
    assert one_hop[key] < 0.75 and inter_table_trends(flights, flights, 1)[key] == pytest.approx(1.0)
    # flights moved to random planes: each plane keeps its own columns and its number of flights, so
    # only detection with aggregation sees that its flights no longer fit it (routes, seats)
    frames = dict(flights.tables)
    frame = frames["flights"].copy()
    frame["tailnum"] = frame["tailnum"].to_numpy()[rng.permutation(len(frame))]
    frames["flights"] = frame
    found = detection(flights, Database(flights.schema, frames), max_rows=2_000)
    assert found["details"]["planes"] > 0.7
    assert abs(found["single_table"]["details"]["planes"] - 0.5) < 0.02


def test_evaluate_command_writes_metrics(tmp_path):
    result = CliRunner().invoke(app, ["evaluate", "chinook", "chinook", "--out", str(tmp_path / "eval")])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert set(metrics) >= {"cardinality", "column_shapes", "intra_table_trends", "inter_table_trends", "integrity"}
    assert set(metrics["inter_table_trends"]) == {"1", "2", "3", "mean"}
