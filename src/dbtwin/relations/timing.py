"""Times that keep to their rows' periods and grids: a datetime whose year or month is a parent's
(an observation within its storm's season) and a datetime on a grid (dates, 6-hourly readings):
the search for them, how rows keep them and how a generated value is moved onto them."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from dbtwin.relations.candidates import (
    MIN_SUPPORT,
    generated_columns,
    is_datetime,
    parent_keys,
    probe_rows,
    tables_with,
)
from dbtwin.relations.graph import ColumnGraph
from dbtwin.relations.rules import Period, Ref, Rule, Step
from dbtwin.relations.values import Rows, Views, datetime_part, is_number
from dbtwin.schema.dtypes import NANOS_PER_SECOND, grid_seconds

#: The years a moved datetime may take (pandas' nanosecond range, a year inside each end).
YEARS = (1678, 2261)


def period_sides(rows: Rows, rule: Period) -> tuple[np.ndarray, np.ndarray]:
    """Per row: whether both the datetime and the period's value are known, and whether they agree."""
    part = datetime_part(rows.series(Ref(rule.column)), rule.part)
    value = rows.numbers(rule.value)
    both = np.isfinite(part) & np.isfinite(value)
    return both, both & (part == value)


def step_sides(rows: Rows, rule: Step) -> tuple[np.ndarray, np.ndarray]:
    """Per row: whether the datetime is known, and whether it lies on the grid."""
    stamps = rows.series(Ref(rule.column))
    present = stamps.notna().to_numpy()
    nanos = stamps.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    return present, present & (nanos % (rule.seconds * NANOS_PER_SECOND) == 0)


def moved_into_period(rows: Rows, rule: Period) -> pd.Series:
    """The datetime column with each row outside its period moved into it: its year (or month) set to
    the period's, its day kept (the month's last where it has fewer days), its time of day kept."""
    stamps = pd.to_datetime(rows.series(Ref(rule.column))).reset_index(drop=True)
    both, agree = period_sides(rows, rule)
    value = rows.numbers(rule.value)
    low, high = YEARS if rule.part == "year" else (1, 12)
    broken = both & ~agree & (value >= low) & (value <= high) & (value == np.round(value))
    if not broken.any():
        return stamps
    moved = stamps[broken]
    year, month = moved.dt.year.to_numpy(), moved.dt.month.to_numpy()
    if rule.part == "year":
        year = value[broken].astype(np.int64)
    else:
        month = value[broken].astype(np.int64)
    first = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": 1}))
    last_day = first.dt.days_in_month.to_numpy()
    day = np.minimum(moved.dt.day.to_numpy(), last_day)
    within_day = (moved - moved.dt.normalize()).to_numpy()
    out = stamps.copy()
    out[broken] = (first + pd.to_timedelta(day - 1, unit="D")).to_numpy() + within_day
    return out


def on_grid(rows: Rows, rule: Step) -> pd.Series:
    """The datetime column with each value rounded to the nearest point of the rule's grid."""
    stamps = pd.to_datetime(rows.series(Ref(rule.column))).reset_index(drop=True)
    return stamps.dt.round(f"{rule.seconds}s")


def periods(views: Views, graph: ColumnGraph, rng: np.random.Generator) -> Iterator[Rule]:
    """Candidates: a generated datetime whose year or month equals a parent's whole number on the
    probed rows (at least :data:`MIN_SUPPORT` of them, two values or more)."""
    schema = views.db.schema
    for table, rows in tables_with(views, MIN_SUPPORT):
        times = _datetime_targets(schema, table)
        values = [
            Ref(c.name, (fk.name,))
            for fk in parent_keys(schema, table)
            for c in schema.table(fk.parent).columns
            if is_number(c.kind, c.dtype) and c.name not in schema.key_columns(fk.parent)
        ]
        if not times or not values:
            continue
        probe = probe_rows(len(rows), rng)
        numbers = {v: rows.numbers(v)[probe] for v in values}
        for column in times:
            stamps = rows.series(Ref(column)).iloc[probe]
            for part in ("year", "month"):
                parts = datetime_part(stamps, part)
                for value, known in numbers.items():
                    both = np.isfinite(parts) & np.isfinite(known)
                    if both.sum() < MIN_SUPPORT or len(np.unique(known[both])) < 2:
                        continue
                    if (parts[both] == known[both]).all():
                        yield Period(table, column, part=part, value=value)


def steps(views: Views, graph: ColumnGraph, rng: np.random.Generator) -> Iterator[Rule]:
    """Candidates: each generated datetime column with two values or more, all on a grid coarser
    than a second."""
    schema = views.db.schema
    for table, rows in tables_with(views, MIN_SUPPORT):
        for column in _datetime_targets(schema, table):
            values = rows.series(Ref(column))
            if values.notna().sum() < MIN_SUPPORT or values.nunique() < 2:
                continue
            seconds = grid_seconds(values)
            if seconds > 1:
                yield Step(table, column, seconds=seconds)


def _datetime_targets(schema, table: str) -> list[str]:
    """Generated datetimes a rule may move: neither a foreign key's nor the primary key's."""
    keys = set(schema.key_columns(table))
    return [c for c in generated_columns(schema, table) if is_datetime(schema, table, c) and c not in keys]
