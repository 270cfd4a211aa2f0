"""Fidelity of a sample drawn in shards against one drawn in one piece, from the same model and
seeds: each is scored against the real database by the evaluation suite (column shapes, intra-table
and 1-3 hop trends, detection), so the gap between the two can be read against the gap between seeds.

    python benchmarks/bench_shards.py [--scale-factor 0.01] [--shards 3] [--seeds 0,1] [--train-steps 300]

TPC-H at scale factor 0.01 (87k rows): in 3 shards, `orders` and `lineitem` are split and the
smaller tables shared. Writes (merges into) ``benchmarks/results/shards.json``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "shards.json"


def scores(real, fake, seed: int) -> dict:
    from dbtwin.evaluate import evaluate

    metrics = evaluate(real, fake, random_state=seed)
    inter = metrics["inter_table_trends"]
    return {
        "column_shapes": round(metrics["column_shapes"]["score"], 4),
        "intra_table_trends": round(metrics["intra_table_trends"]["score"], 4),
        **{f"inter_table_trends_{k}": round(inter[k]["score"], 4) for k in ("1", "2", "3") if k in inter},
        "detection": round(metrics["detection"]["score"], 4),
    }


def run(args: argparse.Namespace) -> dict:
    from dbtwin import datasets, read, write
    from dbtwin.synthesizer import Synthesizer
    from dbtwin.synthesizer.shards import plan_shards
    from dbtwin.validate import find_problems, resolve_orphans

    real, _ = resolve_orphans(datasets.load("tpch", scale_factor=args.scale_factor), "drop")
    synth = Synthesizer(train_steps=args.train_steps, random_state=0, progress=False).fit(real)
    plan = plan_shards(synth.stages_, 1.0, args.shards)
    entry: dict = {
        "dataset": f"tpch-sf{args.scale_factor:g}",
        "rows": real.total_rows,
        "train_steps": args.train_steps,
        "shards": args.shards,
        "shared": plan.shared,
        "split": [t for t in plan.sizes if t not in plan.shared],
        "runs": [],
    }
    for seed in [int(s) for s in args.seeds.split(",")]:
        started = time.monotonic()
        one = synth.sample(1.0, random_state=seed)
        one_seconds = time.monotonic() - started
        with tempfile.TemporaryDirectory() as work:
            started = time.monotonic()
            sharded = synth.sample_shards(Path(work) / "spool", 1.0, args.shards, random_state=seed)
            write(sharded, str(Path(work) / "twin"))
            shard_seconds = time.monotonic() - started
            pieces = read(str(Path(work) / "twin"))
        for mode, fake, seconds in (("one piece", one, one_seconds), ("shards", pieces, shard_seconds)):
            errors = [p for p in find_problems(fake) if p.severity == "error"]
            run = {"seed": seed, "mode": mode, "seconds": round(seconds, 1), "rows": fake.total_rows}
            run.update(integrity_errors=len(errors), **scores(real, fake, seed))
            entry["runs"].append(run)
            print(json.dumps(run))
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale-factor", type=float, default=0.01)
    parser.add_argument("--shards", type=int, default=3)
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--train-steps", type=int, default=300)
    args = parser.parse_args()
    from bench_scale import merge_result  # this folder's: the script runs from it

    entry = run(args)
    merge_result(RESULTS, f"{entry['dataset']}-{args.shards}shards", entry)


if __name__ == "__main__":
    main()
