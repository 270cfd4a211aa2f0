"""Key columns of synthetic rows: which columns the structure fills, fresh primary keys in the real
keys' format, and uniqueness of composite keys whose non-foreign-key parts are generated values."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dbtwin.database import Database
from dbtwin.encode.columns import _fill_shape, _shape
from dbtwin.schema.model import Schema, StorageType


def foreign_key_columns(schema: Schema, table: str) -> set[str]:
    return {c for fk in schema.foreign_keys_of(table) for c in fk.columns}


def surrogate_key(schema: Schema, table: str) -> str | None:
    """The single primary-key column that holds no meaning beyond identity (filled with fresh values)."""
    pk = schema.table(table).primary_key
    if len(pk) != 1 or pk[0] in foreign_key_columns(schema, table):
        return None
    return pk[0] if schema.table(table).column(pk[0]).dtype in (StorageType.INT64, StorageType.STRING) else None


def structural_columns(schema: Schema, table: str) -> set[str]:
    """Columns the structure model fills: foreign keys and a surrogate primary key."""
    cols = foreign_key_columns(schema, table)
    key = surrogate_key(schema, table)
    return cols | ({key} if key else set())


def key_formats(db: Database) -> dict[str, dict[str, Any]]:
    """For each surrogate string key: the shapes of the real keys (letters, digits, punctuation)."""
    formats = {}
    for name in db.schema.table_names:
        key = surrogate_key(db.schema, name)
        if key and db.schema.table(name).column(key).dtype == StorageType.STRING:
            shapes = pd.Series([_shape(str(v)) for v in db[name][key].dropna()]).value_counts()
            formats[name] = {
                "column": key,
                "shapes": shapes.index.tolist()[:50],
                "weights": shapes.to_numpy()[:50].tolist(),
            }
    return formats


@dataclass(frozen=True)
class ShardKeys:
    """Where the surrogate keys of shard ``index`` of a sample in ``shards`` lie, so that no two shards
    draw the same one, whichever process draws which shard: integer keys count on after ``after[table]``
    (the rows the earlier shards may hold); a string key is one whose stable hash falls to this shard."""

    index: int = 0
    shards: int = 1
    after: dict[str, int] = field(default_factory=dict)

    def part(self) -> tuple[int, int] | None:
        return (self.index, self.shards) if self.shards > 1 else None


def fresh_keys(
    dtype: StorageType, n: int, fmt: dict[str, Any] | None, rng: np.random.Generator, after: int = 0,
    part: tuple[int, int] | None = None,
) -> np.ndarray:  # fmt: skip
    """``n`` distinct keys: ``after + 1`` to ``after + n`` for integers, strings in the real keys' shapes
    otherwise; with ``part = (i, m)`` only strings whose stable hash is ``i`` modulo ``m``, so that the
    keys of the ``m`` parts never meet (a string that cannot be found so ends in its number,
    ``after + 1`` onwards)."""
    if dtype == StorageType.INT64:
        return np.arange(after + 1, after + n + 1, dtype=np.int64)
    if not fmt or not fmt["shapes"]:
        return np.array([f"K{i}" for i in range(after + 1, after + n + 1)], dtype=object)
    weights = np.asarray(fmt["weights"], dtype=float)
    chosen = rng.choice(len(fmt["shapes"]), size=n, p=weights / weights.sum())
    index, parts = part or (0, 1)
    seen: set[str] = set()
    out = []
    for i, c in enumerate(chosen):
        shape = fmt["shapes"][c]
        for _ in range(20 * parts):
            value = _fill_shape(shape, rng)
            if value not in seen and (parts == 1 or zlib.crc32(value.encode()) % parts == index):
                break
        else:
            value = _unseen(f"{_fill_shape(shape, rng)}-{after + i + 1}", seen)
        seen.add(value)
        out.append(value)
    return np.array(out, dtype=object)


def _unseen(value: str, seen: set[str]) -> str:
    k = 1
    while value in seen:
        value, k = f"{value}-{k}", k + 1
    return value


def key_steps(db: Database) -> dict[str, dict[str, float]]:
    """For generated primary-key parts: the usual gap between distinct values (1 for integers, an
    hour for hourly timestamps), used to move duplicates to the nearest free value."""
    steps: dict[str, dict[str, float]] = {}
    for name, table in db.schema.tables.items():
        structural = structural_columns(db.schema, name)
        for col in table.primary_key:
            if col in structural:
                continue
            column = table.column(col)
            values = db[name][col].dropna()
            if column.dtype == StorageType.DATETIME:
                nums = np.unique(values.to_numpy(dtype="datetime64[ns]").astype(np.int64))
            elif column.dtype in (StorageType.INT64, StorageType.FLOAT64):
                nums = np.unique(values.to_numpy(dtype=np.float64))
            else:
                steps.setdefault(name, {})[col] = 0.0
                continue
            gaps = np.diff(nums)
            gaps = gaps[gaps > 0]
            step = float(pd.Series(gaps).mode().iloc[0]) if len(gaps) else 1.0
            steps.setdefault(name, {})[col] = step
    return steps


def make_unique(
    frame: pd.DataFrame, pk: tuple[str, ...], steps: dict[str, float], dtypes: dict[str, StorageType]
) -> pd.DataFrame:
    """Move duplicate values of the last generated key part up to the next free value within each
    group of the other key columns (keeping order), so the composite key is unique."""
    if not steps or not frame.duplicated(list(pk)).any():
        return frame
    col = [c for c in pk if c in steps][-1]
    group_cols = [c for c in pk if c != col]
    frame = frame.copy()
    step = steps[col]
    if dtypes[col] == StorageType.STRING or step == 0.0:
        repeat = frame.groupby(list(pk), dropna=False).cumcount().to_numpy()
        dup = repeat > 0
        frame.loc[dup, col] = [f"{v}-{r + 1}" for v, r in zip(frame.loc[dup, col], repeat[dup], strict=True)]
        return _free_remaining(frame, pk, col, dtypes[col])
    is_time = dtypes[col] == StorageType.DATETIME
    values = (
        frame[col].to_numpy(dtype="datetime64[ns]").astype(np.int64).astype(np.float64)
        if is_time
        else frame[col].to_numpy(dtype=np.float64)
    )
    if not is_time and np.nanmax(np.abs(values), initial=0.0) >= 2.0**53:  # float64 steps are not exact there
        return _free_remaining(frame, pk, col, dtypes[col])
    keys = [frame[c].astype(str).to_numpy() for c in group_cols] if group_cols else [np.zeros(len(frame))]
    order = np.lexsort((values, *keys[::-1]))
    new = values.copy()
    group_id = np.zeros(len(frame), dtype=np.int64)
    if group_cols:
        _, group_id = np.unique(np.stack([k.astype(str) for k in keys], axis=1), axis=0, return_inverse=True)
        group_id = group_id.reshape(-1)
    sorted_groups = group_id[order]
    sorted_vals = values[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_groups)) + 1]
    for a, b in zip(starts, np.r_[starts[1:], len(order)], strict=True):
        idx = np.arange(b - a)
        shifted = np.maximum.accumulate(sorted_vals[a:b] - idx * step) + idx * step
        new[order[a:b]] = shifted
    if is_time:
        frame[col] = pd.to_datetime(new.astype(np.int64))
    else:
        frame[col] = new
    return _free_remaining(frame, pk, col, dtypes[col])


def _free_remaining(frame: pd.DataFrame, pk: tuple[str, ...], col: str, dtype: StorageType) -> pd.DataFrame:
    """Give each key still repeated (float64 cannot step integers above 2**53, a string ``v-1`` may
    already exist) the nearest value of ``col`` that its group does not use, exactly. Rare: a
    Python loop over the repeated rows only."""
    if not frame.duplicated(list(pk)).any() or dtype == StorageType.BOOL:
        return frame
    group_cols = [c for c in pk if c != col]
    if dtype == StorageType.INT64:
        values: list = [None if pd.isna(v) else int(v) for v in frame[col].tolist()]
    elif dtype == StorageType.DATETIME:
        values = [None if pd.isna(v) else pd.Timestamp(v).value for v in frame[col].tolist()]
    else:
        values = frame[col].tolist()
    groups = list(zip(*(frame[c].tolist() for c in group_cols), strict=True)) if group_cols else [()] * len(frame)
    used: set = set()
    for i, (group, value) in enumerate(zip(groups, values, strict=True)):
        key = (group, value)
        if key in used:
            values[i] = _next_free(value, dtype, group, used)
            key = (group, values[i])
        used.add(key)
    if dtype == StorageType.INT64:
        frame[col] = pd.array(values, dtype="Int64")
    elif dtype == StorageType.DATETIME:
        nat = np.iinfo(np.int64).min  # NaT's int64 form
        frame[col] = np.array([nat if v is None else v for v in values], dtype=np.int64).view("datetime64[ns]")
    else:
        frame[col] = pd.Series(values, index=frame.index, dtype=object if dtype == StorageType.STRING else None)
    return frame


def _next_free(value: Any, dtype: StorageType, group: tuple, used: set) -> Any:
    if dtype == StorageType.STRING:
        k = 1
        while (group, f"{value}-{k}") in used:
            k += 1
        return f"{value}-{k}"
    if dtype == StorageType.FLOAT64:
        up = down = float(value)
        while True:
            up, down = float(np.nextafter(up, np.inf)), float(np.nextafter(down, -np.inf))
            for candidate in (up, down):
                if np.isfinite(candidate) and (group, candidate) not in used:
                    return candidate
    lo, hi = -(2**63) + 1, 2**63 - 1  # int64 and nanoseconds alike
    base = 0 if value is None else int(value)
    for k in range(1, 2**62):
        for candidate in (base + k, base - k):
            if lo <= candidate <= hi and (group, candidate) not in used:
                return candidate
    raise AssertionError("unreachable: fewer rows than free values")
