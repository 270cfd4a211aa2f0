"""LightGBM baselines for entity tasks.

* ``entity``: the entity table's own columns (RelBench's LightGBM baseline);
* ``aggregated``: those plus, for every table reached within two hops of the entity through rows
  known at the example's moment (the same temporal sampler as the GNN, so no future row leaks in),
  the number of rows reached, the mean and maximum of each numeric column, and for timed tables the
  latest row's columns and its age in days: the hand-built flat table a data scientist would make.

Both encode columns as the GNN does (:meth:`RowEncoder.fit_task`) and stop early on the validation
examples; text columns are not used (LightGBM takes numbers).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd

from dbtwin.database import Database
from dbtwin.predict.batches import GraphInputs
from dbtwin.predict.encoder import RowEncoder
from dbtwin.predict.metrics import score
from dbtwin.predict.task import SPLITS, EntityTask, TaskExamples, TaskType
from dbtwin.predict.text import TextEmbedder
from dbtwin.predict.times import NANOS_PER_DAY

BASELINES = ("entity", "aggregated")


def entity_features(inputs: GraphInputs, encoder: RowEncoder, examples: TaskExamples) -> pd.DataFrame:
    """The entity table's encoded numbers and category codes, one row per example."""
    table = inputs.entity_table
    enc, cols = encoder.tables[table], inputs.tables[table]
    frame = pd.DataFrame(cols.numeric[examples.entity_rows], columns=_numeric_names(table, enc))
    for j, name in enumerate(enc.categorical):
        frame[f"{table}.{name}"] = pd.Categorical(cols.codes[examples.entity_rows, j])
    return frame


def aggregated_features(
    inputs: GraphInputs, encoder: RowEncoder, examples: TaskExamples, chunk: int = 2_000
) -> pd.DataFrame:
    """Entity features plus aggregates over the rows reached within the sampler's hops."""
    parts = []
    for start in range(0, len(examples), chunk):
        sl = slice(start, start + chunk)
        rows, times = examples.entity_rows[sl], examples.times[sl].astype("datetime64[ns]").astype(np.int64)
        sub = inputs.sampler.sample({inputs.entity_table: rows}, {inputs.entity_table: times}, random_state=0)
        blocks = []
        for table, nodes in sub.nodes.items():
            if table == inputs.entity_table:
                continue
            blocks.append(_table_aggregates(inputs, encoder, table, nodes, sub.batch[table], len(rows), times))
        parts.append(pd.concat(blocks, axis=1) if blocks else pd.DataFrame(index=range(len(rows))))
    aggregates = pd.concat(parts, ignore_index=True)
    return pd.concat([entity_features(inputs, encoder, examples), aggregates], axis=1)


def _table_aggregates(
    inputs: GraphInputs,
    encoder: RowEncoder,
    table: str,
    nodes: np.ndarray,
    batch: np.ndarray,
    num_examples: int,
    moments: np.ndarray,
) -> pd.DataFrame:
    enc, cols = encoder.tables[table], inputs.tables[table]
    names = _numeric_names(table, enc)
    index = pd.RangeIndex(num_examples)
    out = {f"{table}.count": np.bincount(batch, minlength=num_examples).astype(np.float64)}
    if names:
        values = pd.DataFrame(cols.numeric[nodes], columns=names)
        grouped = values.groupby(batch)
        for how in ("mean", "max"):
            agg = grouped.agg(how).reindex(index)
            out.update({f"{n}.{how}": agg[n].to_numpy() for n in names})
    if table in inputs.times:
        node_times = inputs.times[table][nodes]
        order = np.lexsort((node_times, batch))
        last = np.r_[batch[order][1:] != batch[order][:-1], True] if len(order) else np.zeros(0, bool)
        latest, owners = nodes[order][last], batch[order][last]
        age = np.full(num_examples, np.nan)
        age[owners] = (moments[owners] - inputs.times[table][latest]) / NANOS_PER_DAY
        out[f"{table}.latest.age_days"] = age
        for j, n in enumerate(names):
            column = np.full(num_examples, np.nan)
            column[owners] = cols.numeric[latest, j]
            out[f"{n}.latest"] = column
        for j, c in enumerate(enc.categorical):
            column = np.zeros(num_examples, dtype=np.int64)
            column[owners] = cols.codes[latest, j]
            out[f"{table}.{c}.latest"] = pd.Categorical(column)
    return pd.DataFrame(out)


def _numeric_names(table: str, enc) -> list[str]:
    return [f"{table}.{c}" for c in enc.numeric] + [f"{table}.{c}.missing" for c in enc.with_missing]


def run_baseline(
    db: Database,
    task: EntityTask,
    kind: str,
    examples: TaskExamples | None = None,
    random_state: int = 0,
    num_threads: int = 0,
) -> dict[str, Any]:
    """Fit the ``kind`` baseline on the training examples; scores per split and seconds."""
    import lightgbm as lgb

    if kind not in BASELINES:
        raise ValueError(f"unknown baseline '{kind}'; choose from {BASELINES}")
    started = time.monotonic()
    examples = examples if examples is not None else task.examples(db)
    encoder = RowEncoder(use_text=False, embedder=TextEmbedder()).fit_task(db, task)
    hops_caps = [1000, 50]
    inputs = GraphInputs(db, encoder, task.entity_table, task.row_times, num_hops=2, max_neighbors=hops_caps)
    build = entity_features if kind == "entity" else aggregated_features
    features = build(inputs, encoder, examples)
    params: dict[str, Any] = {
        "n_estimators": 2000,
        "learning_rate": 0.05,
        "num_leaves": 31,
        "min_child_samples": 20,
        "subsample": 0.8,
        "subsample_freq": 1,
        "colsample_bytree": 0.8,
        "random_state": random_state,
        "deterministic": True,
        "num_threads": num_threads,
        "verbose": -1,
    }
    if task.task_type == TaskType.REGRESSION:
        model = lgb.LGBMRegressor(objective="l1", **params)
    else:
        model = lgb.LGBMClassifier(**params)
    train, val = examples.split == "train", examples.split == "val"
    fit_args: dict[str, Any] = {}
    if val.any():
        fit_args = {
            "eval_X": (features[val],),
            "eval_y": (examples.labels[val],),
            "callbacks": [lgb.early_stopping(50, verbose=False)],
        }
    model.fit(features[train], examples.labels[train], **fit_args)
    scores = {}
    for split in SPLITS:
        mask = examples.split == split
        if not mask.any():
            continue
        if task.task_type == TaskType.REGRESSION:
            predictions = model.predict(features[mask])
        elif task.task_type == TaskType.BINARY:
            predictions = model.predict_proba(features[mask])[:, 1]
        else:
            predictions = _class_probabilities(model, features[mask], len(examples.classes))
        scores[split] = score(task.task_type, examples.labels[mask], predictions)
    return {
        "baseline": kind,
        "features": features.shape[1],
        "trees": int(model.best_iteration_ or model.n_estimators),
        "seconds": round(time.monotonic() - started, 2),
        "scores": scores,
    }


def _class_probabilities(model, features: pd.DataFrame, num_classes: int) -> np.ndarray:
    """Probabilities for every class index, including classes the training split never saw."""
    out = np.zeros((len(features), num_classes))
    out[:, model.classes_.astype(int)] = model.predict_proba(features)
    return out
