"""The kept stage: the real rows of the tables every twin keeps as they are (which, and why:
:mod:`dbtwin.synthesizer.kept`), saved exactly (Parquet: decimals, NaN apart from NULL, every type dbtwin
reads) and put into every sample in place of generated ones (:func:`dbtwin.synthesizer.sampling.assemble`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd

from dbtwin.config import SynthesizerConfig
from dbtwin.database import Database
from dbtwin.io.parquet import read_parquet_file, write_parquet_file
from dbtwin.schema.model import Schema
from dbtwin.synthesizer.stages.base import CONFIG_FILE, Prepared, Stages, mapping, reading

#: How the file of the i-th kept table is named in a model directory (never a user's table name).
_FILE = re.compile(r"kept_\d+\.parquet")


class KeptStage:
    """Each kept table's real rows (``frames``) and why it is kept (``reasons``), of the database of
    ``schema``."""

    name: ClassVar[str] = "kept"

    def __init__(self, schema: Schema | None = None) -> None:
        self.schema = schema
        self.frames: dict[str, pd.DataFrame] = {}
        self.reasons: dict[str, str] = {}

    def fit(self, prepared: Prepared, config: SynthesizerConfig, stages: Stages) -> KeptStage:
        self.schema = prepared.schema
        self.reasons = dict(prepared.kept)
        self.frames = {t: prepared.db[t].reset_index(drop=True) for t in prepared.kept}
        return self

    def save(self, directory: Path) -> dict[str, Any]:
        assert self.schema is not None
        entries = {}
        for i, (table, frame) in enumerate(self.frames.items()):
            file = f"kept_{i}.parquet"
            write_parquet_file(frame, self.schema.table(table), directory / file)
            entries[table] = {"file": file, "why": self.reasons.get(table, "")}
        return {"kept": entries}

    @classmethod
    def load(cls, directory: Path, fields: dict[str, Any], stages: Stages) -> KeptStage:
        stage = cls(stages.schema)
        if "kept" not in fields:
            return stage  # a model saved before kept tables: its lookup tables are decoded, as they were then
        assert stages.schema is not None
        with reading(directory / CONFIG_FILE, "kept"):
            entries = mapping(fields, "kept")
            if set(entries) != set(stages.fixed_tables):
                raise ValueError(f"it names the tables {sorted(entries)}, the model keeps {stages.fixed_tables}")
            raw = {}
            for table, entry in entries.items():
                if not isinstance(entry, dict) or not _FILE.fullmatch(str(entry.get("file"))):
                    raise ValueError(f"table '{table}' has no file of the form kept_N.parquet")
                raw[table] = read_parquet_file(directory / entry["file"], table)
                stage.reasons[table] = str(entry.get("why", ""))
            db = Database.from_frames(raw, stages.schema.subset(list(raw)))
            stage.frames = {t: db[t] for t in stages.fixed_tables}
        return stage
