"""The benchmark's per-run results read back: the scores shown (:data:`QUALITY`), runs grouped by
dataset and method, and their means and spreads over seeds."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dbtwin.bench.methods import METHODS
from dbtwin.bench.suite import REFERENCE_SCORES

#: (label, getter) for the quality table; higher is better except where noted.
QUALITY: list[tuple[str, Callable[[dict], float | None]]] = [
    ("cardinality", lambda m: m["cardinality"]["score"]),
    ("column shapes", lambda m: m["column_shapes"]["score"]),
    ("intra-table trends", lambda m: m["intra_table_trends"]["score"]),
    ("1-hop trends", lambda m: m["inter_table_trends"]["1"]["score"]),
    ("2-hop trends", lambda m: m["inter_table_trends"]["2"]["score"]),
    ("3-hop trends", lambda m: m["inter_table_trends"]["3"]["score"]),
    ("detection, aggregated (max, lower is better)", lambda m: m["detection"]["score"]),
    ("detection, single table (max, lower is better)", lambda m: m["detection"]["single_table"]["max"]),
    (
        "text columns: single-column detection AUC (max, 0.5 ideal)",
        lambda m: m.get("text_columns", {}).get("max_auc"),
    ),
    (
        "text columns: generated values passing their type's check (lowest share)",
        lambda m: m.get("text_columns", {}).get("min_valid_share"),
    ),
    ("exact relations kept (lowest share of rows)", lambda m: m.get("relations", {}).get("score")),
    ("lag-1 autocorrelation gap (max, lower is better)", lambda m: m.get("sequences", {}).get("score")),
    ("ML efficacy (synthetic / real)", lambda m: m.get("utility", {}).get("ratio")),
    ("closer to train than hold-out (0.5 ideal)", lambda m: m.get("privacy", {}).get("share_closer_to_train")),
    ("exact copies (tables not copied whole)", lambda m: m.get("privacy", {}).get("exact_copy_rate")),
    ("exact copies, weighted by rows", lambda m: m.get("privacy", {}).get("exact_copy_rate_weighted")),
    (
        "hold-out rows equal to a training row, weighted",
        lambda m: m.get("privacy", {}).get("holdout_exact_copy_rate_weighted"),
    ),
    (
        "membership-inference AUC (max over tables, 0.5 ideal)",
        lambda m: m.get("privacy", {}).get("membership_inference_auc"),
    ),
    ("rare real values shown (rows)", lambda m: m.get("privacy", {}).get("rare_values_shown")),
    (
        "tables copying more than the hold-out + 0.01",
        lambda m: len(m["privacy"]["over_holdout"]) if "over_holdout" in m.get("privacy", {}) else None,
    ),
    ("foreign-key violations (rows)", lambda m: m["integrity"]["fk_violations"]),
    ("primary-key duplicates (rows)", lambda m: m["integrity"]["pk_duplicates"]),
]
FIDELITY = QUALITY[:6]
#: The reference score each quality row is compared with, and the getter of each reference score.
REFERENCE_LABELS = {label: key for (label, _), key in zip(QUALITY[:5], REFERENCE_SCORES, strict=True)}
REFERENCE_GETTERS = {key: get for (_, get), key in zip(QUALITY[:5], REFERENCE_SCORES, strict=True)}
COST: list[tuple[str, str]] = [
    ("fit s", "fit_seconds"),
    ("sample s", "sample_seconds"),
    ("rows/s sampled", "rows_per_second"),
    ("peak RSS MB", "peak_rss_mb"),
]
#: Goals of the inter-table trends at every hop.
HOP_GOALS = {"chinook": 0.85, "nycflights13_jan": 0.92, "lahman": 0.92}


def load_runs(results: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((results / "runs").glob("*/*.json"))]


def values_of(runs: list[dict], get: Callable[[dict], Any]) -> list[float]:
    out = []
    for r in runs:
        try:
            v = get(r)
        except (KeyError, TypeError):
            v = None
        if v is not None and np.isfinite(v):
            out.append(float(v))
    return out


def mean_of(runs: list[dict], get: Callable[[dict], Any]) -> float | None:
    values = values_of(runs, get)
    return float(np.mean(values)) if values else None


def fmt(values: list[float], digits: int = 3) -> str:
    if not values:
        return "–"
    mean = np.mean(values)
    if len(values) == 1:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def grouped(runs: list[dict]) -> dict[str, dict[str, list[dict]]]:
    groups: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for r in runs:
        groups[r["dataset"]][r["method"]].append(r)
    return groups


def method_order(by_method: dict[str, list[dict]]) -> list[str]:
    return [m for m in METHODS if m in by_method] + sorted(m for m in by_method if m not in METHODS)


def ok(runs: list[dict]) -> list[dict]:
    return [r for r in runs if r["status"] == "ok"]
