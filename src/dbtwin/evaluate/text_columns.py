"""Single-column detection of text: can a classifier tell a real value of one string column from a
synthetic one by how it is written?

Every string column outside the keys whose real values have a semantic type (names, e-mails,
addresses, free text, codes: :func:`dbtwin.semantic.plan.semantic_types`) is scored. Each value
becomes features of its writing (length, words, the shares of letters, capitals, digits, spaces,
punctuation and non-ASCII characters, word length, and hashed character pairs); a gradient-boosted
classifier is cross-validated on up to ``max_rows`` real and as many synthetic values (folds by
value: the same text is never both fitted and scored), and the column's figure is its ROC AUC (0.5:
the values cannot be told apart; 1: every one can).

Alongside: every generated personal value (one the real column does not hold) is checked against its
type (:mod:`dbtwin.semantic.checks`): the share of e-mails that parse, of phones with 7 to 15
digits, of names found in Faker's name lists, and so on.
"""

from __future__ import annotations

import itertools
import zlib
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedGroupKFold, cross_val_score

from dbtwin.database import Database
from dbtwin.semantic.checks import (
    is_card_number,
    is_email,
    is_first_name,
    is_full_name,
    is_iban,
    is_ip_address,
    is_last_name,
    is_phone,
    is_url,
)
from dbtwin.semantic.detect import SemanticType
from dbtwin.semantic.plan import semantic_types

_BUCKETS = 64
_FORMAT_CHECKS = {
    SemanticType.EMAIL: is_email,
    SemanticType.PHONE: is_phone,
    SemanticType.URL: is_url,
    SemanticType.IP_ADDRESS: is_ip_address,
    SemanticType.IBAN: is_iban,
    SemanticType.CARD_NUMBER: is_card_number,
    SemanticType.FIRST_NAME: is_first_name,
    SemanticType.LAST_NAME: is_last_name,
    SemanticType.FULL_NAME: is_full_name,
}


def text_features(values: list[str]) -> np.ndarray:
    """How each value is written, as numbers."""
    rows = []
    for v in values:
        n = max(len(v), 1)
        words = v.split()
        pairs = np.zeros(_BUCKETS)
        for a, b in itertools.pairwise(v):
            pairs[zlib.crc32((a + b).encode()) % _BUCKETS] += 1
        rows.append(
            [
                len(v),
                len(words),
                sum(c.isalpha() for c in v) / n,
                sum(c.isupper() for c in v) / n,
                sum(c.isdigit() for c in v) / n,
                sum(c.isspace() for c in v) / n,
                sum(not c.isalnum() and not c.isspace() for c in v) / n,
                sum(ord(c) > 127 for c in v) / n,
                np.mean([len(w) for w in words]) if words else 0.0,
                float(v[:1].isupper()),
                *(pairs / n),
            ]
        )
    return np.asarray(rows, dtype=np.float64).reshape(len(values), 10 + _BUCKETS)


def column_auc(real: list[str], synthetic: list[str], max_rows: int = 2_000, random_state: int = 0) -> float | None:
    """Cross-validated ROC AUC of telling ``real`` from ``synthetic`` values (None with too few)."""
    n = min(len(real), len(synthetic), max_rows)
    if n < 20:
        return None
    rng = np.random.default_rng(random_state)
    a = [real[i] for i in rng.choice(len(real), n, replace=False)]
    b = [synthetic[i] for i in rng.choice(len(synthetic), n, replace=False)]
    x = text_features(a + b)
    y = np.r_[np.zeros(n), np.ones(n)]
    model = HistGradientBoostingClassifier(max_iter=60, learning_rate=0.1, random_state=random_state)
    # one value never in both the fitted and the scored folds: a value repeated on many rows (a city
    # of many invoices) would otherwise be told by heart, not by how it is written
    groups = np.unique(np.array(a + b, dtype=object).astype(str), return_inverse=True)[1]
    folds = StratifiedGroupKFold(n_splits=3, shuffle=True, random_state=random_state)
    auc = float(np.mean(cross_val_score(model, x, y, cv=folds, scoring="roc_auc", groups=groups)))
    return max(auc, 0.5)


def text_detection(
    real: Database, synthetic: Database, max_rows: int = 2_000, random_state: int = 0, exempt: list[str] = ()
) -> dict[str, Any]:
    """Per typed string column: its semantic type, single-column detection AUC and, for types with a
    format, the share of synthetic values that pass it; overall the largest AUC and lowest share."""
    details: dict[str, Any] = {}
    for table, columns in semantic_types(real.schema, real, list(exempt)).items():
        if table not in synthetic.tables:
            continue
        for column, semantic in columns.items():
            if semantic == SemanticType.NONE:
                continue
            ours = _strings(synthetic[table][column], max_rows)
            theirs = _strings(real[table][column], max_rows)
            entry: dict[str, Any] = {
                "semantic": semantic.value,
                "auc": _rounded(column_auc(theirs, ours, max_rows, random_state)),
            }
            check = _FORMAT_CHECKS.get(semantic)
            seen = set(real[table][column].dropna().astype(str))
            generated = [v for v in ours if v not in seen]
            if check is not None and generated:
                entry["generated"] = len(generated)
                entry["valid_share"] = round(sum(map(check, generated)) / len(generated), 6)
            details[f"{table}.{column}"] = entry
    aucs = [d["auc"] for d in details.values() if d["auc"] is not None]
    valid = [d["valid_share"] for d in details.values() if "valid_share" in d]
    return {
        "max_auc": max(aucs) if aucs else None,
        "mean_auc": round(float(np.mean(aucs)), 6) if aucs else None,
        "min_valid_share": min(valid) if valid else None,
        "details": details,
        "settings": {"max_values_per_side": max_rows, "classifier": "HistGradientBoosting, 3-fold ROC AUC"},
    }


def _strings(series: pd.Series, max_rows: int) -> list[str]:
    values = series.dropna().to_numpy(dtype=object)
    if len(values) > max_rows * 5:
        values = values[np.random.default_rng(0).choice(len(values), max_rows * 5, replace=False)]
    return [str(v) for v in values]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 6)
