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
from dbtwin.bench.suite import tpch_price_formula


def _config(tmp_path, **kwargs) -> BenchConfig:
    base = {"datasets": ("bakeoff",), "seeds": (0,), "train_steps": 10, "max_minutes": None, "sample_steps": 3}
    base.update(kwargs)
    return BenchConfig(results_dir=tmp_path / "results", work_dir=tmp_path / "work", label="quick", **base)


def test_quick_run_all_methods(tmp_path):
    config = _config(tmp_path, methods=("dbtwin", "dbtwin-real", "dbtwin-k0", "hma"), hma_timeout=400)
    records = run_benchmark(config)
    assert [(r["method"], r["status"]) for r in records] == [
        ("dbtwin", "ok"),
        ("dbtwin-real", "ok"),
        ("dbtwin-k0", "ok"),
        ("hma", "ok"),
    ]
    for r in records:
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


def test_failures_and_timeouts_are_results(tmp_path):
    config = _config(tmp_path, methods=("dbtwin-sbm", "hma"), seeds=(0, 1), hma_timeout=1)
    records = {(r["method"], r["seed"]): r for r in run_benchmark(config)}
    assert records[("dbtwin-sbm", 0)]["status"] == "failed"
    assert "needs the model" in records[("dbtwin-sbm", 0)]["error"]
    assert records[("hma", 0)]["status"] == "timeout"
    assert records[("hma", 1)]["status"] == "skipped" and "seed 0" in records[("hma", 1)]["error"]


def test_tpch_formula_check():
    db = datasets.load("tpch", scale_factor=0.002)
    assert tpch_price_formula(db) == pytest.approx(1.0)
    shuffled = db.copy()
    rng = np.random.default_rng(0)
    shuffled["lineitem"]["l_quantity"] = rng.permutation(shuffled["lineitem"]["l_quantity"].to_numpy())
    assert tpch_price_formula(shuffled) < 0.2
