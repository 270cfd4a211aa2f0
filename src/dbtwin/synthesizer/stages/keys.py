"""The keys stage: the shapes of generated primary keys (their formats and steps), filled in every
sample after the values (:mod:`dbtwin.synthesizer.keys`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from dbtwin.config import SynthesizerConfig
from dbtwin.schema.dtypes import to_storage
from dbtwin.schema.model import Schema
from dbtwin.synthesizer.keys import ShardKeys, fresh_keys, key_formats, key_steps, make_unique, surrogate_key
from dbtwin.synthesizer.stages.base import CONFIG_FILE, Prepared, Stages, mapping, reading


class KeysStage:
    """Per table, the format of its surrogate key (``formats``) and the steps between its key values
    (``steps``), on the database of ``schema``."""

    name: ClassVar[str] = "keys"

    def __init__(self, schema: Schema | None = None, formats: dict | None = None, steps: dict | None = None) -> None:
        self.schema = schema
        self.formats: dict[str, dict[str, Any]] = formats or {}
        self.steps: dict[str, dict[str, float]] = steps or {}

    def fit(self, prepared: Prepared, config: SynthesizerConfig, stages: Stages) -> KeysStage:
        self.schema = prepared.schema
        self.formats, self.steps = key_formats(prepared.db), key_steps(prepared.db)
        return self

    def fill_surrogate(
        self, table: str, frame: pd.DataFrame, rng: np.random.Generator, shard: ShardKeys | None = None
    ) -> None:
        """Fresh values of ``table``'s surrogate key (a key nothing else in the row determines), in place;
        in the ``shard``'s part of the keys of a sample in shards."""
        assert self.schema is not None
        key = surrogate_key(self.schema, table)
        if key is None:
            return
        dtype = self.schema.table(table).column(key).dtype
        shard = shard or ShardKeys()
        after = shard.after.get(table, 0)
        frame[key] = fresh_keys(dtype, len(frame), self.formats.get(table), rng, after, shard.part())

    def unique(self, table: str, frame: pd.DataFrame) -> pd.DataFrame:
        """``frame`` with its primary key made unique where the key's steps say how."""
        steps = self.steps.get(table)
        if not steps:
            return frame
        assert self.schema is not None
        t = self.schema.table(table)
        for col in steps:
            frame[col] = to_storage(frame[col], t.column(col).dtype)
        return make_unique(frame, t.primary_key, steps, {c.name: c.dtype for c in t.columns})

    def save(self, directory: Path) -> dict[str, Any]:
        return {"key_formats": self.formats, "key_steps": self.steps}

    @classmethod
    def load(cls, directory: Path, fields: dict[str, Any], stages: Stages) -> KeysStage:
        assert stages.schema is not None
        file = directory / CONFIG_FILE
        with reading(file, "key_formats"):
            formats = mapping(fields, "key_formats")
        with reading(file, "key_steps"):
            steps = mapping(fields, "key_steps")
        return cls(stages.schema, formats, steps)
