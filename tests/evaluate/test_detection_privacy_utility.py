"""Detection, privacy and utility react to what they claim to measure."""

from __future__ import annotations

import numpy as np
import pytest

from dbtwin import Database
from dbtwin.evaluate import detection, evaluate, privacy, utility
from dbtwin.evaluate.utility import default_targets
from dbtwin.validate import resolve_orphans


@pytest.fixture(scope="module")
def flights(flights_jan):
    return resolve_orphans(flights_jan, "drop")[0]


def _split(db: Database, parts: int, seed: int = 0) -> list[Database]:
    """Random row splits of flights and weather (other tables whole): exchangeable samples."""
    rng = np.random.default_rng(seed)
    out = [dict(db.tables) for _ in range(parts)]
    for table in ("flights", "weather"):
        assignment = rng.integers(0, parts, size=db.num_rows(table))
        for i in range(parts):
            out[i][table] = db[table][assignment == i].reset_index(drop=True)
    return [Database(db.schema, frames) for frames in out]


def test_detection_of_itself_is_chance_and_of_a_broken_copy_is_high(chinook):
    same = detection(chinook, chinook)
    assert 0.35 < same["score"] < 0.65
    frames = dict(chinook.tables)
    track = frames["track"].copy()
    track["milliseconds"] = track["milliseconds"] * 3  # an obviously wrong marginal
    frames["track"] = track
    broken = detection(chinook, Database(chinook.schema, frames))
    assert broken["single_table"]["details"]["track"] > 0.95
    assert broken["details"]["album"] > 0.8  # seen through the aggregated child means
    assert broken["giveaways"]["album"][0]["feature"] == "track.milliseconds.mean"  # and named
    assert "album" not in same["giveaways"]


def test_privacy_flags_memorisation_and_not_fresh_samples(flights):
    train, holdout, fresh = _split(flights, 3)
    copied = privacy(train, train, holdout)["details"]["flights"]
    assert copied["exact_copy_rate"] == 1.0 and copied["share_closer_to_train"] > 0.9
    assert copied["membership_inference_auc"] > 0.9  # a copy tells who was in the training data
    unseen = privacy(train, fresh, holdout)
    flights_unseen = unseen["details"]["flights"]
    assert flights_unseen["exact_copy_rate"] < 0.05
    assert 0.4 < flights_unseen["share_closer_to_train"] < 0.6
    assert 0.4 < flights_unseen["membership_inference_auc"] < 0.6
    # real rows of the hold-out are the baseline: a fresh real sample copies no more than they do
    assert abs(flights_unseen["exact_copy_rate"] - flights_unseen["holdout_exact_copy_rate"]) < 0.02
    assert unseen["exact_copy_rate_weighted"] is not None and unseen["membership_inference_auc"] < 0.6


def test_utility_ratio_drops_when_the_signal_is_destroyed(flights):
    train, holdout = _split(flights, 2)
    assert default_targets(flights) == ["flights.day"]  # year and month are constant
    same = utility(train, train, holdout, ["flights.arr_delay"])
    assert same["ratio"] == pytest.approx(1.0)
    frames = dict(train.tables)
    shuffled = frames["flights"].copy()
    rng = np.random.default_rng(0)
    for col in ("dep_delay", "dep_time", "arr_time"):  # what arr_delay is predicted from
        shuffled[col] = shuffled[col].to_numpy()[rng.permutation(len(shuffled))]
    frames["flights"] = shuffled
    worse = utility(train, Database(train.schema, frames), holdout, ["flights.arr_delay"])
    assert worse["ratio"] < 0.5
    with pytest.raises(ValueError, match=r"utility target 'flights\.nope' names no column"):
        utility(train, train, holdout, ["flights.nope"])


def test_evaluate_with_holdout_has_every_key(flights):
    train, holdout = _split(flights, 2)
    metrics = evaluate(train, train, holdout, ["flights.arr_delay"], max_rows=5_000, detection_rows=1_000)
    assert set(metrics) >= {
        "cardinality",
        "column_shapes",
        "intra_table_trends",
        "inter_table_trends",
        "detection",
        "utility",
        "privacy",
        "integrity",
    }
