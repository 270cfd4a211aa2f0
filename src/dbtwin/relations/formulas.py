"""Formulas: a number of the row that two numbers of the row and its parents give by an operation
(``amount = unit_price * quantity``), times a constant (``tax = 0.2 * (price * quantity)``), or that
one number gives up to a constant factor and offset (``fahrenheit = 1.8 * celsius + 32``,
``cents = 100 * amount``, ``next_year = year + 1``). The constants are found from the data and kept as
the shortest decimals that give every real value (so 1.8, not 1.7999999)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from dbtwin.relations.candidates import (
    MIN_SUPPORT,
    PROBE_SLACK,
    columns_where,
    probe_rows,
    refs_where,
    tables_with,
    varies,
)
from dbtwin.relations.compute import operate
from dbtwin.relations.graph import ColumnGraph
from dbtwin.relations.rule_json import decimal_text
from dbtwin.relations.rules import Formula, Ref, Rule
from dbtwin.relations.values import Views, agree_where_known, decimals_of, is_number

#: Fewest distinct values an operand and a target of a formula with constants take on the probed rows
#: (a column of two values is a function of any other two-valued column, and says nothing).
MIN_LEVELS = 3


def formulas(views: Views, graph: ColumnGraph, rng: np.random.Generator) -> Iterator[Rule]:
    schema = views.db.schema
    for table, rows in tables_with(views, MIN_SUPPORT):
        refs = refs_where(schema, table, _number, hops=2)
        targets = [c for c in columns_where(schema, table, _number) if not graph.derived((table, c))]
        if len(refs) < 2 or not targets:
            continue
        probe = probe_rows(len(rows), rng)
        operands = np.stack([rows.numbers(r)[probe] for r in refs], axis=1)  # probe x m
        varying = {c: rows.numbers(Ref(c)) for c in targets}
        varying = {c: (v[probe], decimals_of(v)) for c, v in varying.items() if varies(v)}
        # the simplest first: a plain operation, one operand with constants, a product with a constant
        if len(refs) >= 3:
            yield from _binary(table, refs, operands, varying, graph, constants=False)
        yield from _scaled(table, refs, operands, varying, graph)
        if len(refs) >= 3:
            yield from _binary(table, refs, operands, varying, graph, constants=True)


def _number(c) -> bool:
    return is_number(c.kind, c.dtype)


def _binary(
    table: str, refs: list[Ref], operands: np.ndarray, varying: dict, graph: ColumnGraph, constants: bool
) -> Iterator[Rule]:
    """``target = a op b`` (or, with ``constants``, ``target = k * (a op b)``) for every pair of operands."""
    own = {r.column: j for j, r in enumerate(refs) if not r.path}
    m = len(refs)
    for operation in ("*", "/") if constants else ("+", "*", "-", "/"):
        grid = operate(operands[:, :, None], operands[:, None, :], operation)  # probe x m x m
        trivial = (grid == operands[:, :, None]) | (grid == operands[:, None, :])
        telling = (np.isfinite(grid) & ~trivial).reshape(len(grid), -1).astype(np.float64)
        for target, (probed, decimals) in varying.items():
            if graph.derived((table, target)):
                continue
            support = ((np.isfinite(probed) & (np.abs(probed) > 0)).astype(np.float64) @ telling).reshape(m, m)
            pairs = (support >= min(MIN_SUPPORT, len(probed))) & _distinct_pairs(m, own[target], operation)
            if not constants:
                # a sum or difference is exact: rounding would take 0.01 of rain for no change of the day
                exact = None if operation in ("+", "-") else decimals
                for a, b in zip(*np.nonzero(pairs & _agreeing(probed, grid, exact)), strict=True):
                    yield Formula(table, target, operation, refs[a], refs[b], decimals)
                continue
            for a, b in zip(*np.nonzero(pairs & _proportional(probed, grid, decimals)), strict=True):
                rule = _with_constants(table, target, probed, decimals, grid[:, a, b], offset=False)
                if rule is not None and _both_matter(rule, probed, operands[:, a], operands[:, b], operation):
                    rule.operation, rule.left, rule.right = operation, refs[a], refs[b]
                    rule = _simplest_solved(rule, probed, operands[:, a], operands[:, b], varying, graph)
                    if rule.operation == "*":  # a ratio times a constant is left generated: see _preference
                        yield rule


def _simplest_solved(rule: Formula, target: np.ndarray, a: np.ndarray, b: np.ndarray, varying: dict, graph) -> Formula:
    """``rule`` (``target = k * (a op b)``) or the same formula solved for one of its operands of the
    row, where that holds too and ranks first by :func:`_preference`."""
    best = rule
    with np.errstate(invalid="ignore", divide="ignore"):
        solved = _solutions(rule, target, a, b)
    for operand, values, operation, other, target_first in solved:
        column = operand.column
        if operand.path or column not in varying or graph.derived((rule.table, column)):
            continue
        with np.errstate(invalid="ignore", divide="ignore"):
            values = np.where(np.isfinite(values), values, np.nan)
        found = _with_constants(rule.table, column, varying[column][0], varying[column][1], values, offset=False)
        if found is None:
            continue
        pair = (Ref(rule.column), other) if target_first else (other, Ref(rule.column))
        found.operation, (found.left, found.right) = operation, pair
        if _preference(found) < _preference(best):
            best = found
    return best


def _preference(rule: Formula) -> tuple[bool, int, int]:
    """How a formula with a constant ranks (lowest first): a product before a ratio (a ratio of generated
    values has the tails of its denominator: Lahman's ERA computed from generated earned runs and
    outs spread wider than the generated ERA, column shape 0.758 against 0.767 the other way round; a
    ratio with a constant that no product solves, such as Lahman's ``Teams.ERA`` from two sums, is not
    kept at all: 2-hop trends 0.836 against 0.859 without it), then the shorter constant, then the
    target written with more decimals."""
    return (rule.operation == "/", len(rule.scale), -(99 if rule.decimals is None else rule.decimals))


def _solutions(rule: Formula, target: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple:
    """Per operand of ``target = k * (a op b)``: the operand, the values the solved formula scales,
    its operation, the other operand, and whether the target comes first in it."""
    if rule.operation == "*":
        return (rule.left, target / b, "/", rule.right, True), (rule.right, target / a, "/", rule.left, True)
    if rule.operation == "/":
        return (rule.left, target * b, "*", rule.right, True), (rule.right, a / target, "/", rule.left, False)
    return ()


def _agreeing(actual: np.ndarray, grid: np.ndarray, decimals: int | None) -> np.ndarray:
    """Per pair of operands: whether ``actual`` agrees with their value on the probed rows but
    :data:`PROBE_SLACK`; the first rows sieve the pairs before all are compared."""
    first = min(len(actual), 16)
    head = ~agree_where_known(np.broadcast_to(actual[:first, None, None], grid[:first].shape), grid[:first], decimals)
    out = head.sum(0) <= PROBE_SLACK
    a, b = np.nonzero(out)
    if len(a):
        rest = ~agree_where_known(actual[first:, None], grid[first:, a, b], decimals)
        out[a, b] = head[:, a, b].sum(0) + rest.sum(0) <= PROBE_SLACK
    return out


def _proportional(actual: np.ndarray, grid: np.ndarray, decimals: int | None) -> np.ndarray:
    """Per pair of operands: whether ``actual`` is their value times one factor on the probed rows but
    :data:`PROBE_SLACK`, up to the rounding of ``actual``; a cheap sieve (on the first rows, then on all
    for the pairs left) before the exact check."""
    with np.errstate(invalid="ignore"):
        unit = 10.0 ** (-decimals) if decimals is not None else 1e-9 * np.nanmax(np.abs(actual))
    first = min(len(actual), 16)
    out = _off_by(actual[:first, None, None], grid[:first], 2 * unit) <= PROBE_SLACK
    a, b = np.nonzero(out)
    if len(a):
        out[a, b] = _off_by(actual[:, None], grid[:, a, b], unit) <= PROBE_SLACK
    return out


def _off_by(t: np.ndarray, grid: np.ndarray, unit: float) -> np.ndarray:
    """Rows where ``t`` is not the factor its largest operand value gives times the value, beyond the
    error of rounding ``t`` to ``unit`` (the factor's own error included); every row where no factor is."""
    usable = np.isfinite(grid) & np.isfinite(t)
    big = np.argmax(np.where(usable, np.abs(grid), -1.0), axis=0)[None]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        top = np.take_along_axis(grid, big, 0)
        k = np.take_along_axis(np.broadcast_to(t, grid.shape), big, 0) / top
        bound = unit * (0.51 + 0.51 * np.abs(grid) / np.abs(top)) + 1e-6 * np.abs(t)
        off = usable & ~(np.abs(t - k * grid) <= bound)
    return np.where(np.isfinite(k[0]) & (k[0] != 0), off.sum(0), len(grid) + 1)


def _both_matter(rule: Formula, actual: np.ndarray, a: np.ndarray, b: np.ndarray, operation: str) -> bool:
    """Whether the formula breaks on more than :data:`PROBE_SLACK` rows once either operand is held at
    its median: a nearly constant operand (a latitude of three airports) would fit any constant."""
    scale = float(rule.scale)
    for held_a, held_b in ((np.full_like(a, np.nanmedian(a)), b), (a, np.full_like(b, np.nanmedian(b)))):
        given = operate(held_a, held_b, operation) * scale
        if (~agree_where_known(actual, given, rule.decimals)).sum() <= PROBE_SLACK + MIN_LEVELS:
            return False
    return True


def _distinct_pairs(m: int, own: int, operation: str) -> np.ndarray:
    """Pairs of operands a formula of ``operation`` may take: not the target, each pair once for an
    operation that commutes, never an operand with itself where that gives a constant."""
    ok = np.ones((m, m), dtype=bool)
    ok[own, :] = ok[:, own] = False
    if operation in ("+", "*"):
        return ok & np.triu(np.ones((m, m), dtype=bool), 1)
    return ok & ~np.eye(m, dtype=bool)


def _scaled(table: str, refs: list[Ref], operands: np.ndarray, varying: dict, graph: ColumnGraph) -> Iterator[Rule]:
    """``target = k * a + c`` for one operand ``a`` (not ``a`` itself)."""
    for target, (probed, decimals) in varying.items():
        if graph.derived((table, target)):
            continue
        for j, ref in enumerate(refs):
            if ref == Ref(target):
                continue
            rule = _with_constants(table, target, probed, decimals, operands[:, j], offset=True)
            if rule is None:
                continue
            rule.left = ref
            yield _simpler_way_round(rule, probed, operands[:, j], varying, graph)


def _simpler_way_round(rule: Formula, target: np.ndarray, operand: np.ndarray, varying: dict, graph) -> Formula:
    """``rule`` (``target = k * operand + c``), or the same formula solved for the operand where that
    holds too with shorter constants (``f = 1.8 * c + 32`` rather than ``c = 0.556 * f - 17.8``): the
    column computed from the other is most often the one written with the longer constants."""
    operand_column = rule.left.column
    if rule.left.path or operand_column not in varying or graph.derived((rule.table, operand_column)):
        return rule
    other = _with_constants(rule.table, operand_column, operand, varying[operand_column][1], target, offset=True)
    if other is None or len(other.scale + other.offset) >= len(rule.scale + rule.offset):
        return rule
    other.left = Ref(rule.column)
    return other


def _with_constants(
    table: str, target: str, actual: np.ndarray, decimals: int | None, value: np.ndarray, offset: bool
) -> Formula | None:
    """A formula ``target = k * value (+ c)`` with the shortest decimal constants that give every
    probed row (but :data:`PROBE_SLACK`), if there is one other than ``k = 1, c = 0``."""
    both = np.isfinite(actual) & np.isfinite(value)
    t, v = actual[both], value[both]
    if len(t) < MIN_SUPPORT or len(np.unique(v)) < MIN_LEVELS or len(np.unique(t)) < MIN_LEVELS:
        return None
    unit = 10.0 ** (-decimals) if decimals is not None else 1e-9 * float(np.abs(t).max())
    if offset:
        lo, hi = int(np.argmin(v)), int(np.argmax(v))
        k = (t[hi] - t[lo]) / (v[hi] - v[lo])
        scale = decimal_text(k, unit / (v[hi] - v[lo]))
        c = decimal_text(float(np.median(t - float(scale) * v)), 0.5 * unit)
    else:
        big = int(np.argmax(np.abs(v)))
        if v[big] == 0:
            return None
        scale, c = decimal_text(t[big] / v[big], 0.5 * unit / abs(v[big])), "0"
    if float(scale) == 0 or (scale == "1" and c == "0"):
        return None
    given = value * float(scale) + float(c)  # unrounded: a value rounded half up agrees too
    if (~agree_where_known(actual, given, decimals)).sum() > PROBE_SLACK:
        return None
    return Formula(table, target, "*", Ref(""), None, decimals, scale=scale, offset=c)
