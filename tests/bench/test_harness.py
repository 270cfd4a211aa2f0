"""The benchmark harness end to end on bakeoff with a few training steps (the CI's quick mode):
every method runs in its own process and is scored, results resume, failures and timeouts are
results, and the report page is written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dbtwin import datasets
from dbtwin.bench import BenchConfig, run_benchmark
from dbtwin.bench.report import write_report
from dbtwin.bench.runner import run_path
from dbtwin.bench.suite import DATASETS, bench_data_folder, tpch_price_formula


def _config(tmp_path, **kwargs) -> BenchConfig:
    base = {"datasets": ("bakeoff",), "seeds": (0,), "train_steps": 10, "max_minutes": None, "sample_steps": 3}
    base.update(kwargs)
    return BenchConfig(results_dir=tmp_path / "results", work_dir=tmp_path / "work", label="quick", **base)


def test_quick_run_all_methods(tmp_path):
    config = _config(tmp_path, methods=("holdout", "dbtwin", "dbtwin-real", "dbtwin-k0", "hma"), hma_timeout=400)
    records = run_benchmark(config)
    assert [(r["method"], r["status"]) for r in records] == [
        ("holdout", "ok"),
        ("dbtwin", "ok"),
        ("dbtwin-real", "ok"),
        ("dbtwin-k0", "ok"),
        ("hma", "ok"),
    ]
    ceiling = json.loads(run_path(config.results_dir, "bakeoff", "holdout", 0).read_text())
    assert ceiling["metrics"]["column_shapes"]["score"] > 0.8 and "privacy" not in ceiling["metrics"]
    trained = json.loads(run_path(config.results_dir, "bakeoff", "dbtwin", 0).read_text())["training"]
    assert trained["steps"] == 10 and trained["rows_per_second"] > 0
    for r in records[1:]:
        saved = json.loads(run_path(config.results_dir, "bakeoff", r["method"], 0).read_text())
        metrics = saved["metrics"]
        assert 0 < metrics["column_shapes"]["score"] <= 1
        assert set(metrics["inter_table_trends"]) >= {"1", "2", "mean"}
        assert metrics["privacy"]["details"].keys() <= {"bakers", "challenges"}  # the split tables only
        assert saved["peak_rss_mb"] > 100 and saved["fit_seconds"] > 0 and saved["rows"] > 1000
        assert saved["split"]["table"] == "bakers"
        if r["method"] != "hma":
            assert metrics["integrity"]["fk_violations"] == metrics["integrity"]["pk_duplicates"] == 0
    # the real structure keeps every row count; HMA's notes say what it was not given
    real = json.loads(run_path(config.results_dir, "bakeoff", "dbtwin-real", 0).read_text())
    assert real["metrics"]["cardinality"]["score"] == pytest.approx(1.0)
    hma = json.loads(run_path(config.results_dir, "bakeoff", "hma", 0).read_text())
    assert any("composite" in n for n in hma["notes"])
    assert run_benchmark(config) == []  # resumes: nothing left to do
    page = write_report(config.results_dir, tmp_path / "docs" / "benchmarks.md")
    text = page.read_text()
    assert "### bakeoff" in text and "| column shapes |" in text and "Where the targets stand" in text
    assert (tmp_path / "docs" / "benchmarks" / "hops_bakeoff.png").stat().st_size > 1000
    assert "% of " in text.split("**4.")[1].split("**5.")[0]  # dbtwin's scores against the hold-out ceiling
    # a dataset with published reference rows (F1's, from GRDM's paper) gets them beside its runs
    record = json.loads(run_path(config.results_dir, "bakeoff", "dbtwin", 0).read_text())
    record["dataset"] = "f1"
    path = run_path(config.results_dir, "f1", "dbtwin", 0)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(record))
    text = write_report(config.results_dir, tmp_path / "docs" / "benchmarks.md").read_text()
    header = next(line for line in text.split("### f1")[1].splitlines() if line.startswith("| measure"))
    assert header == "| measure | dbtwin | GRDM (published) | ClavaDDPM (published) | SingleTable (published) |"
    assert "against GRDM (published): " in text and "0.9844" in text


def test_datasets_outside_the_repository_are_skipped_when_absent(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("DBTWIN_BENCH_DATA", str(tmp_path / "nothing"))
    assert "skipped" in DATASETS["f1"].missing() and DATASETS["chinook"].missing() is None
    with caplog.at_level("WARNING"):
        assert run_benchmark(_config(tmp_path, datasets=("f1", "berka"), methods=("holdout",))) == []
    assert "f1: 'f1' is not in the benchmark data folder" in caplog.text and "berka" in caplog.text


@pytest.mark.skipif(bench_data_folder() is None, reason="the benchmark data folder ../shared/data is not here")
def test_f1_and_berka_load_from_the_benchmark_data_folder():
    for name, tables in (("f1", 9), ("berka", 7)):
        spec = DATASETS[name]
        assert spec.missing() is None
        db = spec.load()
        assert len(db.schema.table_names) == tables and spec.split_table in db.schema.table_names


def test_failures_and_timeouts_are_results(tmp_path):
    config = _config(tmp_path, methods=("dbtwin-real", "hma"), seeds=(0, 1), hma_timeout=1)
    records = {(r["method"], r["seed"]): r for r in run_benchmark(config)}
    assert records[("dbtwin-real", 0)]["status"] == "failed"
    assert "needs the model" in records[("dbtwin-real", 0)]["error"]
    assert records[("hma", 0)]["status"] == "timeout"
    assert records[("hma", 1)]["status"] == "skipped" and "seed 0" in records[("hma", 1)]["error"]


def test_tpch_formula_check():
    db = datasets.load("tpch", scale_factor=0.002)
    assert tpch_price_formula(db) == pytest.approx(1.0)
    shuffled = db.copy()
    rng = np.random.default_rng(0)
    shuffled["lineitem"]["l_quantity"] = rng.permutation(shuffled["lineitem"]["l_quantity"].to_numpy())
    assert tpch_price_formula(shuffled) < 0.2
