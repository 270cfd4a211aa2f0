"""Differentially private fits on every bundled dataset: that ``--epsilon 1`` and ``--epsilon 10`` fit and
sample each one, the ε the accountant reports, the noise levels, seconds, and the twin's integrity.

The fits are short (``--train-steps``, 100 by default: the budget is planned for those steps); the
fidelity a DP fit reaches against ε is the benchmark's (``dbtwin-dp1/3/10``, docs/benchmarks.md).
Prints a line per fit and writes benchmarks/results/private_fits.json.

    python benchmarks/bench_private_fits.py [--datasets chinook,lahman] [--epsilons 1,10] [--train-steps 100]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from dbtwin import datasets
from dbtwin.evaluate import column_shapes
from dbtwin.synthesizer import Synthesizer
from dbtwin.validate import find_problems

RESULTS = Path(__file__).resolve().parent / "results" / "private_fits.json"
BUNDLED = ("chinook", "nycflights13_jan", "nycflights13", "lahman", "bakeoff", "tpch")


def private_fit(name: str, epsilon: float, steps: int) -> dict:
    db = datasets.load(name)
    started = time.monotonic()
    synth = Synthesizer(train_steps=steps, epsilon=epsilon, random_state=0, progress=False).fit(db)
    fit_seconds = time.monotonic() - started
    started = time.monotonic()
    twin = synth.sample(random_state=0)
    dp = synth.privacy_
    return {
        "dataset": name,
        "epsilon": epsilon,
        "epsilon_spent": dp["epsilon_spent"],
        "delta": dp["delta"],
        "noise_multiplier": round(dp["noise_multiplier"], 4),
        "structure_sigma": round(dp["structure_sigma"], 3),
        "steps": dp["steps_done"],
        "fit_seconds": round(fit_seconds, 1),
        "sample_seconds": round(time.monotonic() - started, 1),
        "rows": twin.total_rows,
        "integrity_errors": sum(p.severity == "error" for p in find_problems(twin)),
        "column_shapes": round(float(np.mean(list(column_shapes(db, twin).values()))), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(BUNDLED))
    parser.add_argument("--epsilons", default="1,10")
    parser.add_argument("--train-steps", type=int, default=100)
    args = parser.parse_args()
    rows = []
    for name in args.datasets.split(","):
        for epsilon in (float(e) for e in args.epsilons.split(",")):
            row = private_fit(name, epsilon, args.train_steps)
            rows.append(row)
            print(json.dumps(row), flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"train_steps": args.train_steps, "fits": rows}, indent=1) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
