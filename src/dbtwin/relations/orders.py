"""Orders between two values of a row (a later time, a larger amount): the search for them, and the
orders that follow from two others left out."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from dbtwin.relations.candidates import MIN_SUPPORT, PROBE_SLACK, gap_quantiles, probe_rows, refs_where, tables_with
from dbtwin.relations.graph import ColumnGraph
from dbtwin.relations.rules import Order, Ref, Rule
from dbtwin.relations.values import Views, is_orderable

#: An order is kept only if independent values would break it at least this often (1 - this share):
#: bytes >= milliseconds holds on every track, and would for any two tracks.
ORDER_BY_CHANCE = 0.95


def orders(views: Views, graph: ColumnGraph, rng: np.random.Generator) -> Iterator[Rule]:
    schema = views.db.schema
    for table, rows in tables_with(views, MIN_SUPPORT):
        refs = refs_where(schema, table, lambda c: is_orderable(c.kind, c.dtype))
        probe = probe_rows(len(rows), rng)
        values = {r: rows.numbers(r) for r in refs}
        is_time = {r: pd.api.types.is_datetime64_any_dtype(rows.series(r).dtype) for r in refs}
        for later in (r for r in refs if not r.path and not graph.derived((table, r.column))):
            for earlier in refs:
                if earlier == later or is_time[earlier] != is_time[later]:
                    continue
                # from above only by a parent's value: two of the row's own are one order either way
                for above in (True, False) if earlier.path else (True,):
                    rule = _order(table, values[later], values[earlier], probe, later, earlier, above)
                    if rule is not None:
                        yield rule


def _order(table: str, value, bound, probe, later: Ref, earlier: Ref, above: bool) -> Order | None:
    """The order of ``value`` against ``bound`` (from below, or from above) if the probed rows keep it
    (one may break it: a rule broken by a few rows is reported) and it says more than chance."""
    b, a = (value, bound) if above else (-value, -bound)
    pa, pb = a[probe], b[probe]
    both = np.isfinite(pa) & np.isfinite(pb)
    if (pb[both] < pa[both]).sum() > PROBE_SLACK:
        return None
    full = np.isfinite(a) & np.isfinite(b)
    fa, fb = a[full], b[full]
    if len(fa) < MIN_SUPPORT or not (fb > fa).any() or _by_chance(fa, fb) > ORDER_BY_CHANCE:
        return None  # too few rows, always equal (a copy), or what the two ranges give anyway
    kept = fb >= fa
    gaps = gap_quantiles(fb[kept] - fa[kept]) if kept.any() else ()
    return Order(table, later.column, earlier, tuple(gaps), above=above)


def _by_chance(a: np.ndarray, b: np.ndarray) -> float:
    """The share of pairs of an ``a`` and a ``b`` drawn independently in which ``b >= a``."""
    a = np.sort(a[:: max(1, len(a) // 4096)])
    b = b[:: max(1, len(b) // 4096)]
    return float(np.searchsorted(a, b, side="right").mean() / len(a))


def without_implied_orders(rules: list[Rule]) -> list[Rule]:
    """Rules with each order that follows from two others of the same table left out (a <= b <= c
    makes a <= c implied)."""
    orders = [r for r in rules if isinstance(r, Order) and r.above]
    above: dict[tuple[str, Ref], set[Ref]] = {}
    for r in orders:
        above.setdefault((r.table, r.earlier), set()).add(Ref(r.column))

    def implied(r: Order) -> bool:
        for middle in above.get((r.table, r.earlier), set()):
            if middle != Ref(r.column) and Ref(r.column) in _reachable(above, r.table, middle):
                return True
        return False

    return [r for r in rules if not (isinstance(r, Order) and r.above and implied(r))]


def _reachable(above: dict[tuple[str, Ref], set[Ref]], table: str, start: Ref) -> set[Ref]:
    seen, stack = {start}, [start]
    while stack:
        for nxt in above.get((table, stack.pop()), set()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen
