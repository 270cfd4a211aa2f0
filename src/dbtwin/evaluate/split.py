"""Hold-out split of a real database by entity: whole families stay on one side.

A *split table* (an entity such as customers or players) has its rows drawn at random into the
hold-out. Every table below it follows its parent: a row goes where the row it references in an
already split table went (the first such foreign key decides; rows whose key there is NULL are drawn
at random with the same fraction). Tables not below the split table (lookups, other parents) are
context: both sides keep all of them. Rows left referencing a row on the other side (a child of two
split parents) are dropped, then their own children, so each side is a valid database.

The generator trains on ``train``; privacy and ML efficacy compare it with ``holdout`` on the split
tables only, since the context tables are the same on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dbtwin.database import Database
from dbtwin.validate import resolve_orphans

#: A split table needs at least this many rows for a hold-out to make sense.
MIN_SPLIT_ROWS = 50


@dataclass
class HoldoutSplit:
    """The two sides of a split and what decided them."""

    train: Database
    holdout: Database
    table: str
    split_tables: list[str]
    dropped_rows: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict:
        return {
            "table": self.table,
            "split_tables": self.split_tables,
            "train_rows": {t: self.train.num_rows(t) for t in self.split_tables},
            "holdout_rows": {t: self.holdout.num_rows(t) for t in self.split_tables},
            "dropped_rows": self.dropped_rows,
        }


def _labels(db: Database, table: str, fraction: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """True = hold-out, per row of each table below ``table`` (and ``table`` itself)."""
    schema = db.schema
    labels = {table: rng.random(db.num_rows(table)) < fraction}
    for child in schema.topological_order():
        if child in labels:
            continue
        fks = [fk for fk in schema.foreign_keys_of(child) if fk.parent in labels and not fk.is_self_reference]
        if not fks:
            continue
        fk = fks[0]
        parent = db[fk.parent][list(fk.parent_columns)].copy()
        parent["__label"] = labels[fk.parent]
        keys = db[child][list(fk.columns)].copy()
        keys.columns = list(fk.parent_columns)
        merged = keys.merge(parent, on=list(fk.parent_columns), how="left")
        drawn = rng.random(len(merged)) < fraction
        labels[child] = merged["__label"].astype("boolean").fillna(pd.Series(drawn, dtype="boolean")).to_numpy(bool)
    return labels


def _descendant_rows(db: Database, table: str) -> int:
    order = db.schema.topological_order()
    below = {table}
    for t in order:
        if any(fk.parent in below and not fk.is_self_reference for fk in db.schema.foreign_keys_of(t)):
            below.add(t)
    return sum(db.num_rows(t) for t in below)


def default_split_table(db: Database) -> str:
    """The table with at least :data:`MIN_SPLIT_ROWS` rows that has the most rows below it."""
    candidates = [t for t in db.schema.table_names if db.num_rows(t) >= MIN_SPLIT_ROWS]
    if not candidates:
        raise ValueError(f"no table has {MIN_SPLIT_ROWS} rows or more to split a hold-out by")
    return max(candidates, key=lambda t: (_descendant_rows(db, t), db.num_rows(t)))


def holdout_split(
    db: Database, fraction: float = 0.2, table: str | None = None, random_state: int | None = 0
) -> HoldoutSplit:
    """Split ``db`` into training and hold-out databases by the entities of ``table``
    (by default :func:`default_split_table`)."""
    if not 0 < fraction < 1:
        raise ValueError("the hold-out fraction must lie strictly between 0 and 1")
    table = table or default_split_table(db)
    db.schema.table(table)  # clear error for an unknown name
    rng = np.random.default_rng(random_state)
    labels = _labels(db, table, fraction, rng)
    sides = []
    dropped: dict[str, int] = {}
    for side in (False, True):
        frames = {
            t: (db[t][labels[t] == side].reset_index(drop=True) if t in labels else db[t])
            for t in db.schema.table_names
        }
        part = Database.from_frames(frames, db.schema)
        before = {t: part.num_rows(t) for t in labels}
        part, _ = resolve_orphans(part, "drop")
        for t in labels:
            dropped[t] = dropped.get(t, 0) + before[t] - part.num_rows(t)
        sides.append(part)
    split_tables = [t for t in db.schema.topological_order() if t in labels]
    return HoldoutSplit(sides[0], sides[1], table, split_tables, {t: n for t, n in dropped.items() if n})
