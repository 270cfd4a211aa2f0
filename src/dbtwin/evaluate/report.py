"""``evaluate``: every implemented measure of a synthetic database against the real one, with the
per-item details beside each summary number, as written to ``metrics.json``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from dbtwin.database import Database
from dbtwin.evaluate.fidelity import cardinality, column_shapes
from dbtwin.evaluate.integrity import integrity
from dbtwin.evaluate.trends import inter_table_trends, intra_table_trends
from dbtwin.io.atomic import atomic_write_text

HOPS = (1, 2, 3)


def _summary(scores: dict[str, float]) -> dict[str, Any]:
    values = [v for v in scores.values() if np.isfinite(v)]
    return {
        "score": round(float(np.mean(values)), 6) if values else None,
        "count": len(values),
        "details": {k: round(v, 6) for k, v in scores.items()},
    }


def evaluate(
    real: Database, synthetic: Database, max_rows: int | None = 50_000, random_state: int = 0
) -> dict[str, Any]:
    """Fidelity (cardinality, column shapes, intra-table and 1-, 2-, 3-hop inter-table trends) and
    integrity diagnostics. Joins along foreign-key paths are sub-sampled to ``max_rows`` rows."""
    timings: dict[str, float] = {}
    result: dict[str, Any] = {}

    def timed(name: str, fn):
        started = time.monotonic()
        value = fn()
        timings[name] = round(time.monotonic() - started, 3)
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
    result["integrity"] = timed("integrity", lambda: integrity(real, synthetic))
    result["settings"] = {"max_rows_per_path": max_rows, "random_state": random_state, "seconds": timings}
    return result


def write_metrics(metrics: dict[str, Any], directory: str | Path) -> Path:
    """Write ``metrics.json`` into ``directory`` (created if needed), atomically."""
    path = Path(directory) / "metrics.json"
    atomic_write_text(path, json.dumps(metrics, indent=2) + "\n")
    return path
