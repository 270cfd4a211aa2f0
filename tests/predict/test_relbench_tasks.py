"""RelBench's protocol in a task file: moments stepping back from the validation cut-off and forward
from each evaluation cut-off, labels of the training and validation periods computed on the database
cut at the test cut-off; the rel-f1 tasks give RelBench's label tables exactly; `dbtwin predict labels`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dbtwin import Database
from dbtwin.bench.suite import bench_data_folder
from dbtwin.cli import app
from dbtwin.predict import EntityTask
from dbtwin.predict.labels import label_tables
from dbtwin.predict.tasks import SHARED, load_task
from dbtwin.schema.model import Column, ColumnKind, ForeignKey, Schema, StorageType, Table

# every row after the moment counts, however far: only the cut keeps the test period out of it
LOOKS_AHEAD = (
    "SELECT e.player AS entity, t.timestamp AS timestamp, COUNT(*) AS label FROM timestamps t "
    "JOIN events e ON e.at > t.timestamp GROUP BY e.player, t.timestamp"
)


def _events(days: int = 400) -> Database:
    """Two players, one event each per day from 2020-01-01 (a day's time 12:00)."""
    at = pd.date_range("2020-01-01 12:00", periods=days, freq="D")
    events = pd.DataFrame({"id": np.arange(2 * days), "player": np.tile([0, 1], days), "at": np.repeat(at, 2)})
    players = pd.DataFrame({"player": [0, 1]})
    schema = Schema(
        tables={
            "players": Table("players", [Column("player", StorageType.INT64, ColumnKind.ID)], primary_key=["player"]),
            "events": Table(
                "events",
                [
                    Column("id", StorageType.INT64, ColumnKind.ID),
                    Column("player", StorageType.INT64, ColumnKind.ID),
                    Column("at", StorageType.DATETIME, ColumnKind.DATETIME),
                ],
                primary_key=["id"],
                time_column="at",
            ),
        },
        foreign_keys=[ForeignKey("events", ["player"], "players", ["player"])],
    )
    return Database(schema, {"players": players, "events": events})


def _task(**changes) -> EntityTask:
    data = {
        "name": "ahead",
        "entity_table": "players",
        "task_type": "regression",
        "window_days": 10,
        "timestamps": {"every_days": 10, "eval_count": 3},
        "val_timestamp": "2020-07-01",
        "test_timestamp": "2020-10-01",
        "query": LOOKS_AHEAD,
    }
    return EntityTask.from_dict({**data, **changes})


def test_moments_step_back_from_the_validation_cut_off_and_forward_from_each_evaluation_one():
    task = _task()
    grids = task.split_grids(pd.Timestamp("2020-01-01 12:00"), pd.Timestamp("2020-10-25 12:00"))
    train, val, test = grids["train"], grids["val"], grids["test"]
    assert train[0] == pd.Timestamp("2020-06-21") and (np.diff(train.asi8) == -10 * 86_400 * 10**9).all()
    assert train[-1] >= pd.Timestamp("2020-01-01 12:00") > train[-1] - pd.Timedelta(days=10)
    assert list(val) == list(pd.date_range("2020-07-01", periods=3, freq="10D"))  # eval_count of them
    # test windows close by the last row time: 2020-10-01 and 2020-10-11 (2020-10-21 + 10 days is past it)
    assert list(test) == [pd.Timestamp("2020-10-01"), pd.Timestamp("2020-10-11")]
    near = task.split_grids(pd.Timestamp("2020-01-01"), pd.Timestamp("2021-06-01"))
    assert near["val"][-1] + pd.Timedelta(days=10) <= pd.Timestamp("2020-10-01")


def test_training_and_validation_labels_never_see_past_the_test_cut_off():
    db = _events()
    cut, whole = _task(cut_at_test=True).examples(db), _task().examples(db)
    last_kept = pd.Timestamp("2020-09-30 12:00")  # the last event at or before 2020-10-01
    for split in ("train", "val"):
        part = cut.subset(split)
        expected = [(last_kept - pd.Timestamp(t)).days + 1 for t in part.times]  # events after t, up to the cut
        assert part.labels.tolist() == expected
        assert (whole.subset(split).labels > part.labels).all()  # uncut, they count the test period
    assert np.array_equal(cut.subset("test").labels, whole.subset("test").labels)
    assert len(cut.subset("test")) == 2 * len(
        _task().split_grids(pd.Timestamp("2020-01-01"), pd.Timestamp("2021-02-03 12:00"))["test"]
    )


def test_a_schedule_is_fixed_or_relbench_s_never_half_of_each():
    with pytest.raises(ValueError, match="eval_count"):
        _task(timestamps={"every_days": 10, "eval_count": 3, "start": "2020-01-01"})
    with pytest.raises(ValueError, match="eval_count"):
        _task(timestamps={"every_days": 10, "eval_count": 0})
    with pytest.raises(ValueError, match="every_days"):
        _task(timestamps={"every_days": -10, "eval_count": 3})
    with pytest.raises(ValueError, match="depend on the database"):
        _task().timestamp_grid()


#: README of the benchmark data folder: per task and split, rows, timestamps with rows, drivers, first
#: and last timestamp, and the positives (binary) or the mean and median label (regression)
RELBENCH_COUNTS = {
    "rel-f1-driver-dnf": {
        "train": (11_411, 420, 780, "1950-05-20", "2004-10-03", 10_046),
        "val": (566, 26, 42, "2005-03-02", "2008-03-16", 441),
        "test": (702, 29, 42, "2010-03-02", "2013-03-16", 495),
    },
    "rel-f1-driver-top3": {
        "train": (1_353, 59, 92, "1994-02-28", "2004-10-03", 231),
        "val": (588, 27, 42, "2005-03-02", "2008-03-16", 119),
        "test": (726, 30, 42, "2010-03-02", "2013-03-16", 128),
    },
    "rel-f1-driver-position": {
        "train": (7_453, 254, 771, "1950-06-19", "2004-09-03", (13.90, 13.33)),
        "val": (499, 23, 47, "2005-03-02", "2009-10-07", (11.08, 11.40)),
        "test": (760, 33, 56, "2010-03-02", "2016-05-29", (11.93, 12.18)),
    },
}


@pytest.fixture(scope="module")
def rel_f1():
    folder = bench_data_folder()
    if folder is None or not (folder / "rel-f1").is_dir():
        pytest.skip("rel-f1 is not in the benchmark data folder (../shared/data)")
    from dbtwin.sources import read

    return read(folder / "rel-f1")


@pytest.mark.parametrize("name", sorted(SHARED))
def test_the_rel_f1_tasks_give_relbench_s_label_tables(rel_f1, name):
    tables = label_tables(load_task(name), rel_f1)
    for split, (rows, moments, drivers, first, last, labels) in RELBENCH_COUNTS[name].items():
        frame = tables[split]
        assert (len(frame), frame["timestamp"].nunique(), frame["entity"].nunique()) == (rows, moments, drivers)
        assert (str(frame["timestamp"].min().date()), str(frame["timestamp"].max().date())) == (first, last)
        if isinstance(labels, tuple):
            assert (round(frame["label"].mean(), 2), round(frame["label"].median(), 2)) == labels
        else:
            assert frame["label"].dtype == np.int64 and int(frame["label"].sum()) == labels


def test_the_command_writes_three_tables_and_refuses_to_overwrite(tmp_path):
    source = tmp_path / "events"
    from dbtwin import write

    write(_events(), source)
    task_file = tmp_path / "task.json"
    import json

    task_file.write_text(json.dumps(_task(cut_at_test=True).to_dict()))
    runner = CliRunner()
    out = tmp_path / "labels"
    done = runner.invoke(app, ["predict", "labels", str(source), "--task", str(task_file), "--out", str(out)])
    assert done.exit_code == 0, done.output
    written = {split: pd.read_parquet(out / f"{split}.parquet") for split in ("train", "val", "test")}
    assert all(list(f.columns) == ["entity", "timestamp", "label"] and len(f) for f in written.values())
    again = runner.invoke(app, ["predict", "labels", str(source), "--task", str(task_file), "--out", str(out)])
    assert again.exit_code == 2 and "--replace" in again.output
    onto = runner.invoke(
        app, ["predict", "labels", str(source), "--task", str(task_file), "--out", str(source), "--replace"]
    )
    assert onto.exit_code == 2 and (source / "events.parquet").exists()


def test_a_rel_f1_task_without_its_database_asks_for_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DBTWIN_BENCH_DATA", str(tmp_path / "nothing"))
    out = tmp_path / "labels"
    result = CliRunner().invoke(app, ["predict", "labels", "--task", "rel-f1-driver-dnf", "--out", str(out)])
    assert result.exit_code == 2 and "rel-f1" in result.output and "give it" in result.output
    assert not out.exists()
