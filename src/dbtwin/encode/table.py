"""All of one table's attribute columns as two matrices: normal scores (numerics and datetimes) and
category codes (categoricals, booleans, text, missing flags), and the way back to a DataFrame.

Datetimes become offsets in days from the table's earliest value; a later datetime column of a table
is stored as the difference from the previous complete one, so orderings such as start < end survive
generation. Primary- and foreign-key columns that the structure model fills are left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dbtwin.encode.columns import CategoricalEncoder, ConstantEncoder, NumericEncoder, _json_value
from dbtwin.encode.rare import is_protected
from dbtwin.schema.dtypes import NANOS_PER_DAY, grid_seconds, nan_values, nanoseconds
from dbtwin.schema.model import ColumnKind, StorageType, Table

#: A free-text column keeps at most this many of its frequent values as categories; its other values
#: are written by its text model (:mod:`dbtwin.semantic`). Unbounded, they grow with the data (TPC-H's
#: ``l_comment``: 229 at scale factor 0.01, 176,549 at 1), and so would the denoiser's head and the
#: logits of every step.
MAX_TEXT_CATEGORIES = 1_000


@dataclass
class DatetimeInfo:
    """How one datetime column is stored: offset from ``base`` or difference from ``relative_to``."""

    column: str
    base: str
    relative_to: str | None
    unit: str  # "D", "m" or "s": the resolution values are rounded back to


@dataclass
class TableEncoder:
    """Encoders of one table's attribute columns, in column order within each block."""

    table: str
    numeric: list[NumericEncoder] = field(default_factory=list)
    categorical: list[CategoricalEncoder] = field(default_factory=list)
    constant: list[ConstantEncoder] = field(default_factory=list)
    datetimes: list[DatetimeInfo] = field(default_factory=list)
    #: for each numeric encoder with missing or infinite values, the index of its flag in ``categorical``
    missing_flag: dict[str, int] = field(default_factory=dict)

    @classmethod
    def fit(
        cls,
        table: Table,
        frame: pd.DataFrame,
        structural: set[str],
        text_min_count: int | None = 3,
        rare_categories: bool = True,
    ) -> TableEncoder:
        """Encoders of ``table``'s columns outside ``structural``: text and string ids keep only values
        seen ``text_min_count`` times as categories, and categoricals too with ``rare_categories``
        (``text_min_count=None`` keeps every value: a table copied whole)."""
        enc = cls(table.name)
        constant = {c.name for c in table.columns if c.name not in structural and _is_constant(frame[c.name])}
        offsets = enc._fit_datetimes(table, frame, structural | constant)
        for col in table.columns:
            if col.name in structural:
                continue
            series = frame[col.name]
            present = series.dropna()
            if col.name in constant:
                value = _json_value(present.iloc[0]) if len(present) else None
                if col.dtype == StorageType.DATETIME and value is not None:
                    value = pd.Timestamp(present.iloc[0]).isoformat()
                enc.constant.append(ConstantEncoder(col.name, value))
                continue
            if col.dtype == StorageType.DATETIME:
                enc._add_numeric(NumericEncoder.fit(col.name, offsets[col.name], integer=False))
            elif col.kind in (ColumnKind.INTEGER, ColumnKind.FLOAT) or (
                col.kind == ColumnKind.ID and col.dtype == StorageType.INT64
            ):
                values = series.to_numpy(dtype=np.float64, na_value=np.nan)
                # decimals are rounded to their own digits (whole ones too), never clipped to int64
                integer = col.dtype != StorageType.DECIMAL and (
                    col.dtype == StorageType.INT64 or col.kind == ColumnKind.INTEGER
                )
                enc._add_numeric(NumericEncoder.fit(col.name, values, integer=integer, nan_values=nan_values(series)))
            elif is_protected(col.kind, col.dtype, rare_categories):
                most = MAX_TEXT_CATEGORIES if col.kind == ColumnKind.TEXT else None
                enc.categorical.append(CategoricalEncoder.fit(col.name, series, text_min_count, most))
            else:
                enc.categorical.append(CategoricalEncoder.fit(col.name, series))
        return enc

    # --------------------------------------------------------------------------- datetimes
    def _fit_datetimes(self, table: Table, frame: pd.DataFrame, structural: set[str]) -> dict[str, np.ndarray]:
        columns = [c.name for c in table.columns if c.dtype == StorageType.DATETIME and c.name not in structural]
        if not columns:
            return {}
        base = (
            min(frame[c].min() for c in columns if frame[c].notna().any())
            if any(frame[c].notna().any() for c in columns)
            else pd.Timestamp("1970-01-01")
        )
        previous: str | None = None
        for name in columns:
            self.datetimes.append(DatetimeInfo(name, pd.Timestamp(base).isoformat(), previous, _unit(frame[name])))
            if frame[name].notna().all():
                previous = name
        return self._datetime_offsets(frame)

    def _datetime_offsets(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        out = {}
        for info in self.datetimes:
            values = _days(frame[info.column], pd.Timestamp(info.base))
            if info.relative_to is not None:
                values = values - _days(frame[info.relative_to], pd.Timestamp(info.base))
            out[info.column] = values
        return out

    # --------------------------------------------------------------------------- features
    def _add_numeric(self, encoder: NumericEncoder) -> None:
        self.numeric.append(encoder)
        if encoder.has_flag:
            self.missing_flag[encoder.column] = len(self.categorical)
            codes = list(range(1 + len(encoder.flag_values)))
            self.categorical.append(CategoricalEncoder(f"{encoder.column}.missing", codes))

    @property
    def num_numeric(self) -> int:
        return len(self.numeric)

    @property
    def cardinalities(self) -> list[int]:
        return [c.cardinality for c in self.categorical]

    @property
    def has_features(self) -> bool:
        return bool(self.numeric or self.categorical)

    def transform(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """``(scores float64 [N, num_numeric], codes int64 [N, num_categorical])``."""
        n = len(frame)
        scores = np.zeros((n, len(self.numeric)), dtype=np.float64)
        codes = np.zeros((n, len(self.categorical)), dtype=np.int64)
        offsets = self._datetime_offsets(frame)
        for j, enc in enumerate(self.numeric):
            raw, nan = offsets.get(enc.column), None
            if raw is None:
                raw = frame[enc.column].to_numpy(dtype=np.float64, na_value=np.nan)
                nan = nan_values(frame[enc.column])
            values, missing = enc.transform(raw, nan)
            scores[:, j] = values
            if missing is not None:
                codes[:, self.missing_flag[enc.column]] = missing
        flags = set(self.missing_flag.values())
        for j, enc in enumerate(self.categorical):
            if j not in flags:
                codes[:, j] = enc.transform(frame[enc.column])
        return scores, codes

    def inverse(self, scores: np.ndarray, codes: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
        """The attribute columns (not the structural ones) for the given features."""
        n = scores.shape[0] if scores.ndim == 2 and scores.shape[1] else codes.shape[0]
        columns: dict[str, Any] = {}
        for j, enc in enumerate(self.numeric):
            flag = codes[:, self.missing_flag[enc.column]] if enc.column in self.missing_flag else None
            columns[enc.column] = enc.inverse(scores[:, j].astype(np.float64), flag)
            null = enc.null_rows(flag)
            if null is not None:  # NaN values and NULLs kept apart
                columns[enc.column] = pd.arrays.FloatingArray(columns[enc.column], null)
        flags = set(self.missing_flag.values())
        for j, enc in enumerate(self.categorical):
            if j not in flags:
                columns[enc.column] = enc.inverse(codes[:, j], rng)
        for info in self.datetimes:  # in column order, so a difference's reference is restored first
            days = columns[info.column]
            if info.relative_to is not None:
                days = days + _days(columns[info.relative_to], pd.Timestamp(info.base))
            columns[info.column] = _stamps(days, pd.Timestamp(info.base), info.unit)
        for const in self.constant:
            columns[const.column] = [const.value] * n
        return pd.DataFrame(columns, index=pd.RangeIndex(n))

    # --------------------------------------------------------------------------- persistence
    def to_dict(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "numeric": [e.to_dict() for e in self.numeric],
            "categorical": [e.to_dict() for e in self.categorical],
            "constant": [e.to_dict() for e in self.constant],
            "datetimes": [vars(d) for d in self.datetimes],
            "missing_flag": self.missing_flag,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TableEncoder:
        return cls(
            table=data["table"],
            numeric=[NumericEncoder.from_dict(d) for d in data["numeric"]],
            categorical=[CategoricalEncoder.from_dict(d) for d in data["categorical"]],
            constant=[ConstantEncoder.from_dict(d) for d in data["constant"]],
            datetimes=[DatetimeInfo(**d) for d in data["datetimes"]],
            missing_flag={k: int(v) for k, v in data["missing_flag"].items()},
        )


def _is_constant(series: pd.Series) -> bool:
    """One value on every row (or NULL on every row): kept aside, not modelled."""
    present = series.dropna()
    return present.nunique() <= 1 and not (series.isna().any() and len(present))


def _days(values: Any, base: pd.Timestamp) -> np.ndarray:
    """Days from ``base`` as floats (NaN for NaT); no timedelta64, so spans beyond 292 years work."""
    series = pd.Series(values)
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    return (nanoseconds(series) - float(pd.Timestamp(base).value)) / NANOS_PER_DAY


#: The range of datetime64[ns], a day inside each end so that rounding cannot step out of it.
_FIRST_NANO = float(pd.Timestamp.min.value) + NANOS_PER_DAY
_LAST_NANO = float(pd.Timestamp.max.value) - NANOS_PER_DAY


def _stamps(days: np.ndarray, base: pd.Timestamp, unit: str) -> np.ndarray:
    """Datetimes ``days`` after ``base`` (NaT where NaN), rounded to ``unit``, kept inside datetime64[ns]."""
    days = np.asarray(days, dtype=np.float64)
    missing = ~np.isfinite(days)
    nanos = np.clip(float(pd.Timestamp(base).value) + np.nan_to_num(days) * NANOS_PER_DAY, _FIRST_NANO, _LAST_NANO)
    stamps = pd.Series(nanos.astype(np.int64).view("datetime64[ns]"))
    stamps = stamps.dt.round(unit if unit != "m" else "min").to_numpy()
    stamps[missing] = np.datetime64("NaT")
    return stamps


def _unit(series: pd.Series) -> str:
    """The resolution generated values are rounded to: the real values' grid ("D" for dates, "21600s"
    for 6-hourly readings, "m" for whole minutes, "s" otherwise)."""
    seconds = grid_seconds(series)
    if seconds == 86_400:
        return "D"
    if seconds == 60:
        return "m"
    return f"{seconds}s" if seconds > 1 else "s"
