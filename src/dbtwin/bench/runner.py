"""The benchmark loop: seeds x datasets x methods, one JSON file per run, resumable."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from dbtwin.atomic import atomic_write_text
from dbtwin.bench.isolate import run_isolated
from dbtwin.bench.methods import METHODS, SHARES_MODEL, fit_and_sample
from dbtwin.bench.suite import DATASETS, BenchDataset
from dbtwin.database import Database
from dbtwin.errors import DestinationNotEmptyError
from dbtwin.evaluate import evaluate
from dbtwin.evaluate.split import HoldoutSplit, holdout_split
from dbtwin.io.files import read_directory, write_directory
from dbtwin.validate import resolve_orphans

log = logging.getLogger(__name__)


@dataclass
class BenchConfig:
    """What to run and with which budget. ``max_minutes`` caps each dbtwin training run."""

    datasets: tuple[str, ...] = tuple(DATASETS)
    methods: tuple[str, ...] = METHODS
    seeds: tuple[int, ...] = (0, 1, 2)
    train_steps: int | None = None
    max_minutes: float | None = 3.0
    sample_steps: int = 50
    hma_timeout: float = 900.0
    timeout: float = 3600.0
    holdout_fraction: float = 0.2
    detection_rows: int = 5_000
    results_dir: Path = Path("benchmarks/results/bench")
    work_dir: Path = Path("benchmarks/work")
    redo: bool = False
    threads: int = 2
    label: str = "full"

    def dataset(self, name: str) -> BenchDataset:
        spec = DATASETS.get(name)
        if spec is None:
            raise ValueError(f"unknown benchmark dataset '{name}' (known: {', '.join(DATASETS)})")
        return spec

    def settings(self) -> dict[str, Any]:
        keep = (
            "train_steps",
            "max_minutes",
            "sample_steps",
            "hma_timeout",
            "holdout_fraction",
            "detection_rows",
            "threads",
        )
        return {k: v for k, v in asdict(self).items() if k in keep}


def run_path(results_dir: Path, dataset: str, method: str, seed: int) -> Path:
    return results_dir / "runs" / dataset / f"{method}-seed{seed}.json"


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _claim(path: Path, redo: bool) -> bool:
    """Take a run for this process (several ``dbtwin bench run`` may work on one results folder):
    false when another process holds it or, without ``redo``, it is done."""
    if path.exists() and not redo:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path.with_suffix(".lock"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _split(config: BenchConfig, spec: BenchDataset, real: Database, seed: int) -> tuple[HoldoutSplit, Database, Path]:
    """The seeded split, the rows generators are fitted on (its training side, or every row under
    the "all" protocol) and the folder that holds them."""
    split = holdout_split(real, config.holdout_fraction, spec.split_table, random_state=seed)
    fitted = real if spec.protocol == "all" else split.train
    base = config.work_dir / spec.name / f"seed{seed}"
    if not (base / "train").exists():  # the split is seeded: a folder written before holds the same rows
        with contextlib.suppress(DestinationNotEmptyError):  # another runner wrote it first
            write_directory(fitted, base / "train")
    return split, fitted, base


def _holdout_ceiling(config: BenchConfig, split: HoldoutSplit, seed: int) -> dict:
    """The real hold-out side scored against the real training side: the best a generator can reach
    on the split protocol (fidelity and detection; no ML efficacy or privacy, it is real data)."""
    started = time.monotonic()
    with threadpool_limits(limits=config.threads):
        metrics = evaluate(split.train, split.holdout, detection_rows=config.detection_rows, random_state=seed)
    return {
        "status": "ok",
        "fit_seconds": 0.0,
        "sample_seconds": 0.0,
        "wall_seconds": round(time.monotonic() - started, 1),
        "rows": split.holdout.total_rows,
        "notes": ["the real hold-out side, scored against the real training side"],
        "metrics": metrics,
    }


def _hma_gave_up(config: BenchConfig, dataset: str, seed: int) -> dict | None:
    """An earlier seed's HMA run that timed out: later seeds are not tried again."""
    for earlier in config.seeds:
        if earlier == seed:
            break
        path = run_path(config.results_dir, dataset, "hma", earlier)
        if path.exists():
            record = json.loads(path.read_text())
            if record["status"] in ("timeout", "skipped"):
                return record
    return None


def _run_one(
    config: BenchConfig, spec: BenchDataset, split: HoldoutSplit, fitted: Database, base: Path, method: str, seed: int
) -> dict:
    record: dict[str, Any] = {"dataset": spec.name, "method": method, "seed": seed, "settings": config.settings()}
    record["split"] = split.summary()
    record["protocol"] = spec.protocol
    if method == "holdout":
        record.update(_holdout_ceiling(config, split, seed))
        return record
    if method == "hma" and (gave_up := _hma_gave_up(config, spec.name, seed)):
        record.update(status="skipped", error=f"not retried: seed {gave_up['seed']} {gave_up['status']}")
        return record
    if method in SHARES_MODEL:  # another runner may still be training the model this one reuses
        lock = run_path(config.results_dir, spec.name, "dbtwin", seed).with_suffix(".lock")
        while lock.exists():
            time.sleep(5)
    out_dir = base / method
    kwargs = {
        "method": method,
        "train_dir": str(base / "train"),
        "out_dir": str(out_dir),
        "model_dir": str(base / "model"),
        "seed": seed,
        "train_steps": config.train_steps,
        "max_minutes": config.max_minutes,
        "sample_steps": config.sample_steps,
        "torch_threads": config.threads,
        "keep": list(spec.keep),
    }
    if spec.keep and method.startswith("dbtwin"):
        record["kept"] = list(spec.keep)
    started = time.monotonic()
    status, result = run_isolated(fit_and_sample, kwargs, config.hma_timeout if method == "hma" else config.timeout)
    record["wall_seconds"] = round(time.monotonic() - started, 1)
    record["status"] = status
    record.update({k: v for k, v in result.items() if k != "traceback"})
    if status != "ok":
        log.warning("%s / %s / seed %d: %s: %s", spec.name, method, seed, status, result.get("error"))
        return record
    synthetic = read_directory(out_dir)
    try:
        # the classifiers' OpenMP pools get the same share of the cores as the fit: more threads than
        # cores (two runners at a time) makes their spin-waits slow everything down several times
        with threadpool_limits(limits=config.threads):
            metrics = evaluate(
                fitted,
                synthetic,
                holdout=split.holdout if spec.protocol == "split" else None,
                targets=list(spec.targets),
                detection_rows=config.detection_rows,
                random_state=seed,
                holdout_tables=split.split_tables,
            )
    except Exception as exc:  # a sample the suite cannot score is a result, not a crash
        record.update(status="evaluation failed", error=f"{type(exc).__name__}: {exc}")
        return record
    record["metrics"] = metrics
    record["checks"] = {
        name: {"synthetic": check(synthetic), "real": check(fitted)} for name, check in spec.checks.items()
    }
    shutil.rmtree(out_dir, ignore_errors=True)
    return record


def _available(methods: tuple[str, ...]) -> list[str]:
    """``methods`` less MOSTLY AI where its environment is not set up (said once, nothing recorded, so
    that a later run with it set up runs it)."""
    if "mostlyai" not in methods:
        return list(methods)
    from dbtwin.bench.mostly import MostlyUnavailableError, mostly_python

    try:
        mostly_python()
    except MostlyUnavailableError as exc:
        log.warning("mostlyai left out: %s", exc)
        return [m for m in methods if m != "mostlyai"]
    return list(methods)


def run_benchmark(config: BenchConfig) -> list[dict]:
    """Run what is not in ``config.results_dir`` yet (everything with ``redo``); returns every record."""
    records = []
    cache: dict[str, Database] = {}
    methods = _available(config.methods)
    for seed in config.seeds:
        for name in config.datasets:
            spec = config.dataset(name)
            if reason := spec.missing():
                log.warning(reason)
                continue
            todo = [m for m in methods if config.redo or not run_path(config.results_dir, name, m, seed).exists()]
            if not todo:
                continue
            if name not in cache:
                cache[name], _ = resolve_orphans(spec.load(), "drop")
            split, fitted, base = _split(config, spec, cache[name], seed)
            for method in todo:
                path = run_path(config.results_dir, name, method, seed)
                if not _claim(path, config.redo):
                    continue
                log.info("benchmark: %s / %s / seed %d", name, method, seed)
                try:
                    record = _run_one(config, spec, split, fitted, base, method, seed)
                    record["label"] = config.label
                    atomic_write_text(path, json.dumps(_clean(record), indent=1) + "\n")
                finally:
                    path.with_suffix(".lock").unlink(missing_ok=True)
                records.append(record)
                log.info(
                    "  %s in %.0f s (fit %s s, sample %s s)",
                    record["status"],
                    record.get("wall_seconds", 0),
                    record.get("fit_seconds"),
                    record.get("sample_seconds"),
                )
    return records
