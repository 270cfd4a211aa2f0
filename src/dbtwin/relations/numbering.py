"""Numberings: a column that numbers the rows of each group 1, 2, ..., n (a line number within its
invoice, a position within its race, a round within its season).

A group is the rows that share the values of some columns of the row: a foreign key's (the rows of
one parent; discovery searches these) or another column's (the races of one year; declared). The
column's values within each group are ``start, start + 1, ..., start + n - 1``, each once. It stays
generated: the model decides which row comes first, and the rule then gives each group's rows the
numbers in the order of their generated values (ties at random), so the numbering is exact and still
follows the rest of the row. Filling holes (imputation), a row being filled takes one of the numbers
its group's known rows leave free, in the order of its drawn value.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from dbtwin.relations.candidates import MIN_SUPPORT, parent_keys, tables_with
from dbtwin.relations.graph import ColumnGraph
from dbtwin.relations.rules import Numbering, Ref, Rule
from dbtwin.relations.values import Rows, Views, is_number

#: First numbers a numbering may start from.
STARTS = (0, 1)
#: Repeats within groups that independent values would make, at least, for a numbering to be claimed
#: (none seen then has a chance below e^-10).
CHANCE_REPEATS = 10.0


def numberings(views: Views, graph: ColumnGraph, rng: np.random.Generator) -> Iterator[Rule]:
    """Candidates: every integer column whose known values start at 0 or 1, grouped by each foreign
    key of its table, where each group without NULLs holds its start once and sums to what ``start ..
    start + n - 1`` sums to (the full check follows, around holes where there are NULLs).

    Groups by other columns are declared, not searched: how many rows share a parent is what the
    structure draws, so a numbering within parents keeps the column's real distribution, while how
    many rows share a generated value (F1's races of one year) is only as close as that column's
    marginal, and numbering within it moved F1's ``race.round`` further from the real one (column shape
    0.855 against 0.89-0.91 generated) and its trends with the standings' points."""
    schema = views.db.schema
    for table, rows in tables_with(views, MIN_SUPPORT):
        groups = {tuple(fk.columns): group_codes(rows, tuple(fk.columns)) for fk in parent_keys(schema, table)}
        keys = set(schema.key_columns(table))
        for column in (c for c in schema.table(table).columns if c.name not in keys):
            if not is_number(column.kind, column.dtype) or graph.derived((table, column.name)):
                continue
            values = rows.numbers(Ref(column.name))
            known = values[np.isfinite(values)]
            if not len(known) or not (known == np.round(known)).all():
                continue
            start = int(known.min())
            if start not in STARTS or known.max() == start:
                continue
            for group, codes in groups.items():
                if column.name not in group and _sums_match(values, codes, start):
                    yield Numbering(table, column.name, group=group, start=start)


def _sums_match(values: np.ndarray, codes: np.ndarray, start: int) -> bool:
    """Whether the column may number ``codes``' groups (the full check follows): each group without
    NULLs holds ``start`` once and sums as ``start .. start + n - 1`` do; in a group with NULLs the known
    values are distinct and within that range. With at least :data:`MIN_SUPPORT` groups of two known
    values or more, and unlikely by chance: values drawn independently from the column's would repeat
    within a group at least :data:`CHANCE_REPEATS` times in all (points scored in a race repeat; the
    positions never do)."""
    size = np.bincount(codes).astype(np.float64)
    known = np.isfinite(values)
    count = np.bincount(codes, weights=known, minlength=len(size))
    if (count >= 2).sum() < MIN_SUPPORT or (values[known] > start + size[codes[known]] - 1).any():
        return False
    holed = count < size
    firsts = np.bincount(codes, weights=values == start, minlength=len(size))
    sums = np.bincount(codes, weights=np.nan_to_num(values), minlength=len(size))
    expected = size * (size - 1) / 2 + start * size
    if not ((firsts[~holed] == 1).all() and np.allclose(sums[~holed], expected[~holed])):
        return False
    if _repeated(codes, values, known).any():
        return False
    shares = pd.Series(values[known]).value_counts(normalize=True).to_numpy()
    return float((count * (count - 1) / 2).sum() * (shares**2).sum()) >= CHANCE_REPEATS


def group_codes(rows: Rows, group: tuple[str, ...]) -> np.ndarray:
    """Per row, the number of its group of rows sharing the ``group`` columns' values (NULL in a group
    column is a value of its own)."""
    frame = rows.frame[list(group)].reset_index(drop=True)
    if len(group) == 1:
        codes, _ = pd.factorize(frame.iloc[:, 0], use_na_sentinel=False)
        return codes.astype(np.int64)
    return frame.groupby(list(group), dropna=False, sort=False).ngroup().to_numpy(dtype=np.int64)


def numbering_kept(rows: Rows, rule: Numbering) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """How the rows keep ``rule``, strictly (a NULL breaks its group) and around holes (a NULL in the
    column is left out, and a group is numbered when its known values are distinct and within ``start ..
    start + n - 1``): each as rows counted, rows in a group numbered as the rule says, rows left out."""
    values = rows.numbers(Ref(rule.column))
    groups = group_codes(rows, rule.group)
    known = np.isfinite(values)
    size = np.bincount(groups)
    in_range = (values >= rule.start) & (values <= rule.start + size[groups] - 1) & (values == np.round(values))
    bad_known = known & (~in_range | _repeated(groups, values, known))
    counts = []
    for bad, counted in ((bad_known | ~known, np.ones(len(values), dtype=bool)), (bad_known, known)):
        bad_group = np.bincount(groups, weights=bad, minlength=len(size)) > 0
        counts.append((int(counted.sum()), int((counted & ~bad_group[groups]).sum()), int((~counted).sum())))
    return counts[0], counts[1]


def _repeated(groups: np.ndarray, values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Per row: whether its known value is held by another row of its group too."""
    repeated = np.zeros(len(values), dtype=bool)
    pairs = pd.DataFrame({"g": groups[known], "v": values[known]})
    repeated[np.flatnonzero(known)] = pairs.duplicated(keep=False).to_numpy()
    return repeated


def numbered(rows: Rows, rule: Numbering, rng: np.random.Generator, writable: np.ndarray | None) -> np.ndarray:
    """The column with each group's writable rows (all without ``writable``; never a NULL cell of a
    rule with holes) given the numbers its other rows leave free, in the order of their values (ties at
    random); where too few numbers are free, the last rows keep their values, and where more are free
    than rows to number (a group with NULLs), the rows take numbers spread evenly over the free ones."""
    values = rows.numbers(Ref(rule.column)).copy()
    n = len(values)
    if not n:
        return values
    groups = group_codes(rows, rule.group)
    write = np.ones(n, dtype=bool) if writable is None else np.isin(np.arange(n), writable)
    if rule.holes and writable is None:
        write &= np.isfinite(values)
    size = np.bincount(groups)
    free_number, free_at, free = _free_numbers(values, groups, size, ~write, rule.start)
    order = np.lexsort((rng.random(n), np.nan_to_num(values, nan=np.inf), groups))
    order = order[write[order]]
    group_of = groups[order]
    rank = np.arange(len(order)) - _group_starts(group_of)
    wanted = np.bincount(group_of, minlength=len(size))[group_of]
    have = free[group_of]
    spread = (wanted < have) & (wanted > 1)
    index = np.where(spread, np.round(rank * (have - 1) / np.maximum(wanted - 1, 1)), rank).astype(np.int64)
    fill = index < have
    values[order[fill]] = free_number[free_at[group_of[fill]] + index[fill]]
    return values


def _group_starts(sorted_groups: np.ndarray) -> np.ndarray:
    """Per position of a group-sorted array, the position where its group begins."""
    if not len(sorted_groups):
        return sorted_groups
    begins = np.r_[True, sorted_groups[1:] != sorted_groups[:-1]]
    return np.maximum.accumulate(np.where(begins, np.arange(len(sorted_groups)), 0))


def _free_numbers(
    values: np.ndarray, groups: np.ndarray, size: np.ndarray, fixed: np.ndarray, start: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The numbers ``start .. start + n - 1`` of each group that none of its ``fixed`` rows holds:
    all of them in group order, where each group's begin, and how many each group has."""
    begin = np.r_[0, np.cumsum(size)[:-1]]
    number = start + np.arange(len(groups)) - np.repeat(begin, size)
    held = fixed & np.isfinite(values)
    offset = np.where(held, values, start) - start
    inside = held & (offset >= 0) & (offset < size[groups]) & (offset == np.round(offset))
    taken = np.zeros(len(groups), dtype=bool)
    taken[begin[groups[inside]] + offset[inside].astype(np.int64)] = True
    free = np.bincount(np.repeat(np.arange(len(size)), size)[~taken], minlength=len(size))
    return number[~taken].astype(np.float64), np.r_[0, np.cumsum(free)[:-1]], free
