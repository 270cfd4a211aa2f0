"""Per-column encoding of table rows into model inputs.

* integers, floats, booleans and datetimes (in days): standardised numbers, a missing value as 0
  plus a missing-indicator column, and clipped to the range seen when fitting (as a tree's outer
  leaves take any value beyond them); columns with more than two distinct values also get the code of
  their quantile bin (up to ``num_bins``), embedded like a category, so that a neural model can
  single out narrow ranges (a plane's seat count, a flight's hour) as a tree would;
* categoricals: integer codes of the ``max_categories`` most frequent values, 0 for missing or rare;
* text: MiniLM sentence embeddings (:mod:`dbtwin.predict.text`), or left out (``use_text=False``).

Keys and id columns carry no attributes and are left out. The encoding is fitted once on a database,
optionally on only some of its rows (the predictor fits on the rows known before its validation
period, so that statistics, bins and vocabularies hold nothing from the future, and values that only
the future holds, such as a later month, fall into the outermost bins that training did see), and
stored as JSON, so a saved model encodes another database (the real one, for RDL utility) the
same way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dbtwin.database import Database
from dbtwin.evaluate.features import numeric_column
from dbtwin.predict.task import EntityTask
from dbtwin.predict.text import DIM, TextEmbedder
from dbtwin.predict.times import calendar_columns, known_before, row_times
from dbtwin.schema.model import ColumnKind

log = logging.getLogger(__name__)

NUMERIC = {ColumnKind.INTEGER, ColumnKind.FLOAT, ColumnKind.BOOLEAN, ColumnKind.DATETIME}


@dataclass
class TableEncoding:
    """How one table's columns are encoded."""

    numeric: list[str] = field(default_factory=list)
    means: list[float] = field(default_factory=list)
    scales: list[float] = field(default_factory=list)
    lows: list[float] = field(default_factory=list)
    highs: list[float] = field(default_factory=list)
    with_missing: list[str] = field(default_factory=list)
    categorical: list[str] = field(default_factory=list)
    categories: list[list[str]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    binned: list[str] = field(default_factory=list)
    bin_edges: list[list[float]] = field(default_factory=list)

    @property
    def num_numeric(self) -> int:
        return len(self.numeric) + len(self.with_missing)

    @property
    def cardinalities(self) -> list[int]:
        """Category counts of the code columns: the categoricals, then the quantile bins."""
        return [len(c) for c in self.categories] + [len(e) + 1 for e in self.bin_edges]

    @property
    def text_dim(self) -> int:
        return DIM * len(self.text)


@dataclass
class TableInputs:
    """Encoded rows of one table: ``numeric`` (n, p) float32, ``codes`` (n, c) int64 (categoricals,
    then quantile bins), ``text`` (n, d) float32."""

    numeric: np.ndarray
    codes: np.ndarray
    text: np.ndarray


class RowEncoder:
    """Fit per-table encodings on a database, then turn any database of the same schema into arrays."""

    def __init__(
        self,
        max_categories: int = 64,
        use_text: bool = True,
        embedder: TextEmbedder | None = None,
        num_bins: int = 0,
    ) -> None:
        self.max_categories = max_categories
        self.num_bins = num_bins
        self.use_text = use_text
        self.embedder = embedder if embedder is not None else TextEmbedder()
        self.tables: dict[str, TableEncoding] = {}

    def fit(
        self,
        db: Database,
        exclude: Mapping[str, Sequence[str]] | None = None,
        rows: Mapping[str, np.ndarray] | None = None,
    ) -> RowEncoder:
        """Fit on ``db``; ``exclude`` names, per table, columns to leave out; ``rows`` gives, per table,
        a boolean mask of the rows to fit on (tables left out: all rows)."""
        self.tables = {}
        for name, table in db.schema.tables.items():
            keys = set(db.schema.key_columns(name)) | set((exclude or {}).get(name, ()))
            enc = TableEncoding()
            frame = db[name]
            if rows is not None and name in rows:
                mask = np.asarray(rows[name], dtype=bool)
                if len(mask) != len(frame):
                    raise ValueError(f"rows mask of table '{name}' has {len(mask)} values for {len(frame)} rows")
                frame = frame[mask]
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
                    enc.lows.append(float(finite.min()))
                    enc.highs.append(float(finite.max()))
                    if len(finite) < len(values):
                        enc.with_missing.append(col.name)
                    edges = quantile_edges(finite, self.num_bins)
                    if len(edges):
                        enc.binned.append(col.name)
                        enc.bin_edges.append(edges)
                elif col.kind == ColumnKind.CATEGORICAL:
                    counts = frame[col.name].dropna().astype(str).value_counts()
                    if len(counts):
                        enc.categorical.append(col.name)
                        enc.categories.append(counts.index[: self.max_categories].tolist())
                elif col.kind == ColumnKind.TEXT and self.use_text:
                    enc.text.append(col.name)
            self.tables[name] = enc
        return self

    def fit_task(self, db: Database, task: EntityTask) -> RowEncoder:
        """Fit for ``task``: on the rows known before its validation period, without its dropped
        columns nor the calendar columns of timed tables (:func:`dbtwin.predict.times.calendar_columns`)."""
        times = row_times(db, task.row_times)
        calendar = calendar_columns(db, times)
        for table, columns in calendar.items():
            log.info("table '%s': calendar column(s) %s left out (the age encoding tells time)", table, columns)
        return self.fit(db, task.dropping(calendar).drop_columns, rows=known_before(times, task.val_timestamp))

    def transform(self, db: Database) -> dict[str, TableInputs]:
        return {name: self.transform_table(db, name) for name in self.tables}

    def transform_table(self, db: Database, name: str) -> TableInputs:
        enc, frame = self.tables[name], db[name]
        n = len(frame)
        numeric = np.zeros((n, enc.num_numeric), dtype=np.float32)
        for j, (col, mean, scale) in enumerate(zip(enc.numeric, enc.means, enc.scales, strict=True)):
            values = numeric_column(frame[col])
            if enc.lows:  # encodings saved before ranges were kept are only clipped at 10 deviations
                values = np.clip(values, enc.lows[j], enc.highs[j])
            numeric[:, j] = np.nan_to_num(np.clip((values - mean) / scale, -10, 10), nan=0.0)
        for j, col in enumerate(enc.with_missing):
            numeric[:, len(enc.numeric) + j] = np.isnan(numeric_column(frame[col]))
        codes = np.zeros((n, len(enc.categorical) + len(enc.binned)), dtype=np.int64)
        for j, (col, cats) in enumerate(zip(enc.categorical, enc.categories, strict=True)):
            lookup = pd.Index(cats)
            values = frame[col].astype(object).where(frame[col].notna(), None)
            pos = lookup.get_indexer(values.map(lambda v: None if v is None else str(v)))
            codes[:, j] = pos + 1  # 0: missing or rare
        for j, (col, edges) in enumerate(zip(enc.binned, enc.bin_edges, strict=True)):
            values = numeric_column(frame[col])
            bins = np.searchsorted(np.asarray(edges), values, side="right") + 1
            codes[:, len(enc.categorical) + j] = np.where(np.isnan(values), 0, bins)  # 0: missing
        text = np.zeros((n, enc.text_dim), dtype=np.float32)
        for j, col in enumerate(enc.text):
            text[:, j * DIM : (j + 1) * DIM] = self.embedder.embed_column(frame[col], f"{name}.{col}")
        return TableInputs(numeric, codes, text)

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_categories": self.max_categories,
            "use_text": self.use_text,
            "num_bins": self.num_bins,
            "tables": {t: asdict(e) for t, e in self.tables.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], embedder: TextEmbedder | None = None) -> RowEncoder:
        enc = cls(data["max_categories"], data["use_text"], embedder, data.get("num_bins", 0))
        enc.tables = {t: TableEncoding(**e) for t, e in data["tables"].items()}
        return enc


def quantile_edges(finite: np.ndarray, num_bins: int) -> list[float]:
    """Inner edges of up to ``num_bins`` bins of about equal mass over ``finite`` values (bin ``k``
    holds the values between ``edges[k - 1]`` and ``edges[k]``); every edge lies halfway between two
    neighbouring values, so a value holding much of the mass (the zeros of a delay) gets a bin of its
    own and the rest is split among the bins left. None for fewer than three distinct values."""
    if num_bins < 2 or len(finite) == 0:
        return []
    distinct, counts = np.unique(finite, return_counts=True)
    if len(distinct) <= 2:
        return []
    if len(distinct) <= num_bins:  # one bin per value
        return ((distinct[1:] + distinct[:-1]) / 2).tolist()
    cumulative = np.cumsum(counts)
    edges, done = [], 0
    for left in range(num_bins, 1, -1):  # close the next bin at an equal share of the mass still unbinned
        last = int(np.searchsorted(cumulative, done + (cumulative[-1] - done) / left))
        if last >= len(distinct) - 1:
            break
        edges.append(float((distinct[last] + distinct[last + 1]) / 2))
        done = cumulative[last]
    return edges
