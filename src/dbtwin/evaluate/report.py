"""``evaluate``: every measure of a synthetic database against the real one, with the per-item
details beside each summary number, as written to ``metrics.json``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from dbtwin.atomic import atomic_write_text
from dbtwin.database import Database
from dbtwin.evaluate.detection import detection
from dbtwin.evaluate.fidelity import cardinality, column_shapes
from dbtwin.evaluate.integrity import integrity
from dbtwin.evaluate.privacy import privacy
from dbtwin.evaluate.sequences import autocorrelation_gaps
from dbtwin.evaluate.text_columns import text_detection
from dbtwin.evaluate.trends import inter_table_trends, intra_table_trends
from dbtwin.evaluate.utility import utility
from dbtwin.progress import Progress
from dbtwin.relations.report import relations_kept

HOPS = (1, 2, 3)


def _summary(scores: dict[str, float]) -> dict[str, Any]:
    values = [v for v in scores.values() if np.isfinite(v)]
    return {
        "score": round(float(np.mean(values)), 6) if values else None,
        "count": len(values),
        "details": {k: round(v, 6) for k, v in scores.items()},
    }


def evaluate(
    real: Database,
    synthetic: Database,
    holdout: Database | None = None,
    targets: list[str] | None = None,
    max_rows: int | None = 50_000,
    detection_rows: int = 5_000,
    random_state: int = 0,
    holdout_tables: list[str] | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Fidelity (cardinality, column shapes, intra-table and 1-, 2-, 3-hop inter-table trends),
    detection (and single-column detection of text, :mod:`dbtwin.evaluate.text_columns`), the share
    of synthetic rows that keep each exact relation found in ``real``
    (:mod:`dbtwin.relations`), the lag-1 autocorrelation of sequences in time, integrity diagnostics
    and, given a ``holdout`` of real rows the generator never saw
    (``real`` being its training data), ML efficacy on ``targets`` and privacy. Joins along
    foreign-key paths are sub-sampled to ``max_rows`` rows, detection to ``detection_rows`` per class.
    ``holdout_tables`` limits privacy to the tables a split really divided (see :mod:`dbtwin.evaluate.split`)."""
    timings: dict[str, float] = {}
    result: dict[str, Any] = {}

    phases = 3 + len(HOPS) + 5 + (2 if holdout is not None else 0)
    bar = Progress("evaluating", phases, unit="phases", enabled=progress, every=10.0)

    def timed(name: str, fn):
        started = time.monotonic()
        value = fn()
        timings[name] = round(time.monotonic() - started, 3)
        bar.advance(phase=name)
        return value

    result["cardinality"] = _summary(timed("cardinality", lambda: cardinality(real, synthetic)))
    result["column_shapes"] = _summary(timed("column_shapes", lambda: column_shapes(real, synthetic)))
    result["intra_table_trends"] = _summary(timed("intra_table_trends", lambda: intra_table_trends(real, synthetic)))
    inter: dict[str, Any] = {}
    for k in HOPS:
        inter[str(k)] = _summary(
            timed(f"inter_table_trends_{k}", lambda k=k: inter_table_trends(real, synthetic, k, max_rows, random_state))
        )
    hop_scores = [inter[str(k)]["score"] for k in HOPS if inter[str(k)]["score"] is not None]
    inter["mean"] = round(float(np.mean(hop_scores)), 6) if hop_scores else None
    result["inter_table_trends"] = inter
    result["detection"] = timed("detection", lambda: detection(real, synthetic, detection_rows, random_state))
    result["text_columns"] = timed("text_columns", lambda: text_detection(real, synthetic, random_state=random_state))
    if holdout is not None:
        result["utility"] = timed("utility", lambda: utility(real, synthetic, holdout, targets, random_state))
        result["privacy"] = timed(
            "privacy", lambda: privacy(real, synthetic, holdout, random_state=random_state, tables=holdout_tables)
        )
    result["relations"] = timed("relations", lambda: relations_kept(real, synthetic))
    result["sequences"] = timed("sequences", lambda: autocorrelation_gaps(real, synthetic))
    result["integrity"] = timed("integrity", lambda: integrity(real, synthetic))
    bar.close()
    result["settings"] = {
        "max_rows_per_path": max_rows,
        "detection_rows_per_class": detection_rows,
        "random_state": random_state,
        "holdout": holdout is not None,
        "seconds": timings,
    }
    return result


def write_metrics(metrics: dict[str, Any], directory: str | Path, replace: bool = False) -> Path:
    """Write ``metrics.json`` into ``directory`` (created if needed), atomically; an existing one is
    replaced only when ``replace``."""
    path = Path(directory) / "metrics.json"
    atomic_write_text(path, json.dumps(metrics, indent=2) + "\n", replace=replace)
    return path
