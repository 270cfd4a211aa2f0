"""Twin utility on rel-f1 (SyntheRela's RDL utility): dbtwin fitted on rel-f1's rows before RelBench's
validation cut-off (2005-01-01), a twin sampled from it, and each rel-f1 task's default GNN trained
twice, on the twin and on the same real rows; both are tested on RelBench's real test split (examples
from 2010 on, each seeing the real rows before its moment). The ratio of the two test scores is the
twin's utility (1.0: it teaches the task as well as the real rows; MAE inverted, so higher is better).

Neither database fitted on has a validation period, so each GNN early-stops on the latest fifth of its
own training moments; nothing real after 2005 reaches the twin's model.

    python benchmarks/bench_twin_utility.py [--minutes 13] [--seed 0] [--gnn-minutes 5] [--threads 1]
        [--tasks rel-f1-driver-dnf,rel-f1-driver-top3,rel-f1-driver-position]
        [--results benchmarks/results/predict/twin_utility-seed<seed>.json]

Writes the results file after each task (seconds of the fit, the sampling and each GNN, peak RSS).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from dbtwin.atomic import atomic_write_text
from dbtwin.bench.isolate import peak_rss_mb
from dbtwin.bench.suite import bench_data_folder
from dbtwin.predict.tasks import SHARED, load_task
from dbtwin.predict.times import row_times, rows_until
from dbtwin.predict.utility import rdl_utility
from dbtwin.sources import read
from dbtwin.synthesizer import Synthesizer

RESULTS = Path(__file__).resolve().parent / "results" / "predict"
LATE_VALIDATION = 0.2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=13.0, help="cap on dbtwin's fit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gnn-minutes", type=float, default=5.0, help="cap on each GNN's training")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tasks", default=",".join(SHARED))
    parser.add_argument("--text-cache", type=Path, default=Path("benchmarks/work/text-cache"))
    parser.add_argument("--results", type=Path, default=None, help="default: twin_utility-seed<seed>.json")
    args = parser.parse_args()
    args.results = args.results or RESULTS / f"twin_utility-seed{args.seed}.json"
    torch.set_num_threads(args.threads)
    folder = bench_data_folder()
    if folder is None or not (folder / "rel-f1").is_dir():
        raise SystemExit("rel-f1 is not in the benchmark data folder (../shared/data); nothing to measure")
    real = read(folder / "rel-f1")
    tasks = [load_task(name) for name in args.tasks.split(",")]
    cut = tasks[0].val_timestamp
    view = rows_until(real, row_times(real), cut)
    out = {"protocol": {**{k: str(v) for k, v in vars(args).items()}, "fitted_on": f"rows at or before {cut}"}}
    out["rows"] = {"real": real.total_rows, "fitted_on": view.total_rows}
    started = time.monotonic()
    synth = Synthesizer(max_minutes=args.minutes, random_state=args.seed, progress=False).fit(view)
    out["fit_seconds"] = round(time.monotonic() - started, 1)
    started = time.monotonic()
    twin = synth.sample(random_state=args.seed)
    out["sample_seconds"] = round(time.monotonic() - started, 1)
    out["rows"]["twin"] = twin.total_rows
    print(json.dumps(out), flush=True)
    out["tasks"] = {}
    for task in tasks:
        result = rdl_utility(
            real,
            twin,
            task,
            real_training=view,
            late_validation=LATE_VALIDATION,
            max_minutes=args.gnn_minutes,
            random_state=args.seed,
            text_cache=args.text_cache,
        )
        out["tasks"][task.name] = result
        out["peak_rss_mb"] = round(peak_rss_mb(), 1)
        print(
            task.name, json.dumps({k: result[k] for k in ("train_on_real", "train_on_synthetic", "ratio")}), flush=True
        )
        args.results.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(args.results, json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
