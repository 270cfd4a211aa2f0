"""The prediction benchmark: bundled entity tasks × models × seeds, one JSON per run.

Models: ``gnn`` (row encoders with MiniLM text embeddings + temporal GraphSAGE), ``gnn-notext`` (the
same without text columns), ``lightgbm-entity`` (the entity table's own columns) and
``lightgbm-aggregated`` (plus 1- and 2-hop aggregates). Each run is fitted in its own process, so
its peak RSS is its own; its fit seconds, epochs and scores on every split are recorded.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from dbtwin.atomic import atomic_write_text
from dbtwin.bench.isolate import peak_rss_mb, run_isolated

log = logging.getLogger(__name__)

MODELS = ("gnn", "gnn-notext", "lightgbm-entity", "lightgbm-aggregated")


def predict_job(task: str, model: str, seed: int, max_minutes: float, threads: int, text_cache: str) -> dict[str, Any]:
    """Fit ``model`` on bundled ``task`` and score it (runs in a worker process)."""
    logging.basicConfig(level=logging.WARNING)
    import torch

    from dbtwin.predict.baselines import run_baseline
    from dbtwin.predict.predictor import Predictor
    from dbtwin.predict.tasks import load_task, load_task_database

    torch.set_num_threads(threads)
    started = time.monotonic()
    db = load_task_database(task)
    the_task = load_task(task)
    examples = the_task.examples(db)
    prepare_seconds = time.monotonic() - started
    if model.startswith("gnn"):
        predictor = Predictor(
            use_text=model == "gnn", max_minutes=max_minutes, text_cache=text_cache, random_state=seed, progress=False
        )
        predictor.fit(db, the_task, examples)
        fit_seconds = predictor.history_.seconds
        scores = predictor.evaluate(db, examples)
        details = {"epochs": len(predictor.history_.epochs), "best_epoch": predictor.history_.best_epoch}
        details["stopped"] = predictor.history_.stopped
    else:
        result = run_baseline(db, the_task, model.removeprefix("lightgbm-"), examples, seed, threads)
        fit_seconds, scores = result["seconds"], result["scores"]
        details = {"features": result["features"], "trees": result["trees"]}
    return {
        "rows": db.total_rows,
        "examples": examples.summary(),
        "prepare_seconds": round(prepare_seconds, 1),
        "fit_seconds": round(fit_seconds, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "scores": scores,
        **details,
    }


def run_path(results_dir: Path, task: str, model: str, seed: int) -> Path:
    return results_dir / "runs" / task / f"{model}-seed{seed}.json"


def run_predict_benchmark(
    results_dir: Path,
    tasks: tuple[str, ...],
    models: tuple[str, ...] = MODELS,
    seeds: tuple[int, ...] = (0, 1, 2),
    max_minutes: float = 5.0,
    threads: int = 2,
    text_cache: Path = Path("benchmarks/work/text-cache"),
    redo: bool = False,
) -> list[dict[str, Any]]:
    """Run what has no result yet (everything with ``redo``); returns the new records."""
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; choose from {MODELS}")
    records = []
    for seed in seeds:
        for task in tasks:
            for model in models:
                path = run_path(results_dir, task, model, seed)
                if path.exists() and not redo:
                    continue
                log.info("prediction benchmark: %s / %s / seed %d", task, model, seed)
                kwargs = {
                    "task": task,
                    "model": model,
                    "seed": seed,
                    "max_minutes": max_minutes,
                    "threads": threads,
                    "text_cache": str(text_cache),
                }
                started = time.monotonic()
                status, result = run_isolated(predict_job, kwargs, None)
                record = {"task": task, "model": model, "seed": seed, "status": status, "threads": threads}
                record["max_minutes"] = max_minutes
                record["wall_seconds"] = round(time.monotonic() - started, 1)
                record.update({k: v for k, v in result.items() if k != "traceback"})
                atomic_write_text(path, json.dumps(record, indent=1) + "\n")
                log.info(
                    "  %s in %.0f s: test %s", status, record["wall_seconds"], record.get("scores", {}).get("test")
                )
                records.append(record)
    return records


def load_records(results_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((results_dir / "runs").glob("*/*.json"))]
