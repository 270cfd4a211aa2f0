"""Dependencies: a label, or a number with few values, that is a function of another value of the row
or of a parent: a label (``city -> country``, ``genre.name -> track.unit_price``), a whole number
stored as such (a code, a postal code, a year: ``zip -> city``), or the year or month of a datetime
(``month(date) -> season``); found on every row or on every row without holes (see
:mod:`dbtwin.relations.discover`)."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pandas as pd

from dbtwin.encode.columns import _json_value
from dbtwin.encode.rare import Protection
from dbtwin.relations.candidates import HOLE_SUPPORT, columns_where, refs_where, tables_with
from dbtwin.relations.graph import ColumnGraph
from dbtwin.relations.rules import Dependency, Ref, Rule
from dbtwin.relations.values import Rows, Views, is_label, is_number
from dbtwin.schema.model import Column, ColumnKind, StorageType

#: A dependency is kept only if agreeing this often by chance is less likely than this.
DEPENDENCY_CHANCE = 1e-3
#: Most distinct determinant values a dependency keeps a mapping for.
MAX_MAPPING = 20_000
#: Most distinct values of a number a dependency may determine (a price per genre, a rate per class).
MAX_LEVELS = 20
#: Most distinct values per row of its own table a whole number may hold to determine another value.
CODE_SHARE = 0.5
#: Parts of a datetime that may determine a value (a season, a fiscal quarter).
DETERMINING_PARTS = ("year", "month")


def dependencies(views: Views, graph: ColumnGraph, protection: Protection) -> Iterator[Rule]:
    schema = views.db.schema
    for table, rows in tables_with(views, 2):
        n = len(rows)
        determinants = []
        for ref in _determinant_refs(views, table):
            codes = rows.codes(ref)
            distinct = int(codes.max()) + 1 if len(codes) else 0
            if 2 <= distinct < n:
                determinants.append((distinct, ref, codes))
        determinants.sort(key=lambda d: d[0])
        null_code = {ref: _null_code(rows.series(ref), codes) for _, ref, codes in determinants}
        for column in columns_where(schema, table, lambda c: is_label(c.kind) or is_number(c.kind, c.dtype)):
            if graph.derived((table, column)):
                continue
            y = rows.codes(Ref(column))
            ny = int(y.max()) + 1
            if ny < 2 or (ny > MAX_LEVELS and not is_label(schema.table(table).column(column).kind)):
                continue
            y_null = y == _null_code(rows.series(Ref(column)), y)
            collision = float((np.bincount(y) / n) @ (np.bincount(y) / n))
            usable = [(r, x) for d, r, x in determinants if r != Ref(column) and ny <= d <= MAX_MAPPING]
            # a determinant of every row first; one of the rows without holes only when there is none
            found = next((r for r, x in usable if _determines(x, y, x == null_code[r], collision)), None)
            if found is None:
                found = next(
                    (r for r, x in usable if _determines_around(x, y, x == null_code[r], y_null, collision)), None
                )
            rule = None if found is None else dependency(rows, table, column, found, protection)
            if rule is not None:
                yield rule


def _determinant_refs(views: Views, table: str) -> list[Ref]:
    """What may determine a value of ``table``: labels, whole numbers that repeat in their own table
    (codes, postal codes, years; not counts or amounts, nearly one per row, that only a few rows of
    a child happen to repeat) and the year and month of datetimes, of the row and of its parents."""
    schema = views.db.schema
    refs = refs_where(schema, table, lambda c: is_label(c.kind))
    refs += [r for r in refs_where(schema, table, _is_code) if _repeats(views, table, r)]
    for ref in refs_where(schema, table, lambda c: c.dtype == StorageType.DATETIME):
        refs += [Ref(ref.column, ref.path, part) for part in DETERMINING_PARTS]
    return refs


def _repeats(views: Views, table: str, ref: Ref) -> bool:
    """Whether the rows of the table ``ref`` reads hold at most half as many distinct values as rows."""
    own = views.db[ref.table(views.db.schema, table)][ref.column]
    return own.nunique() <= CODE_SHARE * max(own.notna().sum(), 1)


def _is_code(column: Column) -> bool:
    return column.dtype == StorageType.INT64 and column.kind in (ColumnKind.INTEGER, ColumnKind.CATEGORICAL)


def _determines_around(x: np.ndarray, y: np.ndarray, x_null: np.ndarray, y_null: np.ndarray, collision: float) -> bool:
    """:func:`_determines` on the rows where ``x`` and ``y`` are both known or both NULL, if some are
    not and at least :data:`HOLE_SUPPORT` rows have both known."""
    checked = x_null == y_null
    if checked.all() or (checked & ~x_null).sum() < HOLE_SUPPORT:
        return False
    if _distinct(y[checked & ~y_null]) < 2:  # one value wherever known: a constant, not a function
        return False
    return _determines(x[checked], y[checked], x_null[checked], collision)


def _determines(x: np.ndarray, y: np.ndarray, x_null: np.ndarray, collision: float) -> bool:
    """Whether the codes ``x`` determine the codes ``y`` on these rows, and too often to be chance
    (``collision``: the chance two rows share a ``y``)."""
    seen = _distinct(x)
    repeats = int((~x_null).sum()) - (seen - int(x_null.any()))
    if repeats * math.log(max(collision, 1e-300)) > math.log(DEPENDENCY_CHANCE):
        return False
    return _distinct(x * (int(y.max()) + 1) + y) == seen


def _distinct(codes: np.ndarray) -> int:
    """How many distinct values the non-negative integer ``codes`` hold: counted in one pass where
    they are small enough to count by value (as factorized codes and pairs of them mostly are), else
    by sorting them."""
    if not len(codes):
        return 0
    if int(codes.max()) < max(4 * len(codes), 1 << 20):
        return int(np.count_nonzero(np.bincount(codes)))
    return len(np.unique(codes))


def _null_code(values: pd.Series, codes: np.ndarray) -> int:
    """The code NULL took (-1 when there is none): repeats of NULL say nothing about a dependency."""
    missing = values.isna().to_numpy()
    return int(codes[missing][0]) if missing.any() else -1


def dependency(rows: Rows, table: str, column: str, ref: Ref, protection: Protection) -> Dependency | None:
    """The dependency with the pairs that may be shown again: a protected value seen fewer than
    ``protection.min_count`` times is neither a key nor a value of the mapping."""
    schema = rows.db.schema
    x, y = rows.series(ref), rows.series(Ref(column))
    pairs = pd.DataFrame({"x": x.astype(object), "y": y.astype(object)})
    pairs = pairs[x.isna().to_numpy() == y.isna().to_numpy()]  # holes say nothing of the function
    counts = pairs.value_counts(dropna=False).reset_index(name="n")
    min_count = protection.min_count
    x_text = protection.covers(schema, ref.table(schema, table), ref.column)
    y_text = protection.covers(schema, table, column)
    shown = counts[counts["n"] >= min_count] if x_text else counts
    shown = shown.drop_duplicates("x")  # the most common value of each determinant (a near rule's rows differ)
    mapping = [(_json_value(a), _json_value(b)) for a, b in zip(shown["x"], shown["y"], strict=True)]
    weights = counts.groupby("y", dropna=False)["n"].sum()
    fallback = [(_json_value(v), float(w)) for v, w in weights.items() if not y_text or w >= min_count]
    if not mapping and not fallback:
        return None
    return Dependency(table, column, ref, mapping, fallback)
