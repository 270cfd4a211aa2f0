"""Running sums: a column that sums another along an order within each group (an account's balance
along its dated transactions, a season's points along its races), found on every row and computed in
every sample from the generated values it reads."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from dbtwin.relations.candidates import MIN_SUPPORT, parent_keys, tables_with
from dbtwin.relations.graph import ColumnGraph
from dbtwin.relations.numbering import group_codes
from dbtwin.relations.rules import Ref, Rule, Running
from dbtwin.relations.values import Rows, Views, agree_where_known, decimals_of, is_number, rounded
from dbtwin.schema.model import StorageType

#: Groups every candidate is checked on before the full check, and rows of each (the first ones).
PROBE_GROUPS, PROBE_PREFIX = 64, 32
#: Most order columns and summed columns tried per table.
MAX_ORDERS, MAX_SUMMED = 12, 24


def running_values(rows: Rows, rule: Running, rounding: bool = True) -> np.ndarray:
    """Per row, the running sum of ``rule.of`` within its group up to and including it (rounded to the
    rule's decimals unless ``rounding`` is off)."""
    permutation, group = sequence_order(rows, rule.group, rule.order)
    values = rows.numbers(Ref(rule.of))[permutation]
    return rounded(_running_sum(values, group), rule.decimals if rounding else None)[np.argsort(permutation)]


def sequence_order(rows: Rows, group: tuple[str, ...], order: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """The rows sorted by group, then by the order columns (NULLs last), then by position; and the
    group code of each sorted row."""
    codes = group_codes(rows, group)
    keys = [np.arange(len(rows))]
    for column in reversed(order):
        values = rows.numbers(Ref(column))
        keys.append(np.where(np.isnan(values), np.inf, values))
    keys.append(codes)
    permutation = np.lexsort(keys)
    return permutation, codes[permutation]


def _running_sum(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Running sums of ``values`` (sorted) restarting at each new ``group``; NULLs skipped, NULL
    before the first known value of a group."""
    known = np.isfinite(values)
    by_group = pd.Series(np.where(known, values, 0.0)).groupby(group, sort=False)
    sums = by_group.cumsum().to_numpy()
    seen = pd.Series(known.astype(np.int64)).groupby(group, sort=False).cumsum().to_numpy()
    return np.where(seen > 0, sums, np.nan)


def runnings(views: Views, graph: ColumnGraph, rng: np.random.Generator) -> Iterator[Rule]:
    """Candidates: a number of a table that equals the running sum of another number of it within
    the rows of one parent, along a datetime or number of the row, on the first rows of a few parents
    first."""
    schema = views.db.schema
    for table, rows in tables_with(views, MIN_SUPPORT):
        foreign = {c for fk in schema.foreign_keys_of(table) for c in fk.columns}
        keys = set(schema.key_columns(table))
        own = [c for c in schema.table(table).columns if c.name not in keys | foreign]
        numbers = [c.name for c in own if is_number(c.kind, c.dtype)][:MAX_SUMMED]
        # times first: a sequence is most often ordered by when its rows happened
        orders = [c.name for c in own if c.dtype == StorageType.DATETIME]
        orders = (orders + [c.name for c in own if is_number(c.kind, c.dtype)])[:MAX_ORDERS]
        targets = [c for c in numbers if not graph.derived((table, c))]
        if not targets or len(numbers) < 2 or not orders:
            continue
        values = {c: rows.numbers(Ref(c)) for c in set(numbers) | set(orders)}
        decimals = {c: decimals_of(values[c]) for c in targets}
        for fk in parent_keys(schema, table):
            group = tuple(fk.columns)
            codes = group_codes(rows, group)
            if not len(codes) or np.bincount(codes).max() < 2:
                continue  # one row per group: a running sum is a copy
            chosen = np.zeros(int(codes.max()) + 1, dtype=bool)
            chosen[rng.choice(len(chosen), size=min(len(chosen), PROBE_GROUPS), replace=False)] = True
            for order in orders:
                probe = _group_starts(codes, values[order], chosen)
                for rule in _along(probe, codes, values, numbers, targets, decimals):
                    yield Running(table, rule[0], of=rule[1], group=group, order=(order,), decimals=decimals[rule[0]])


def _group_starts(codes: np.ndarray, along: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """The first :data:`PROBE_PREFIX` rows of each chosen group in the order ``along`` (then row order),
    sorted by group then order: a running sum holds on a group's first rows if it holds on the group."""
    rows = np.flatnonzero(chosen[codes])
    permutation = rows[np.lexsort((rows, np.where(np.isnan(along[rows]), np.inf, along[rows]), codes[rows]))]
    sorted_codes = codes[permutation]
    starts = np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]
    first = np.maximum.accumulate(np.where(starts, np.arange(len(permutation)), 0))
    return permutation[np.arange(len(permutation)) - first < PROBE_PREFIX]


def _along(probe: np.ndarray, codes: np.ndarray, values: dict, numbers: list[str], targets: list[str], decimals: dict):
    """``(target, of)`` pairs whose running sum agrees on every probed row (whole group prefixes)."""
    group = codes[probe]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    actual = np.stack([values[t][probe] for t in targets], axis=1)
    for of in numbers:
        summed = values[of][probe]
        sums = _probe_sums(summed, starts)[:, None]
        agree = agree_where_known(actual, sums, None) | _close_rounded(actual, sums, targets, decimals)
        agree &= np.isnan(actual) == np.isnan(sums)
        support = (np.isfinite(actual) & (actual != summed[:, None])).sum(0)
        for j in np.flatnonzero(agree.all(0) & (support >= MIN_SUPPORT)):
            if targets[j] != of:
                yield targets[j], of


def _close_rounded(actual: np.ndarray, sums: np.ndarray, targets: list[str], decimals: dict) -> np.ndarray:
    units = np.array([0.5 * 10.0 ** (-d) if d is not None else 0.0 for d in (decimals[t] for t in targets)])
    with np.errstate(invalid="ignore"):
        return np.abs(actual - sums) <= units[None, :] * (1 + 1e-6) + 1e-9 * np.abs(actual)


def _probe_sums(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """:func:`_running_sum` by cumulative sums less each group's start (the probed rows: few, small)."""
    known = np.isfinite(values)
    total = np.cumsum(np.where(known, values, 0.0))
    seen = np.cumsum(known)
    lengths = np.diff(np.r_[starts, len(values)])
    before = np.repeat(np.r_[0.0, total][starts], lengths)
    seen_before = np.repeat(np.r_[0, seen][starts], lengths)
    return np.where(seen - seen_before > 0, total - before, np.nan)
