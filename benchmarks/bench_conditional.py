"""Conditional fidelity on Chinook: a twin generated with the real customers kept (``keep=["customer"]``)
against an unconditional twin, both fitted with the defaults (the planned steps) and scored against the
real database on what both generate: the column shapes of ``invoice`` and ``invoice_line``, and the
1-hop trends of the pairs of a customer column with an invoice column.

Prints a line per twin and writes benchmarks/results/conditional.json.

    python benchmarks/bench_conditional.py [--seeds 1,2,3] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from dbtwin import datasets
from dbtwin.evaluate import evaluate
from dbtwin.synthesizer import Synthesizer

RESULTS = Path(__file__).resolve().parent / "results" / "conditional.json"
GENERATED = ("invoice", "invoice_line")
PAIRS = "customer <- invoice"


def scores(real, twin) -> dict[str, float]:
    """The scores of what both twins generate."""
    m = evaluate(real, twin, max_rows=20_000, detection_rows=2_000)
    shapes = [v for k, v in m["column_shapes"]["details"].items() if k.split(".")[0] in GENERATED]
    hop = [v for k, v in m["inter_table_trends"]["1"]["details"].items() if k.startswith(PAIRS) and v is not None]
    return {
        "invoice_column_shapes": round(float(np.mean(shapes)), 4),
        "customer_invoice_1hop": round(float(np.mean(hop)), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="1,2,3")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    real = datasets.load("chinook")
    out = {}
    for label, keep in (("unconditional", []), ("customers kept", ["customer"])):
        started = time.monotonic()
        synth = Synthesizer(keep=keep, random_state=0, progress=False).fit(real)
        fit = round(time.monotonic() - started, 1)
        rows = [scores(real, synth.sample(random_state=int(s))) for s in args.seeds.split(",")]
        out[label] = {"fit_seconds": fit, "kept": list(synth.kept_), "samples": rows}
        print(label, json.dumps(out[label]), flush=True)
    RESULTS.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
