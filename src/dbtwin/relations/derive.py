"""Keeping rules when sampling: derived columns computed from the generated ones, orders repaired.

Rules run in :func:`~dbtwin.relations.graph.application_order`: a column is final before any rule
reads it (children's columns before a parent's aggregate). A dependency maps each generated value of
its determinant to the dependent value seen with it in the real data; a determinant value the real
data did not show (a placeholder for rare text) draws one dependent value, the same for all its rows.
An order lifts a value that falls below its bound to the bound plus a difference seen in the real data.
A numbering gives each group's rows the numbers 1..n in the order of their generated values.
A copy into a NOT NULL column from a parent whose value is NULL takes another row's copied value.
A rule with holes sets its (generated) column only where it gives a value and the cell is not NULL.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd

from dbtwin.database import Database
from dbtwin.encode.columns import _json_value
from dbtwin.relations.compute import (
    aggregate_values,
    copy_values,
    formula_values,
    most_common_codes,
    part_values,
    unknown_given,
)
from dbtwin.relations.graph import application_order
from dbtwin.relations.numbering import numbered
from dbtwin.relations.rules import (
    Aggregate,
    Copy,
    Dependency,
    Formula,
    Numbering,
    Order,
    Part,
    Period,
    Ref,
    Rule,
    Running,
    Step,
)
from dbtwin.relations.running import running_values
from dbtwin.relations.timing import moved_into_period, on_grid
from dbtwin.relations.values import Rows, Views, from_numbers
from dbtwin.schema.dtypes import to_storage


def apply_rules(
    db: Database, rules: list[Rule], rng: np.random.Generator, only: dict[str, dict[str, np.ndarray]] | None = None
) -> None:
    """Set every derived column of ``db`` (in place) and repair every order; with ``only`` (per table
    and column, rows), no other cell is written (imputation: the cells being filled)."""
    views = Views(db)
    for rule in application_order(rules, db.schema):
        writable = None if only is None else only.get(rule.table, {}).get(rule.column)
        if only is not None and writable is None:
            continue
        rows = views.of(rule.table)
        dtype = db.schema.table(rule.table).column(rule.column).dtype
        if isinstance(rule, Numbering):  # fills only the writable cells itself, from the numbers left free
            rows.frame[rule.column] = to_storage(from_numbers(numbered(rows, rule, rng, writable), dtype), dtype).array
            continue
        seen = None  # a dependency's rows whose determinant value the real data showed
        if isinstance(rule, Copy):
            values = copy_values(rows, rule)
            if not rule.holes and not db.schema.table(rule.table).column(rule.column).nullable:
                values = _never_null(pd.Series(values, dtype=object), rng)
        elif isinstance(rule, Dependency):
            values, seen = _dependent(rows, rule)
        elif isinstance(rule, Aggregate):
            values = from_numbers(aggregate_values(db, rule, views), dtype)
        elif isinstance(rule, Formula):
            values = from_numbers(formula_values(rows, rule), dtype)
        elif isinstance(rule, Part):
            values = from_numbers(part_values(rows, rule), dtype)
        elif isinstance(rule, Running):
            values = from_numbers(running_values(rows, rule), dtype)
        elif isinstance(rule, Period):
            values = moved_into_period(rows, rule)
        elif isinstance(rule, Step):
            values = on_grid(rows, rule)
        elif isinstance(rule, Order):
            bounds = [r for r in rules if isinstance(r, Order) and r.target == rule.target]
            values = _ordered(rows, bounds, rng, dtype)
        else:
            raise TypeError(f"unknown rule {rule!r}")
        values = pd.Series(values).reset_index(drop=True)
        if rule.holes or writable is not None:
            # a rule with holes: the generated cell stays where the rule gives nothing, and a NULL stays
            # NULL; a cell being filled keeps its draw where a dependency's determinant is one the real
            # data did not show (the dependent value it would draw knows nothing of the row)
            current = rows.frame[rule.column].reset_index(drop=True)
            given = np.ones(len(current), dtype=bool)
            if rule.holes:
                given = ~unknown_given(db, rule, views) & current.notna().to_numpy()
            if writable is not None:
                given &= np.isin(np.arange(len(current)), writable)
                if seen is not None:
                    given &= seen
            values = current.astype(object).where(~given, values.astype(object))
        rows.frame[rule.column] = to_storage(values, dtype).array


def settle_rules(db: Database, rules: list[Rule]) -> None:
    """Copies and dependencies made to hold again after another stage replaced some values (rare text
    replaced by believable values, row by row): each copy taken again from its parent, and each
    dependency's rows that share a determinant value given the value most of them hold (the
    replacements included, so that no value the replacement removed comes back)."""
    views = Views(db)
    for rule in application_order(rules, db.schema):
        if not isinstance(rule, Copy | Dependency) or rule.holes:
            continue
        rows = views.of(rule.table)
        dtype = db.schema.table(rule.table).column(rule.column).dtype
        if isinstance(rule, Copy):
            values = copy_values(rows, rule)
            if not db.schema.table(rule.table).column(rule.column).nullable:
                values = values.where(values.notna(), rows.frame[rule.column].reset_index(drop=True))
        else:
            values = _most_common_per_determinant(rows, rule)
        rows.frame[rule.column] = to_storage(pd.Series(values).reset_index(drop=True), dtype).array


def _most_common_per_determinant(rows: Rows, rule: Dependency) -> pd.Series:
    determinant = rows.codes(rule.determinant)
    current = rows.frame[rule.column].reset_index(drop=True).astype(object)
    codes, uniques = pd.factorize(current, use_na_sentinel=False)
    return pd.Series(np.asarray(uniques, dtype=object)[most_common_codes(determinant, codes)], dtype=object)


def copied_back(
    db: Database, rules: list[Rule], fill: dict[str, dict[str, np.ndarray]]
) -> dict[str, dict[str, np.ndarray]]:
    """Imputation runs a copy backwards: a parent's cell to fill that a copy rule shows in a known cell of
    one of its children (one not being filled) is set to that value, in place (where the children
    differ, the most common). Returns ``fill`` without the cells so set."""
    views = Views(db)
    left = {t: dict(cols) for t, cols in fill.items()}
    for rule in (r for r in rules if isinstance(r, Copy)):
        fk = db.schema.foreign_key(rule.foreign_key)
        targets = left.get(fk.parent, {}).get(rule.parent_column)
        if targets is None or not len(targets):
            continue
        pos = views.of(fk.child).positions(fk.name)
        values = db[fk.child][rule.column].reset_index(drop=True)
        usable = (pos >= 0) & values.notna().to_numpy()
        usable[left.get(fk.child, {}).get(rule.column, np.zeros(0, dtype=np.int64))] = False
        wanted = np.zeros(len(db[fk.parent]), dtype=bool)
        wanted[targets] = True
        usable &= wanted[np.where(pos >= 0, pos, 0)]
        if not usable.any():
            continue
        pairs = pd.DataFrame({"p": pos[usable], "v": values[usable].to_numpy(dtype=object)})
        top = pairs.value_counts().reset_index(name="n").drop_duplicates("p")  # most common first
        column = db[fk.parent][rule.parent_column].astype(object).to_numpy()
        column[top["p"].to_numpy()] = top["v"].to_numpy()
        dtype = db.schema.table(fk.parent).column(rule.parent_column).dtype
        db[fk.parent][rule.parent_column] = to_storage(pd.Series(column), dtype).array
        left[fk.parent][rule.parent_column] = np.setdiff1d(targets, top["p"].to_numpy())
    left = {t: {c: r for c, r in cols.items() if len(r)} for t, cols in left.items()}
    return {t: cols for t, cols in left.items() if cols}


def _dependent(rows: Rows, rule: Dependency) -> tuple[pd.Series, np.ndarray]:
    """Per row, the dependent value of its determinant, and whether the mapping holds that determinant
    (else its value is drawn from the fallback, once per unseen determinant value, by a hash of that
    value: the same in every part of a sample drawn in shards)."""
    mapping = {_key(x): y for x, y in rule.mapping}
    determinant = [_key(_json_value(v)) for v in rows.series(rule.determinant).to_numpy(dtype=object)]
    seen = np.array([x in mapping for x in determinant], dtype=bool)
    unseen = sorted({x for x in determinant if x not in mapping}, key=repr)
    if unseen:
        if not rule.fallback:
            raise ValueError(f"{rule.table}.{rule.column}: no value to draw for an unseen determinant")
        values = [v for v, _ in rule.fallback]
        weights = np.array([w for _, w in rule.fallback], dtype=np.float64)
        drawn = np.searchsorted(np.cumsum(weights) / weights.sum(), [_uniform(x, rule) for x in unseen], side="right")
        mapping.update({x: values[min(i, len(values) - 1)] for x, i in zip(unseen, drawn, strict=True)})
    return pd.Series([mapping[x] for x in determinant], dtype=object), seen


def _uniform(value: Any, rule: Dependency) -> float:
    """A number in [0, 1) that only ``value`` and the rule's target decide."""
    digest = hashlib.blake2b(f"{rule.table}\x00{rule.column}\x00{value!r}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64


def _never_null(values: pd.Series, rng: np.random.Generator) -> pd.Series:
    """A copy into a NOT NULL column from a parent row whose value is NULL (a structure that matches
    parents at random, such as ``degree``, can link a child where the real data never does) takes
    the value of another row's copy instead."""
    missing = values.isna().to_numpy()
    present = values[~missing].to_numpy(dtype=object)
    if missing.any() and len(present):
        values = values.copy()
        values[missing] = present[rng.integers(0, len(present), size=int(missing.sum()))]
    return values


def _key(value: Any) -> Any:
    """A mapping key that JSON round trips keep equal (1 and 1.0, lists from tuples)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return tuple(value) if isinstance(value, list) else value


def _ordered(rows: Rows, bounds: list[Order], rng: np.random.Generator, dtype) -> pd.Series:
    """The column with each value outside its bounds (the highest of those from below, the lowest of
    those from above) moved inside them: the bound plus (or minus) a distance seen in the real data
    between the column and that bound, kept within the other bound."""
    value = rows.numbers(Ref(bounds[0].column))
    lower = [b for b in bounds if b.above]
    upper = [b for b in bounds if not b.above]
    low, low_by = _tightest(rows, lower, np.fmax)
    high, high_by = _tightest(rows, upper, np.fmin)
    with np.errstate(invalid="ignore"):
        consistent = ~(low > high)
        too_low = np.isfinite(value) & np.isfinite(low) & (value < low) & consistent
        too_high = np.isfinite(value) & np.isfinite(high) & (value > high) & consistent & ~too_low
    if not (too_low | too_high).any():
        return rows.frame[bounds[0].column].reset_index(drop=True)
    value = value.copy()
    value[too_low] = np.fmin(low[too_low] + _gaps(lower, low_by[too_low], rng), high[too_low])
    value[too_high] = np.fmax(high[too_high] - _gaps(upper, high_by[too_high], rng), low[too_high])
    return from_numbers(value, dtype)


def _tightest(rows: Rows, orders: list[Order], pick) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the tightest of the ``orders``' bounds (NaN where none is known) and which order gives it."""
    bound, by = np.full(len(rows), np.nan), np.zeros(len(rows), dtype=np.int64)
    for i, order in enumerate(orders):
        values = rows.numbers(order.earlier)
        tighter = np.isfinite(values) & (np.isnan(bound) | (pick(bound, values) != bound))
        bound = np.where(tighter, values, bound)
        by[tighter] = i
    return bound, by


def _gaps(orders: list[Order], by: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A real distance from its bound for each row, drawn from the gaps of the order ``by`` names."""
    out = np.zeros(len(by))
    for i, order in enumerate(orders):
        rows = by == i
        if rows.any():
            gaps = np.asarray(order.gaps or (0.0,), dtype=np.float64)
            out[rows] = gaps[rng.integers(0, len(gaps), size=int(rows.sum()))]
    return out
