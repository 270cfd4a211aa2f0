"""Per-column encoding of table rows into model inputs.

* integers, floats, booleans and datetimes (in days): standardised numbers, a missing value as 0
  plus a missing-indicator column;
* categoricals: integer codes of the ``max_categories`` most frequent values, 0 for missing or rare;
* text: MiniLM sentence embeddings (:mod:`dbtwin.predict.text`), or left out (``use_text=False``).

Keys and id columns carry no attributes and are left out. The encoding is fitted once on a database
and stored as JSON, so a saved model encodes another database (the real one, for RDL utility) the
same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dbtwin.database import Database
from dbtwin.evaluate.features import numeric_column
from dbtwin.predict.text import DIM, TextEmbedder
from dbtwin.schema.model import ColumnKind

NUMERIC = {ColumnKind.INTEGER, ColumnKind.FLOAT, ColumnKind.BOOLEAN, ColumnKind.DATETIME}


@dataclass
class TableEncoding:
    """How one table's columns are encoded."""

    numeric: list[str] = field(default_factory=list)
    means: list[float] = field(default_factory=list)
    scales: list[float] = field(default_factory=list)
    with_missing: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    categories: list[list[str]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    @property
    def num_numeric(self) -> int:
        return len(self.numeric) + len(self.with_missing)

    @property
    def cardinalities(self) -> list[int]:
        return [len(c) for c in self.categories]

    @property
    def text_dim(self) -> int:
        return DIM * len(self.text)


@dataclass
class TableInputs:
    """Encoded rows of one table: ``numeric`` (n, p) float32, ``codes`` (n, c) int64, ``text`` (n, d) float32."""

    numeric: np.ndarray
    codes: np.ndarray
    text: np.ndarray


class RowEncoder:
    """Fit per-table encodings on a database, then turn any database of the same schema into arrays."""

    def __init__(self, max_categories: int = 64, use_text: bool = True, embedder: TextEmbedder | None = None) -> None:
        self.max_categories = max_categories
        self.use_text = use_text
        self.embedder = embedder if embedder is not None else TextEmbedder()
        self.tables: dict[str, TableEncoding] = {}

    def fit(self, db: Database, exclude: Mapping[str, Sequence[str]] | None = None) -> RowEncoder:
        """Fit on ``db``; ``exclude`` names, per table, columns to leave out."""
        self.tables = {}
        for name, table in db.schema.tables.items():
            keys = set(db.schema.key_columns(name)) | set((exclude or {}).get(name, ()))
            enc = TableEncoding()
            frame = db[name]
            for col in table.columns:
                if col.name in keys or col.kind == ColumnKind.ID:
                    continue
                if col.kind in NUMERIC:
                    values = numeric_column(frame[col.name])
                    finite = values[np.isfinite(values)]
                    if not len(finite):
                        continue
                    enc.numeric.append(col.name)
                    enc.means.append(float(finite.mean()))
                    enc.scales.append(float(finite.std()) or 1.0)
                    if len(finite) < len(values):
                        enc.with_missing.append(col.name)
                elif col.kind == ColumnKind.CATEGORICAL:
                    counts = frame[col.name].dropna().astype(str).value_counts()
                    if len(counts):
                        enc.categorical.append(col.name)
                        enc.categories.append(counts.index[: self.max_categories].tolist())
                elif col.kind == ColumnKind.TEXT and self.use_text:
                    enc.text.append(col.name)
            self.tables[name] = enc
        return self

    def transform(self, db: Database) -> dict[str, TableInputs]:
        return {name: self.transform_table(db, name) for name in self.tables}

    def transform_table(self, db: Database, name: str) -> TableInputs:
        enc, frame = self.tables[name], db[name]
        n = len(frame)
        numeric = np.zeros((n, enc.num_numeric), dtype=np.float32)
        for j, (col, mean, scale) in enumerate(zip(enc.numeric, enc.means, enc.scales, strict=True)):
            values = (numeric_column(frame[col]) - mean) / scale
            numeric[:, j] = np.nan_to_num(np.clip(values, -10, 10), nan=0.0)
        for j, col in enumerate(enc.with_missing):
            numeric[:, len(enc.numeric) + j] = np.isnan(numeric_column(frame[col]))
        codes = np.zeros((n, len(enc.categorical)), dtype=np.int64)
        for j, (col, cats) in enumerate(zip(enc.categorical, enc.categories, strict=True)):
            lookup = pd.Index(cats)
            values = frame[col].astype(object).where(frame[col].notna(), None)
            pos = lookup.get_indexer(values.map(lambda v: None if v is None else str(v)))
            codes[:, j] = pos + 1  # 0: missing or rare
        text = np.zeros((n, enc.text_dim), dtype=np.float32)
        for j, col in enumerate(enc.text):
            text[:, j * DIM : (j + 1) * DIM] = self.embedder.embed_column(frame[col], f"{name}.{col}")
        return TableInputs(numeric, codes, text)

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_categories": self.max_categories,
            "use_text": self.use_text,
            "tables": {t: asdict(e) for t, e in self.tables.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], embedder: TextEmbedder | None = None) -> RowEncoder:
        enc = cls(data["max_categories"], data["use_text"], embedder)
        enc.tables = {t: TableEncoding(**e) for t, e in data["tables"].items()}
        return enc
