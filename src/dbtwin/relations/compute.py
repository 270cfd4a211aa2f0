"""What a rule says a row must hold, and how many rows of a database keep it.

The same functions serve discovery (a candidate is kept when every real row keeps it), sampling
(derived columns are set to what the rule says) and evaluation (the share of synthetic rows that
keep each rule found in the real database).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dbtwin.database import Database
from dbtwin.relations.numbering import numbering_kept
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
from dbtwin.relations.timing import period_sides, step_sides
from dbtwin.relations.values import Rows, Views, as_numbers, close, datetime_part, rounded


@dataclass(frozen=True)
class Kept:
    """Rows a rule applies to and rows that keep it."""

    rows: int
    kept: int
    #: rows left out: only one of the column and what the rule gives is NULL (``keeping(holes=True)``)
    holes: int = 0
    #: rows where both the column and what the rule gives are NULL (among ``rows``)
    empty: int = 0
    #: the first rows that break the rule, by primary key (or row number), where they were looked up
    breaking: tuple[str, ...] = field(default=(), compare=False)

    @property
    def share(self) -> float | None:
        return self.kept / self.rows if self.rows else None

    @property
    def holds(self) -> bool:
        return self.kept == self.rows


def aggregate_values(db: Database, rule: Aggregate, views: Views | None = None, rounding: bool = True) -> np.ndarray:
    """Per row of ``rule.table``, the aggregate of its children (``rule.empty`` without any), rounded to
    the rule's decimals unless ``rounding`` is off (checking: a value rounded half up, 1.125 to 1.13,
    keeps the rule as 1.12 does)."""
    fk = db.schema.foreign_key(rule.foreign_key)
    child = (views or Views(db)).of(fk.child)
    n = len(db[rule.table])
    pos = child.positions(fk.name)
    if rule.function == "count":
        values = np.ones(len(pos))
    elif len(rule.child_columns) == 2:
        values = operate(child.numbers(Ref(rule.child_columns[0])), child.numbers(Ref(rule.child_columns[1])), "*")
    else:
        values = child.numbers(Ref(rule.child_columns[0]))
    return aggregate_by_parent(pos, values, n, rule.function, rule.empty, rule.decimals if rounding else None)


def aggregate_by_parent(
    pos: np.ndarray, values: np.ndarray, n: int, function: str, empty: float | None, decimals: int | None
) -> np.ndarray:
    """``function`` of ``values`` grouped by parent position ``pos`` (negative: no parent), NULLs
    skipped as SQL does; parents without a value get ``empty``."""
    keep = (pos >= 0) & (np.isfinite(values) if function != "count" else True)
    p, v = pos[keep], values[keep]
    counts = np.bincount(p, minlength=n).astype(np.float64)
    if function == "count":
        out = counts
    elif function in ("sum", "mean"):
        out = np.bincount(p, weights=v, minlength=n)
        if function == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                out = out / counts
    else:
        out = np.full(n, np.inf if function == "min" else -np.inf)
        (np.minimum if function == "min" else np.maximum).at(out, p, v)
    out = np.where(counts > 0, out, np.nan if empty is None else empty)
    return rounded(out, decimals)


def formula_values(rows: Rows, rule: Formula, rounding: bool = True) -> np.ndarray:
    """Per row, ``scale * (left operation right) + offset`` rounded to the rule's decimals unless
    ``rounding`` is off (NULL where an operand is)."""
    value = rows.numbers(rule.left)
    if rule.right is not None:
        value = operate(value, rows.numbers(rule.right), rule.operation)
    scale, offset = float(rule.scale), float(rule.offset)
    if scale != 1.0 or offset != 0.0:
        with np.errstate(invalid="ignore", over="ignore"):
            value = value * scale + offset
    return rounded(np.where(np.isfinite(value), value, np.nan), rule.decimals if rounding else None)


def operate(a: np.ndarray, b: np.ndarray, operation: str) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if operation == "+":
            out = a + b
        elif operation == "-":
            out = a - b
        elif operation == "*":
            out = a * b
        else:
            out = a / b
    return np.where(np.isfinite(out), out, np.nan)


def part_values(rows: Rows, rule: Part) -> np.ndarray:
    """Per row, the rule's part of its datetime (NaN where it is NULL)."""
    return datetime_part(rows.series(rule.source), rule.part, rule.offset_hours)


def copy_values(rows: Rows, rule: Copy) -> pd.Series:
    return rows.series(Ref(rule.parent_column, (rule.foreign_key,)))


def keeping(db: Database, rule: Rule, views: Views | None = None, holes: bool = False) -> Kept:
    """How many rows of ``db`` the rule applies to, and how many keep it (``views``: the tables of
    ``db`` already resolved). With ``holes``, a row where only one of the column and what the rule gives
    is NULL is left out (counted in ``Kept.holes``) instead of breaking the rule."""
    views = views or Views(db)
    if isinstance(rule, Order | Period | Step):
        return _bound_kept(views.of(rule.table), rule)
    if isinstance(rule, Numbering):
        return Kept(*numbering_kept(views.of(rule.table), rule)[holes])
    return _kept(views.of(rule.table), rule, _sides(db, rule, views), holes)


def keeping_around(db: Database, rule: Rule, views: Views | None = None) -> tuple[Kept, Kept]:
    """``keeping(db, rule)`` and ``keeping(db, rule, holes=True)``, what the rule gives computed once."""
    views = views or Views(db)
    if isinstance(rule, Order | Period | Step):
        kept = _bound_kept(views.of(rule.table), rule)
        return kept, kept
    if isinstance(rule, Numbering):
        strict, around = numbering_kept(views.of(rule.table), rule)
        return Kept(*strict), Kept(*around)
    rows, sides = views.of(rule.table), _sides(db, rule, views)
    kept = _kept(rows, rule, sides, False)
    if not (sides[1] ^ sides[2]).any():  # no holes: the same rows are checked either way
        return kept, kept
    return kept, _kept(rows, rule, sides, True)


def unknown_given(db: Database, rule: Rule, views: Views | None = None) -> np.ndarray:
    """Per row of ``rule.table``: whether the rule gives no value there (an input is NULL)."""
    return _sides(db, rule, views or Views(db))[2]


def _bound_kept(rows: Rows, rule: Order | Period | Step) -> Kept:
    """How the rows where the rule applies (its sides known) keep a rule that repairs a generated value."""
    applies, keeps = bound_sides(rows, rule)
    return Kept(int(applies.sum()), int(keeps.sum()))


def bound_sides(rows: Rows, rule: Order | Period | Step) -> tuple[np.ndarray, np.ndarray]:
    """Per row: whether the rule applies (the values it compares are known), and whether it holds."""
    if isinstance(rule, Period):
        return period_sides(rows, rule)
    if isinstance(rule, Step):
        return step_sides(rows, rule)
    value, bound = rows.numbers(Ref(rule.column)), rows.numbers(rule.earlier)
    both = np.isfinite(value) & np.isfinite(bound)
    with np.errstate(invalid="ignore"):
        return both, both & (value >= bound if rule.above else value <= bound)


def broken_rows(db: Database, rule: Rule, views: Views | None = None) -> np.ndarray:
    """Positions of the rows of ``rule.table`` that break ``rule`` (a dependency: those whose value is
    not the most common one of their determinant's rows)."""
    views = views or Views(db)
    rows = views.of(rule.table)
    if isinstance(rule, Order | Period | Step):
        applies, keeps = bound_sides(rows, rule)
        return np.flatnonzero(applies & ~keeps)
    if isinstance(rule, Numbering):
        return np.zeros(0, dtype=np.int64)  # a numbering is broken by groups, not rows
    agrees, _, _ = _sides(db, rule, views)
    if agrees is None:
        agrees = dependent_agrees(rows.codes(rule.determinant), rows.codes(Ref(rule.column)))
    return np.flatnonzero(~agrees)


def _kept(rows: Rows, rule: Rule, sides: tuple[np.ndarray | None, np.ndarray, np.ndarray], holes: bool) -> Kept:
    """:func:`keeping` from the rule's :func:`_sides`."""
    agrees, actual_null, expected_null = sides
    checked = ~(actual_null ^ expected_null) if holes else np.ones(len(actual_null), dtype=bool)
    if agrees is None:  # a dependency: its most common value per determinant, among the rows checked
        agrees = dependent_agrees(rows.codes(rule.determinant)[checked], rows.codes(Ref(rule.column))[checked])
    else:
        if holes:  # NULL where the rule gives nothing (an aggregate over a child's NULL) keeps it
            agrees = agrees | (actual_null & expected_null)
        agrees = agrees[checked]
    empty = int((actual_null & expected_null).sum())
    return Kept(int(checked.sum()), int(agrees.sum()), int((~checked).sum()), empty)


def _sides(db: Database, rule: Rule, views: Views) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Per row: whether it keeps ``rule`` (None for a dependency, whose agreement depends on the rows
    counted), whether its column is NULL, and whether what the rule gives is unknown (an input NULL;
    for an aggregate, a child's input NULL: its sum is not known either)."""
    rows = views.of(rule.table)
    actual = rows.series(Ref(rule.column))
    actual_null = actual.isna().to_numpy()
    if isinstance(rule, Dependency):
        return None, actual_null, rows.series(rule.determinant).isna().to_numpy()
    if isinstance(rule, Copy):
        copied = copy_values(rows, rule)
        return _same(actual, copied), actual_null, copied.isna().to_numpy()
    if isinstance(rule, Aggregate):
        expected, decimals = aggregate_values(db, rule, views, rounding=False), rule.decimals
        unknown = np.isnan(expected) | _holed_children(db, rule, views, len(actual))
    elif isinstance(rule, Formula):
        expected, decimals = formula_values(rows, rule, rounding=False), rule.decimals
        unknown = np.isnan(expected)
    elif isinstance(rule, Part):
        expected, decimals = part_values(rows, rule), 0
        unknown = np.isnan(expected)
    elif isinstance(rule, Running):
        expected, decimals = running_values(rows, rule, rounding=False), rule.decimals
        unknown = np.isnan(expected)
    else:
        raise TypeError(f"unknown rule {rule!r}")
    return close(as_numbers(actual), expected, decimals), actual_null, unknown


def _holed_children(db: Database, rule: Aggregate, views: Views, n: int) -> np.ndarray:
    """Per parent row: whether a child's column the aggregate reads is NULL."""
    if not rule.child_columns:
        return np.zeros(n, dtype=bool)
    fk = db.schema.foreign_key(rule.foreign_key)
    child = views.of(fk.child)
    pos = child.positions(fk.name)
    holed = np.zeros(len(pos), dtype=bool)
    for column in rule.child_columns:
        holed |= np.isnan(child.numbers(Ref(column)))
    linked = pos >= 0
    return np.bincount(pos[linked], weights=holed[linked], minlength=n) > 0


def dependent_agrees(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per row: whether its ``y`` code is the most common one among the rows with its ``x`` code."""
    return most_common_codes(x, y) == y


def most_common_codes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per row, the most common ``y`` code among the rows with its ``x`` code."""
    pairs = pd.DataFrame({"x": x, "y": y})
    counts = pairs.value_counts().reset_index(name="n").sort_values("n", ascending=False, kind="stable")
    top = counts.drop_duplicates("x").set_index("x")["y"]
    return top.reindex(x).to_numpy()


def _same(actual: pd.Series, expected: pd.Series) -> np.ndarray:
    a_missing, e_missing = actual.isna().to_numpy(), expected.isna().to_numpy()
    a = actual.to_numpy(dtype=object)
    e = expected.to_numpy(dtype=object)
    both = ~a_missing & ~e_missing
    equal = np.zeros(len(a), dtype=bool)
    equal[both] = a[both] == e[both]
    equal |= a_missing & e_missing
    return equal


__all__ = [
    "Kept",
    "aggregate_by_parent",
    "aggregate_values",
    "as_numbers",
    "bound_sides",
    "broken_rows",
    "formula_values",
    "keeping",
    "keeping_around",
    "operate",
    "unknown_given",
]
