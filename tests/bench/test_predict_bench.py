"""The prediction benchmark's harness: runs, per-run JSON, resume, and the report page."""

from __future__ import annotations

import json

from dbtwin.bench.predict import run_path, run_predict_benchmark
from dbtwin.bench.predict_report import write_predict_report


def test_quick_prediction_benchmark(tmp_path):
    results = tmp_path / "results"
    args = dict(tasks=("lahman-team-wins",), models=("gnn-notext", "lightgbm-entity"), seeds=(0,), max_minutes=0.1)
    records = run_predict_benchmark(results, threads=1, text_cache=tmp_path / "cache", **args)
    assert [r["status"] for r in records] == ["ok", "ok"], records
    record = json.loads(run_path(results, "lahman-team-wins", "gnn-notext", 0).read_text())
    assert record["fit_seconds"] > 0 and record["peak_rss_mb"] > 100
    assert record["scores"]["test"]["mae"] > 0 and record["examples"]["test"]["examples"] > 100
    assert run_predict_benchmark(results, threads=1, text_cache=tmp_path / "cache", **args) == []  # resumes
    page = write_predict_report(results, tmp_path / "predict.md").read_text()
    assert "## lahman-team-wins" in page and "| gnn-notext |" in page and "lightgbm-entity on test mae" in page
