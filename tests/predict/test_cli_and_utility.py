"""`dbtwin predict fit / eval / tasks`, `dbtwin evaluate --rdl-task`, and RDL utility itself."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dbtwin import Database, write
from dbtwin.cli import app
from dbtwin.predict import EntityTask
from dbtwin.predict.predictor import Predictor
from dbtwin.predict.utility import rdl_utility

from .conftest import CHINOOK_CHURN, with_integer_column

runner = CliRunner()
QUICK = {"hidden": 16, "max_epochs": 3, "steps_per_epoch": 10, "batch_size": 128, "use_text": False}


def test_fit_and_eval_through_the_cli(tmp_path):
    task_file = tmp_path / "task.json"
    task_file.write_text(json.dumps(CHINOOK_CHURN))
    model = tmp_path / "model"
    args = [
        "predict",
        "fit",
        "chinook",
        "--task",
        str(task_file),
        "--out",
        str(model),
        "--no-text",
        "--max-epochs",
        "2",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (model / "config.json").exists() and (model / "weights.pt").exists()
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "already exists" in again.output  # never overwritten unasked
    scores = tmp_path / "scores.json"
    result = runner.invoke(
        app, ["predict", "eval", "chinook", "--model", str(model), "--baselines", "--out", str(scores)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(scores.read_text())
    assert set(data["scores"]) == {"gnn", "lightgbm-entity", "lightgbm-aggregated"}
    assert 0 <= data["scores"]["gnn"]["test"]["roc_auc"] <= 1
    listed = runner.invoke(app, ["predict", "tasks"])
    assert "lahman-allstar" in listed.output


def test_unknown_task_fails_clearly(tmp_path):
    result = runner.invoke(app, ["predict", "fit", "chinook", "--task", "no-such-task", "--out", str(tmp_path / "m")])
    assert result.exit_code == 2 and "neither a task file nor a bundled task" in result.output


def test_malformed_task_file_is_named(tmp_path):
    bad = tmp_path / "bad.json"
    for content, fragment in (('{"name": ', "is not valid JSON"), ('{"name": "x", "bogus": 1}', "unknown task field")):
        bad.write_text(content)
        result = runner.invoke(app, ["predict", "fit", "chinook", "--task", str(bad), "--out", str(tmp_path / "m")])
        assert result.exit_code == 2 and str(bad) in " ".join(result.output.split()) and fragment in result.output


def test_a_missing_optional_dependency_is_one_line(tmp_path, monkeypatch):
    import sys

    task_file = tmp_path / "task.json"
    task_file.write_text(json.dumps(CHINOOK_CHURN))
    monkeypatch.setitem(sys.modules, "duckdb", None)  # as if not installed
    args = ["predict", "fit", "chinook", "--task", str(task_file), "--out", str(tmp_path / "m"), "--no-text"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "needs the Python package 'duckdb'" in result.output and "Traceback" not in result.output


def _shuffled_invoices(db: Database) -> Database:
    """Chinook whose invoices are dealt to random customers: the purchase rhythm is gone."""
    frames = {t: db[t].copy() for t in db.schema.table_names}
    invoice = frames["invoice"]
    invoice["customer_id"] = np.random.default_rng(0).permutation(invoice["customer_id"].to_numpy())
    return Database.from_frames(frames, db.schema)


def test_rdl_utility_tells_good_from_broken_data(chinook):
    task = EntityTask.from_dict(dict(CHINOOK_CHURN))
    same = rdl_utility(chinook, chinook, task, **QUICK)
    assert same["ratio"] == 1.0 and same["train_on_real"] == same["train_on_synthetic"]
    broken = rdl_utility(
        chinook, _shuffled_invoices(chinook), task, **{**QUICK, "hidden": 32, "max_epochs": 15, "steps_per_epoch": 20}
    )
    assert broken["train_on_real"]["roc_auc"] > 0.7
    assert broken["train_on_synthetic"]["roc_auc"] < broken["train_on_real"]["roc_auc"] - 0.1
    assert broken["ratio"] < 0.9


def test_evaluate_reports_rdl_utility(chinook, tmp_path):
    task_file = tmp_path / "task.json"
    task_file.write_text(json.dumps(CHINOOK_CHURN))
    write(chinook, tmp_path / "fake")
    result = runner.invoke(
        app,
        [
            "evaluate",
            "chinook",
            str(tmp_path / "fake"),
            "--out",
            str(tmp_path / "eval"),
            "--rdl-task",
            str(task_file),
            "--rdl-max-minutes",
            "0.05",
            "--rdl-no-text",
        ],
    )
    assert result.exit_code == 0, result.output
    rdl = json.loads((tmp_path / "eval" / "metrics.json").read_text())["rdl_utility"]["chinook-next-purchase"]
    assert rdl["metric"] == "roc_auc" and rdl["ratio"] is not None


def test_rdl_utility_drops_the_real_calendar_columns_in_both_models(chinook, monkeypatch):
    """A twin's invoice month that no longer matches its invoice date is still left out, as in the real
    database, so both models see the same columns."""
    month = pd.to_datetime(chinook["invoice"]["invoice_date"]).dt.month.to_numpy()
    real = with_integer_column(chinook, "invoice", "month", month)
    twin = with_integer_column(chinook, "invoice", "month", np.random.default_rng(0).permutation(month))
    seen = []
    fit = Predictor.fit

    def recording_fit(self, db, task, examples=None):
        fitted = fit(self, db, task, examples)
        seen.append(fitted.encoder_.tables["invoice"].numeric)
        return fitted

    monkeypatch.setattr(Predictor, "fit", recording_fit)
    rdl_utility(real, twin, EntityTask.from_dict(dict(CHINOOK_CHURN)), **{**QUICK, "max_epochs": 1})
    assert len(seen) == 2 and all("month" not in numeric and "total" in numeric for numeric in seen)
    alone = Predictor(**{**QUICK, "max_epochs": 1}, progress=False)
    assert "month" in fit(alone, twin, EntityTask.from_dict(dict(CHINOOK_CHURN))).encoder_.tables["invoice"].numeric


def test_late_validation_holds_out_the_latest_training_moments_only():
    from dbtwin.predict.task import TaskExamples
    from dbtwin.predict.utility import late_validation_split

    times = np.repeat(pd.date_range("2000-01-01", periods=10, freq="MS").to_numpy(), 3)
    split = np.array(["train"] * 24 + ["val"] * 3 + ["test"] * 3, dtype=object)  # 8 training moments
    examples = TaskExamples(np.arange(30) % 5, times, np.arange(30, dtype=float), split)
    late = late_validation_split(examples, 0.25)
    assert len(late) == 24 and set(late.split) == {"train", "val"}  # the database's own val and test dropped
    assert late.subset("val").times.min() == times[18] and len(late.subset("val")) == 6  # the last 2 of 8 moments
    assert late.subset("train").times.max() < late.subset("val").times.min()
    assert len(late_validation_split(examples, 0.01).subset("val")) == 3  # one moment at least
    assert len(late_validation_split(examples, 0.99).subset("train")) == 3  # and one left to train on
    with pytest.raises(ValueError, match="between 0 and 1"):
        late_validation_split(examples, 1.0)
