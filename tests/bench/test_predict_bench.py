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


def test_a_rel_f1_task_is_shown_beside_relbench_s_published_rows(tmp_path):
    results = tmp_path / "results"
    for model, mae in (("gnn-notext", 3.9), ("lightgbm-aggregated", 2.8)):
        path = run_path(results, "rel-f1-driver-position", model, 0)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"task": "rel-f1-driver-position", "model": model, "seed": 0, "status": "ok", "threads": 1}
        record |= {"rows": 96_700, "fit_seconds": 10.0, "peak_rss_mb": 900.0}
        record |= {"examples": {"test": {"examples": 760, "label_mean": 11.93}}, "scores": {"test": {"mae": mae}}}
        path.write_text(json.dumps(record))
    page = write_predict_report(results, tmp_path / "predict.md").read_text()
    assert "| RelBench RDL (GraphSAGE) (published) | | 4.0220 ± 0.1190 |" in page
    assert "lightgbm-aggregated beats RelBench RDL (GraphSAGE) on test mae: 2.8000 against 4.0220" in page
    assert "gnn-notext beats RelBench RDL (GraphSAGE)" in page and "gnn-notext stays behind KumoRFM fine-tuned" in page
    assert "dataset rel-f1" in page
