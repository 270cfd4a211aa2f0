"""Training step cost at 1 thread against the denoiser of another checkout: seconds a step, rows
denoised a second and the held-out loss every 100 steps, on Chinook and (where ../shared/data is
present) GRDM's F1 tables. Results are merged into benchmarks/results/step_cost.json by label.

    python benchmarks/bench_step_cost.py --label new
    python benchmarks/bench_step_cost.py --label new-w1 --outer-weight 1   # the earlier loss weighting
    git worktree add /tmp/old 0cbfdbf          # the SAGEConv-per-edge-type denoiser
    PYTHONPATH=/tmp/old/src python benchmarks/bench_step_cost.py --label old
    python benchmarks/bench_step_cost.py --label ahead-2t --threads 2 --prefetch   # batches built ahead
    python benchmarks/bench_step_cost.py --label gpu --device cuda --batch-size 4096 [--prefetch]
    python benchmarks/bench_step_cost.py --label cpu-4096-torch --batch-size 4096 --device-batches

``wait_share`` is the share of training time the steps waited for their batches: building them, or
with ``--prefetch`` for the one a thread built ahead while the step before ran.

Code without a rows counter (the earlier checkout) reports seconds a step only; its rows a step are
those of the same sampler, batch and fanout (the ``new-w1`` run counts them).
"""

from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path

import torch

RESULTS = Path(__file__).parent / "results" / "step_cost.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--outer-weight", type=float, default=None, help="loss weight of rows at hop K")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--prefetch", action=argparse.BooleanOptionalAction, help="build each batch ahead, in a thread")
    parser.add_argument(
        "--device-batches", action=argparse.BooleanOptionalAction, help="build batches with torch on the device"
    )
    parser.add_argument("--device", default=None, help="default: the CPU")
    parser.add_argument("--batch-size", type=int, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import dbtwin.synthesizer.model as synthesizer_model
    from dbtwin import datasets
    from dbtwin.synthesizer import Synthesizer

    if args.outer_weight is not None:
        synthesizer_model.TrainConfig = functools.partial(synthesizer_model.TrainConfig, outer_weight=args.outer_weight)
    shared = Path(__file__).resolve().parents[2] / "shared" / "data" / "f1"
    rows = []
    for name in ("chinook", "f1"):
        if name == "f1" and not shared.exists():
            print("f1: ../shared/data/f1 is not here; skipped")
            continue
        if name == "f1":
            from dbtwin.io.files import read_directory

            db = read_directory(shared)
        else:
            db = datasets.load(name)
        given = {
            "batch_size": args.batch_size,
            "device": args.device,
            "prefetch": args.prefetch,
            "device_batches": args.device_batches,
        }
        options = {k: v for k, v in given.items() if v is not None}  # an earlier checkout may lack them
        synth = Synthesizer(train_steps=args.steps, random_state=0, progress=False, **options).fit(db)
        state = synth.train_state_
        counted = getattr(state, "rows", 0)
        row = {
            "label": args.label,
            "dataset": name,
            "threads": args.threads,
            "device": args.device or "cpu",
            "prefetch": synth.config.training.prefetch,
            "device_batches": synth.config.training.device_batches,
            "batch_size": synth.config.training.batch_size,
            "wait_share": round(state.batch_share, 3),
            "steps": state.step,
            "seconds_per_step": round(state.seconds / state.step, 4),
            "rows_per_step": round(counted / state.step) if counted else None,
            "rows_per_second": round(counted / state.seconds) if counted else None,
            "val_loss": [round(h["val_loss"], 4) for h in state.history],
        }
        rows.append(row)
        print(json.dumps(row))
    old = json.loads(RESULTS.read_text()) if RESULTS.exists() else []
    kept = [r for r in old if r["label"] != args.label]
    RESULTS.write_text(json.dumps(kept + rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
