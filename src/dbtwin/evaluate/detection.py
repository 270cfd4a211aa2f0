"""Detection: can a classifier tell real rows from synthetic ones? Accuracy of a gradient-boosted
classifier under 5-fold cross-validation on balanced samples; 0.5 means indistinguishable.

* with aggregation (SyntheRela's C2ST-Agg / DDA): for every parent table, each row also carries its
  number of children, the means of its children's continuous columns and the number of distinct
  values of their categorical columns, per foreign key;
* single-table: each table's own columns only.

Where the classifier with aggregation tells a table apart (accuracy above :data:`GIVEAWAY_ABOVE`),
``giveaways`` names the features it leans on most: the drop in held-out accuracy when one feature's
values are shuffled (permutation importance), so a user sees which column or child aggregate betrays
the twin.

Rows with identical features share a cross-validation fold, so an exact copy of a real row counts as
indistinguishable (a database against itself scores 0.5) instead of misleading the classifier.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, cross_val_score, train_test_split

from dbtwin.database import Database
from dbtwin.evaluate.features import child_aggregates, table_features

log = logging.getLogger(__name__)

#: Aggregated accuracy above which a table's most telling features are reported.
GIVEAWAY_ABOVE = 0.6
#: Features reported per table.
GIVEAWAYS = 3


def _balanced(x_real: np.ndarray, x_syn: np.ndarray, max_rows: int, random_state: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(random_state)
    n = min(len(x_real), len(x_syn), max_rows)
    xr = x_real[rng.choice(len(x_real), n, replace=False)]
    xs = x_syn[rng.choice(len(x_syn), n, replace=False)]
    return np.vstack([xr, xs]), np.r_[np.zeros(n), np.ones(n)]


def giveaways(
    x_real: np.ndarray, x_syn: np.ndarray, names: list[str], max_rows: int, random_state: int
) -> list[dict[str, Any]]:
    """The :data:`GIVEAWAYS` features whose shuffling costs a classifier the most held-out accuracy."""
    x, y = _balanced(x_real, x_syn, max_rows, random_state)
    if len(y) < 40 or x.shape[1] == 0:
        return []
    holes = np.flatnonzero((~np.isfinite(x)).any(axis=0))
    x = _without_missing(x)
    names = list(names) + [f"{names[j]} is missing" for j in holes]
    x_fit, x_test, y_fit, y_test = train_test_split(x, y, test_size=0.3, stratify=y, random_state=random_state)
    model = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, random_state=random_state)
    try:
        model.fit(x_fit, y_fit)
        found = permutation_importance(
            model, x_test, y_test, scoring="accuracy", n_repeats=3, random_state=random_state
        )
    except ValueError as exc:  # a diagnosis, never a reason to lose the scores
        log.warning("no giveaways: the classifier could not be fitted (%s)", exc)
        return []
    order = np.argsort(-found.importances_mean)[:GIVEAWAYS]
    return [
        {"feature": names[j], "importance": round(float(found.importances_mean[j]), 4)}
        for j in order
        if found.importances_mean[j] > 0
    ]


def classifier_accuracy(x_real: np.ndarray, x_syn: np.ndarray, max_rows: int, random_state: int) -> float:
    """Mean 5-fold accuracy on a balanced sample of at most ``max_rows`` rows per class."""
    if min(len(x_real), len(x_syn), max_rows) < 10 or x_real.shape[1] == 0:
        return float("nan")
    x, y = _balanced(x_real, x_syn, max_rows, random_state)
    x = _without_missing(x)
    # identical rows share a fold: a real row and its exact synthetic copy are then judged together
    # (a coin flip) instead of one teaching the classifier the opposite label of the other
    groups = pd.util.hash_pandas_object(pd.DataFrame(x), index=False).to_numpy()
    model = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, random_state=random_state)
    if len(np.unique(groups)) < 10:  # a handful of distinct rows: folds cannot be grouped
        folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=random_state)
        return float(np.mean(cross_val_score(model, x, y, cv=folds, scoring="accuracy")))
    folds = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=random_state)
    return float(np.mean(cross_val_score(model, x, y, groups=groups, cv=folds, scoring="accuracy")))


def _without_missing(x: np.ndarray) -> np.ndarray:
    """Missing values as an indicator column plus the column's median (0 when all are missing):
    the classifier's binning fails on a feature that a fold sees only as missing."""
    missing = ~np.isfinite(x)
    holes = np.flatnonzero(missing.any(axis=0))
    if not len(holes):
        return x
    x = x.copy()
    for j in holes:
        present = x[~missing[:, j], j]
        x[missing[:, j], j] = np.median(present) if len(present) else 0.0
    return np.hstack([x, missing[:, holes].astype(np.float64)])


def detection(real: Database, synthetic: Database, max_rows: int = 5_000, random_state: int = 0) -> dict[str, Any]:
    """Accuracies per table, with aggregation (parent tables) and single-table (every table)."""
    aggregated, single, telling = {}, {}, {}
    for table in real.schema.table_names:
        x_real, x_syn, names = table_features(real, synthetic, table)
        acc = classifier_accuracy(x_real, x_syn, max_rows, random_state)
        if np.isfinite(acc):
            single[table] = round(acc, 6)
        if real.schema.foreign_keys_to(table):
            agg_real, agg_names = child_aggregates(real, table)
            agg_syn, _ = child_aggregates(synthetic, table)
            both_real, both_syn = np.hstack([x_real, agg_real]), np.hstack([x_syn, agg_syn])
            acc = classifier_accuracy(both_real, both_syn, max_rows, random_state)
            if np.isfinite(acc):
                aggregated[table] = round(acc, 6)
            if np.isfinite(acc) and acc > GIVEAWAY_ABOVE:
                telling[table] = giveaways(both_real, both_syn, names + agg_names, max_rows, random_state)
    return {
        "score": max(aggregated.values()) if aggregated else None,
        "mean": round(float(np.mean(list(aggregated.values()))), 6) if aggregated else None,
        "details": aggregated,
        "single_table": {"max": max(single.values()) if single else None, "details": single},
        "giveaways": telling,
        "settings": {"max_rows_per_class": max_rows, "folds": 5, "classifier": "HistGradientBoostingClassifier"},
    }
