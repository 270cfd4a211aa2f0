"""``dbtwin demo``: fit the bundled Chinook, sample a twin, write it to SQLite, summarise it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from dbtwin import datasets
from dbtwin.errors import DestinationNotEmptyError
from dbtwin.evaluate import cardinality, column_shapes
from dbtwin.relations import keeping
from dbtwin.sources import write
from dbtwin.synthesizer import Synthesizer
from dbtwin.validate import find_problems


def run_demo(
    out: Path, max_minutes: float = 5.0, seed: int = 0, replace: bool = False, progress: bool = True
) -> dict[str, Any]:
    """Fit and sample Chinook; returns per-table row counts and integrity, timings, two scores and the
    exact relations kept (rules found in the real data, rows of the twin keeping each)."""
    out = Path(out)
    if out.exists() and not replace:  # refuse before spending minutes on training
        raise DestinationNotEmptyError(f"'{out}' already exists; pass --replace to overwrite it")
    real = datasets.load("chinook")
    synth = Synthesizer(max_minutes=max_minutes, random_state=seed, progress=progress)
    synth.fit(real)
    started = time.monotonic()
    fake = synth.sample(scale=1.0)
    sample_seconds = time.monotonic() - started
    write(fake, out, replace=replace)
    problems = find_problems(fake)
    tables = {}
    for name in real.schema.table_names:
        tables[name] = {
            "real_rows": real.num_rows(name),
            "synthetic_rows": fake.num_rows(name),
            "fk_violations": sum(p.count for p in problems if p.code == "orphan_foreign_key" and p.table == name),
            "duplicate_pks": sum(p.count for p in problems if p.code == "duplicate_primary_key" and p.table == name),
        }
    return {
        "tables": tables,
        "fit_seconds": synth.fit_seconds_,
        "train_steps": synth.train_state_.step,
        "sample_seconds": sample_seconds,
        "column_shapes": float(np.mean(list(column_shapes(real, fake).values()))),
        "cardinality": float(np.mean(list(cardinality(real, fake).values()))),
        "relations": [(r.describe(real.schema), keeping(fake, r, holes=r.holes).share) for r in synth.rules_],
    }
