"""The benchmarked methods. Each is run by :func:`fit_and_sample` in a worker process: it reads the
training split, fits, samples one synthetic database at scale 1 and writes it as Parquet.

* ``dbtwin``: the default synthesizer (block structure with block inputs, K = 2);
* ``dbtwin-degree``: GRDM's degree structure (parents of a multi-parent child matched at random, no
  blocks), with a denoiser of its own, same budget;
* ``dbtwin-real``: the trained denoiser of ``dbtwin`` with the real links (GRDM's ablation of the
  structure); its fit time is the shared training plus its own structure fit;
* ``dbtwin-norules``: no exact relations and no time sequences (:mod:`dbtwin.relations`,
  :mod:`dbtwin.graph.sequences`), same budget: what the rules add;
* ``dbtwin-keeprare``: rare categories of categorical columns kept (``rare_categories=False``, as
  before dbtwin protected them; rare text is still filled in), same budget: what the protection costs;
* ``dbtwin-k0``: K = 0, each table denoised alone (GRDM's "SingleTable" ablation), same step budget;
* ``dbtwin-dp1``, ``dbtwin-dp3``, ``dbtwin-dp10``: (ε, δ)-differentially private fits at ε = 1, 3 and 10
  (:mod:`dbtwin.privacy`), :data:`DP_STEPS` DP-SGD steps (what the budget fits), same time budget;
* ``hma``: SDV's HMASynthesizer on the view of the schema it can take (:mod:`dbtwin.bench.hma`);
* ``mostlyai``: MOSTLY AI's open-source SDK in its own environment (:mod:`dbtwin.bench.mostly`), the
  same training budget split over its table models, and a wall-clock limit of that budget plus
  :data:`MOSTLY_SLACK_SECONDS` for everything (its foreign-key models have no cap of their own);
* ``holdout``: no generator: the real hold-out side scored against the real training side, the
  ceiling of the split protocol (run by the runner itself, :func:`dbtwin.bench.runner`).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from dbtwin.bench.isolate import peak_rss_mb

METHODS = (
    "holdout",
    "dbtwin",
    "dbtwin-degree",
    "dbtwin-norules",
    "dbtwin-real",
    "dbtwin-k0",
    "dbtwin-keeprare",
    "dbtwin-dp1",
    "dbtwin-dp3",
    "dbtwin-dp10",
    "hma",
    "mostlyai",
)
#: DP-SGD steps of the differentially private methods: the privacy budget is planned for them, and
#: about this many run in the benchmark's two minutes on one thread (0.1 s a step on Chinook).
DP_STEPS = 800
#: The other generators: their failures and timeouts are their results.
PEERS = ("hma", "mostlyai")
#: Seconds MOSTLY AI may take beyond the training budget (start-up, foreign-key models, generation).
MOSTLY_SLACK_SECONDS = 120.0
#: Methods that reuse the model ``dbtwin`` saved for the same dataset and seed.
SHARES_MODEL = {"dbtwin-real": "real"}


def fit_and_sample(
    method: str,
    train_dir: str,
    out_dir: str,
    model_dir: str,
    seed: int,
    train_steps: int | None,
    max_minutes: float | None,
    sample_steps: int,
    torch_threads: int = 2,
    keep: list[str] | None = None,
) -> dict[str, Any]:
    """Fit ``method`` on the training split in ``train_dir``, write its sample to ``out_dir``; dbtwin's
    methods keep the tables ``keep`` names as they are (HMA and MOSTLY AI cannot)."""
    logging.basicConfig(level=logging.WARNING)
    import torch

    from dbtwin.io.files import read_directory, write_directory

    torch.set_num_threads(torch_threads)
    train = read_directory(train_dir)
    notes: list[str] = []
    training: dict[str, Any] = {}
    if method == "hma":
        synthetic, fit_seconds, sample_seconds, notes = _hma(train, seed)
    elif method == "mostlyai":
        from dbtwin.bench.mostly import fit_and_sample_mostly

        minutes = max_minutes or 2.0
        synthetic, fit_seconds, notes = fit_and_sample_mostly(
            train, seed, minutes, minutes * 60 + MOSTLY_SLACK_SECONDS, torch_threads
        )
        sample_seconds = 0.0
        notes.append("fit and sample timed together (MOSTLY AI trains its foreign-key models while generating)")
    else:
        synthetic, fit_seconds, sample_seconds, notes, training = _dbtwin(
            method, train, Path(model_dir), seed, train_steps, max_minutes, sample_steps, torch_threads, keep or []
        )
    rss = peak_rss_mb()
    write_directory(synthetic, out_dir, replace=True)
    rows = synthetic.total_rows
    return {
        "fit_seconds": round(fit_seconds, 2),
        "sample_seconds": round(sample_seconds, 2),
        "peak_rss_mb": round(rss, 1),
        "rows": rows,
        "rows_per_second": round(rows / sample_seconds, 1) if sample_seconds > 0 else None,
        "notes": notes,
        "training": training,
    }


def _dbtwin(method, train, model_dir: Path, seed, train_steps, max_minutes, sample_steps, threads: int, keep: list):
    from dbtwin.synthesizer import Synthesizer

    notes, training = [], {}
    if method in SHARES_MODEL:
        if not (model_dir / "config.json").exists():
            raise RuntimeError("needs the model of the 'dbtwin' run for this dataset and seed, which is missing")
        base = Synthesizer.load(model_dir)
        base.fit_seconds_ = float(base.train_state_.seconds)
        synth = base.with_structure(SHARES_MODEL[method], train)
        notes.append(f"denoiser shared with 'dbtwin' ({base.train_state_.step} steps); structure '{synth.structure}'")
    else:
        epsilon = float(method.removeprefix("dbtwin-dp")) if method.startswith("dbtwin-dp") else None
        synth = Synthesizer(
            structure="degree" if method == "dbtwin-degree" else "sbm",
            num_hops=0 if method == "dbtwin-k0" else 2,
            train_steps=DP_STEPS if epsilon else train_steps,
            epsilon=epsilon,
            max_minutes=max_minutes,
            budget="time" if max_minutes else "steps",  # generators compared on the same time
            sample_steps=sample_steps,
            random_state=seed,
            progress=False,
            relations=method != "dbtwin-norules",
            sequences=method != "dbtwin-norules",
            rare_categories=method != "dbtwin-keeprare",
            keep=keep,
        )
        synth.fit(train)
        state = synth.train_state_
        training = {
            "steps": state.step,
            "seconds": round(state.seconds, 2),
            "stopped": state.stopped,
            "rows_per_second": round(state.rows_per_second, 1),
            "nodes_per_second": round(state.nodes_per_second, 1),
            "threads": threads,
            "best_val_loss": state.best_score,
        }
        notes.append(
            f"trained {state.step} steps ({state.stopped or 'completed'}), "
            f"{state.rows_per_second:,.0f} rows denoised a second on {threads} thread(s)"
        )
        if synth.privacy_:
            training["differential_privacy"] = {
                k: synth.privacy_[k] for k in ("epsilon", "epsilon_spent", "delta", "noise_multiplier", "steps_done")
            }
            notes.append(f"({synth.privacy_['epsilon_spent']:.3g}, {synth.privacy_['delta']:.2g})-DP spent")
        if method == "dbtwin":
            synth.save(model_dir, replace=True)
    synth.sample_steps = sample_steps
    started = time.monotonic()
    synthetic = synth.sample(1.0, random_state=seed)
    return synthetic, synth.fit_seconds_, time.monotonic() - started, notes, training


def _hma(train, seed: int):
    os.environ.setdefault("XDG_DATA_HOME", tempfile.mkdtemp(prefix="dbtwin-sdv-"))
    import warnings

    import numpy as np

    warnings.filterwarnings("ignore")
    for name in ("sdv", "rdt", "copulas", "SingleTableSynthesizer", "MultiTableSynthesizer"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from sdv.metadata import Metadata
        from sdv.multi_table import HMASynthesizer
    except ImportError:
        raise RuntimeError("SDV is not installed (pip install 'dbtwin[bench]')") from None
    from dbtwin.bench.hma import hma_view, restore
    from dbtwin.schema.sdv import schema_to_sdv

    view = hma_view(train)
    metadata, notes = schema_to_sdv(view.schema, drop_unsupported=True)
    np.random.seed(seed)
    started = time.monotonic()
    synth = HMASynthesizer(Metadata.load_from_dict(metadata), verbose=False)
    synth.fit(view.frames)
    fit_seconds = time.monotonic() - started
    started = time.monotonic()
    sampled = synth.sample(scale=1.0)
    sample_seconds = time.monotonic() - started
    return restore(view, sampled), fit_seconds, sample_seconds, view.notes + notes
