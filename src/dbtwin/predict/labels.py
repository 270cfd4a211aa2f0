"""A task's examples as tables: per split, one row per example with the entity's key, the moment the
prediction is made and the label, in the form RelBench's task tables have (``dbtwin predict labels``),
so that anyone can compare them with another implementation's."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dbtwin.atomic import atomic_directory
from dbtwin.database import Database
from dbtwin.predict.task import SPLITS, EntityTask, TaskType


def label_tables(task: EntityTask, db: Database) -> dict[str, pd.DataFrame]:
    """Per split, the examples of ``task`` on ``db``: ``entity`` (the entity's primary-key value),
    ``timestamp`` and ``label`` (0 or 1 for a binary task, a multiclass label as its value, not its
    class index), ordered by timestamp then entity."""
    examples = task.examples(db)
    keys = db[task.entity_table][db.schema.table(task.entity_table).primary_key[0]].reset_index(drop=True)
    out = {}
    for split in SPLITS:
        part = examples.subset(split)
        labels = part.labels.astype("int64") if task.task_type == TaskType.BINARY else part.labels
        if examples.classes:
            labels = [examples.classes[int(i)] for i in labels]
        frame = pd.DataFrame(
            {"entity": keys.iloc[part.entity_rows].to_numpy(), "timestamp": part.times, "label": labels}
        )
        out[split] = frame.sort_values(["timestamp", "entity"], kind="stable").reset_index(drop=True)
    return out


def write_label_tables(tables: dict[str, pd.DataFrame], directory: Path, replace: bool = False) -> None:
    """``train.parquet``, ``val.parquet`` and ``test.parquet`` in ``directory``, written whole or not
    at all; a directory that holds files is refused unless ``replace``."""
    with atomic_directory(directory, replace=replace) as tmp:
        for split, frame in tables.items():
            frame.to_parquet(tmp / f"{split}.parquet", index=False)


__all__ = ["label_tables", "write_label_tables"]
