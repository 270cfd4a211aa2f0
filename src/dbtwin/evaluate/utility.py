"""ML efficacy: a model trained on synthetic rows, tested on real hold-out rows, against the same
model trained on the real training rows.

A target is ``table.column``. Its features are the table's other scored columns plus the scored
columns of each parent it references (one hop), so relations count. Categorical targets are scored
by accuracy, continuous ones by R²; models are gradient-boosted trees.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.metrics import accuracy_score, r2_score

from dbtwin.database import Database
from dbtwin.evaluate.features import numeric_column
from dbtwin.evaluate.trends import CONTINUOUS, scored_columns
from dbtwin.schema.model import ColumnKind


def default_targets(db: Database) -> list[str]:
    """The largest table's first categorical with 2 to 20 classes, else its first non-constant
    continuous column."""
    tables = sorted((t for t in db.schema.table_names if scored_columns(db.schema, t)), key=db.num_rows, reverse=True)
    for table in tables[:1]:
        kinds = {c.name: c.kind for c in db.schema.table(table).columns}
        cols = [c for c in scored_columns(db.schema, table) if db[table][c].nunique() >= 2]
        for col in cols:
            if kinds[col] not in CONTINUOUS and db[table][col].nunique() <= 20:
                return [f"{table}.{col}"]
        return [f"{table}.{cols[0]}"] if cols else []
    return []


def _frame(db: Database, table: str) -> pd.DataFrame:
    """The table's scored columns and, prefixed, those of its parents (one hop)."""
    parts = {c: db[table][c].reset_index(drop=True) for c in scored_columns(db.schema, table)}
    for fk in db.schema.foreign_keys_of(table):
        if fk.is_self_reference:
            continue
        pos = db.parent_positions(fk)
        for col in scored_columns(db.schema, fk.parent):
            values = db[fk.parent][col].to_numpy(dtype=object)
            joined = np.full(len(pos), None, dtype=object)
            joined[pos >= 0] = values[pos[pos >= 0]]
            parts[f"{fk.name}:{col}"] = pd.Series(joined)
    return pd.DataFrame(parts)


def _matrix(frames: list[pd.DataFrame], columns: list[str], continuous: set[str]) -> list[np.ndarray]:
    out = [np.zeros((len(f), 0)) for f in frames]
    for col in columns:
        if col in continuous:
            parts = [numeric_column(pd.Series(list(f[col])).infer_objects()) for f in frames]
        else:
            both = pd.concat([f[col].astype(object) for f in frames], ignore_index=True)
            codes, _ = pd.factorize(both.where(both.notna(), "<NULL>").astype(str), sort=True)
            bounds = np.cumsum([0] + [len(f) for f in frames])
            parts = [codes[bounds[i] : bounds[i + 1]].astype(np.float64) for i in range(len(frames))]
        out = [np.hstack([o, p[:, None]]) for o, p in zip(out, parts, strict=True)]
    return out


def utility(
    train: Database, synthetic: Database, holdout: Database, targets: list[str] | None = None, random_state: int = 0
) -> dict[str, Any]:
    """Scores of train-on-synthetic and train-on-real, both tested on the hold-out, and their ratio."""
    targets = targets or default_targets(train)
    details = {}
    for target in targets:
        table, _, column = target.partition(".")
        if table not in train.schema.tables or not train.schema.table(table).has_column(column):
            raise ValueError(f"utility target '{target}' names no column (write it as table.column)")
        kinds = {c.name: c.kind for c in train.schema.table(table).columns}
        frames = [_frame(db, table) for db in (train, synthetic, holdout)]
        features = [c for c in frames[0].columns if c != column]
        continuous = {c for c in features if _is_continuous(train, table, c)}
        x_train, x_syn, x_hold = _matrix(frames, features, continuous)
        classify = kinds[column] not in CONTINUOUS
        if classify:
            (y_train, y_syn, y_hold) = _matrix(frames, [column], set())
        else:
            y_train, y_syn, y_hold = (numeric_column(f[column].infer_objects()) for f in frames)
        y_train, y_syn, y_hold = (np.ravel(y) for y in (y_train, y_syn, y_hold))
        scores = {}
        for name, x, y in (("real", x_train, y_train), ("synthetic", x_syn, y_syn)):
            ok = np.isfinite(y)
            hold_ok = np.isfinite(y_hold)
            seen = np.isfinite(x[ok]).any(axis=0)  # a feature never seen in training is left out
            x, x_test = x[:, seen], x_hold[:, seen]
            if classify:
                model = HistGradientBoostingClassifier(max_iter=150, random_state=random_state)
                model.fit(x[ok], y[ok])
                scores[name] = float(accuracy_score(y_hold[hold_ok], model.predict(x_test[hold_ok])))
            else:
                model = HistGradientBoostingRegressor(max_iter=150, random_state=random_state)
                model.fit(x[ok], y[ok])
                scores[name] = float(r2_score(y_hold[hold_ok], model.predict(x_test[hold_ok])))
        details[target] = {
            "task": "classification (accuracy)" if classify else "regression (R2)",
            "train_on_real": round(scores["real"], 6),
            "train_on_synthetic": round(scores["synthetic"], 6),
            "ratio": round(scores["synthetic"] / scores["real"], 6) if scores["real"] else None,
        }
    ratios = [d["ratio"] for d in details.values() if d["ratio"] is not None]
    return {"ratio": round(float(np.mean(ratios)), 6) if ratios else None, "details": details}


def _is_continuous(db: Database, table: str, feature: str) -> bool:
    if ":" in feature:
        fk_name, col = feature.split(":", 1)
        parent = db.schema.foreign_key(fk_name).parent
        return db.schema.table(parent).column(col).kind in CONTINUOUS
    return (
        db.schema.table(table).column(feature).kind in CONTINUOUS
        or db.schema.table(table).column(feature).kind == ColumnKind.BOOLEAN
    )
