"""Discovery: every rule a real database keeps on all of its rows.

Candidates are proposed by column type (labels for dependencies, numbers for formulas and
aggregates, numbers and datetimes for orders), checked first on a few hundred rows and only then on
every row; a rule broken by a single row is not kept (the closest such candidates are reported as
near misses). A candidate that NULLs break (only one of its column and what it gives NULL on some
rows) is checked again on the other rows, and kept with ``holes`` set when at least
:data:`HOLE_SUPPORT` of them keep it and none breaks it (see :mod:`dbtwin.relations.rules`).
Rules are accepted in a fixed order (declared ones first, then :data:`KINDS`), each only if its column is
not derived already and if it does not make the columns depend on themselves, so that sampling can
compute them one after another. A candidate broken by a few rows (kept by at least :data:`NEAR_MISS` of
them) is a near miss, reported with the rows that break it; the metadata may turn near rules on
(``relations.near``), and the twin then keeps them on every row.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from dbtwin.database import Database
from dbtwin.encode.rare import Protection
from dbtwin.relations.candidates import (
    HOLE_SUPPORT,
    MIN_SUPPORT,
    PROBE_ROWS,
    PROBE_SLACK,
    columns_where,
    gap_quantiles,
    generated_columns,
    is_datetime,
    parent_keys,
    probe_rows,
    tables_with,
    varies,
)
from dbtwin.relations.compute import Kept, aggregate_by_parent, broken_rows, datetime_part, keeping_around
from dbtwin.relations.dependencies import dependencies, dependency
from dbtwin.relations.formulas import formulas
from dbtwin.relations.graph import ColumnGraph
from dbtwin.relations.numbering import numberings
from dbtwin.relations.orders import orders, without_implied_orders
from dbtwin.relations.rules import PARTS, Aggregate, Copy, Dependency, Formula, Order, Part, Ref, Rule, Running
from dbtwin.relations.running import runnings
from dbtwin.relations.timing import periods, steps
from dbtwin.relations.values import Views, agree_where_known, decimals_of, is_number
from dbtwin.schema.model import ColumnKind, StorageType

log = logging.getLogger(__name__)

#: Share of rows a near miss keeps (reported, never kept).
NEAR_MISS = 0.99
#: The kinds of rules searched for, in the order they are accepted (those that repair one column run
#: in this order too: a period, then orders, then the grid).
KINDS = ("copy", "aggregate", "formula", "part", "running", "dependency", "numbering", "period", "order", "step")
#: Breaking rows a near miss reports.
SHOWN_BREAKS = 10


@dataclass
class Discovery:
    """Rules found, candidates that almost held, and what the search cost."""

    rules: list[Rule] = field(default_factory=list)
    near_misses: list[tuple[Rule, Kept]] = field(default_factory=list)
    #: rules kept though a few real rows break them (the metadata's ``near``), with those rows
    near_rules: list[tuple[Rule, Kept]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    candidates: dict[str, int] = field(default_factory=dict)


Pattern = tuple[str | None, str | None, str | None]


def discover(
    db: Database,
    *,
    declared: list[Rule] | None = None,
    off: set[Pattern] | None = None,
    near: set[Pattern] | None = None,
    kinds: tuple[str, ...] = KINDS,
    protection: Protection | None = None,
    random_state: int = 0,
) -> Discovery:
    """Every rule ``db`` keeps on all its rows, after the ``declared`` ones (which are checked too:
    one the data break raises nothing but is logged and dropped, unless it is declared ``near``).
    ``off`` holds ``(kind, table, column)`` patterns (None matches anything) of rules not to keep;
    ``near`` those of rules to keep though a few rows break them. A dependency's mapping holds no
    value ``protection`` keeps out of a twin (by default: no text seen fewer than 3 times)."""
    protection = protection or Protection()
    out = Discovery()
    graph = ColumnGraph()
    rng = np.random.default_rng(random_state)
    views = Views(db)

    def accept(rule: Rule) -> bool:
        if _matches(off, rule) or not graph.can_add(rule, db.schema):
            return False
        graph.add(rule, db.schema)
        out.rules.append(rule)
        return True

    for rule in declared or []:
        _declare(db, views, _completed(views, rule, protection), accept, out)
    searches = {
        "copy": _copies,
        "aggregate": _aggregates,
        "formula": formulas,
        "part": _parts,
        "running": runnings,
        "dependency": lambda v, g, r: dependencies(v, g, protection),
        "numbering": numberings,
        "period": periods,
        "order": orders,
        "step": steps,
    }
    for kind in kinds:
        started = time.monotonic()
        checked = 0
        for candidate in searches[kind](views, graph, rng):
            checked += 1
            if graph.derived(candidate.target) or _matches(off, candidate):
                continue
            kept = _checked(db, candidate, views)
            if kept.holds and kept.rows >= 1:
                accept(candidate)
            elif kept.share is not None and kept.share >= NEAR_MISS:
                if _matches(near, candidate) and _near(candidate, kept) and accept(candidate):
                    out.near_rules.append((candidate, kept))
                else:
                    out.near_misses.append((candidate, kept))
        out.seconds[kind] = time.monotonic() - started
        out.candidates[kind] = checked
    if kinds:
        out.rules = without_implied_orders(out.rules)
    return out


def _matches(patterns: set[Pattern] | None, rule: Rule) -> bool:
    return any(
        (k is None or k == rule.kind) and (t is None or t == rule.table) and (c is None or c == rule.column)
        for k, t, c in patterns or ()
    )


def _near(rule: Rule, kept: Kept) -> bool:
    """Mark ``rule`` as kept though the rows ``kept`` counts break it (not one with holes)."""
    if rule.holes:
        return False
    rule.near = True
    return True


def _declare(db: Database, views: Views, rule: Rule, accept, out: Discovery) -> None:
    """Keep a declared rule the data keep (a ``near`` one whatever rows break it), else log why not."""
    kept = _checked(db, rule, views)
    what = rule.describe(db.schema)
    if not kept.holds and not rule.near:
        log.warning("declared relation %s is broken by %d of %d rows: not kept", what, kept.rows - kept.kept, kept.rows)
    elif not accept(rule):
        log.warning("declared relation %s conflicts with another: not kept", what)
    elif not kept.holds:
        out.near_rules.append((rule, kept))


def _checked(db: Database, rule: Rule, views: Views) -> Kept:
    """How the rows keep ``rule``: all of them, else those without holes (``rule.holes`` is then set
    if they keep it, at least :data:`HOLE_SUPPORT` of them with both sides known); where rows break it,
    the first :data:`SHOWN_BREAKS` of them."""
    kept, around = keeping_around(db, rule, views)
    if kept.holds or isinstance(rule, Order):
        return _with_breaks(db, rule, views, kept)
    if around.holes and around.holds and around.rows - around.empty >= HOLE_SUPPORT:
        rule.holes = True
        return around
    return _with_breaks(db, rule, views, kept)


def _with_breaks(db: Database, rule: Rule, views: Views, kept: Kept) -> Kept:
    if kept.holds or kept.share is None or kept.share < NEAR_MISS:
        return kept
    rows = broken_rows(db, rule, views)[:SHOWN_BREAKS]
    return replace(kept, breaking=tuple(row_label(db, rule.table, int(i)) for i in rows))


def row_label(db: Database, table: str, position: int) -> str:
    """A row as a person finds it: its primary key's values (else its row number, from 1)."""
    key = db.schema.table(table).primary_key
    if not key:
        return f"row {position + 1}"
    frame = db[table]
    return ", ".join(f"{c}={frame[c].iloc[position]}" for c in key)


def _completed(views: Views, rule: Rule, protection: Protection) -> Rule:
    """A declared rule with what is learned from the data filled in (a dependency's mapping, the
    decimals of a computed number, the distances an order draws from)."""
    rows = views.of(rule.table)
    if isinstance(rule, Dependency) and not rule.mapping and not rule.fallback:
        learned = dependency(rows, rule.table, rule.column, rule.determinant, protection)
        if learned is not None:
            learned.holes, learned.near = rule.holes, rule.near
        return learned or rule
    if isinstance(rule, Aggregate | Formula | Running) and rule.decimals is None:
        rule.decimals = decimals_of(rows.numbers(Ref(rule.column)))
    if isinstance(rule, Order) and not rule.gaps:
        value, bound = rows.numbers(Ref(rule.column)), rows.numbers(rule.earlier)
        distance = value - bound if rule.above else bound - value
        kept = np.isfinite(distance) & (distance >= 0)
        if kept.any():
            rule.gaps = tuple(gap_quantiles(distance[kept]))
    return rule


# ------------------------------------------------------------------------------------- copies
def _copies(views: Views, graph: ColumnGraph, rng: np.random.Generator) -> Iterator[Rule]:
    db = views.db
    schema = db.schema
    for fk in (f for f in schema.foreign_keys if not f.is_self_reference):
        rows = views.of(fk.child)
        if not len(rows) or not len(db[fk.parent]):
            continue
        pos = rows.positions(fk.name)
        if (pos < -1).any():  # orphans: nothing is certain
            continue
        linked = pos >= 0
        probe = np.flatnonzero(linked)[:PROBE_ROWS]
        parent_cols = columns_where(schema, fk.parent, lambda c: c.kind != ColumnKind.ID)
        for col in columns_where(schema, fk.child, lambda c: c.kind != ColumnKind.ID):
            values = rows.frame[col]
            if graph.derived((fk.child, col)) or values.nunique() < 2 or values[~linked].notna().any():
                continue
            dtype = schema.table(fk.child).column(col).dtype
            for pcol in parent_cols:
                if schema.table(fk.parent).column(pcol).dtype != dtype:
                    continue
                source = db[fk.parent][pcol]
                a = values.iloc[probe].reset_index(drop=True)
                b = source.iloc[pos[probe]].reset_index(drop=True)
                both = a.notna() & b.notna()
                if not both.any() or (a[both] != b[both]).sum() > PROBE_SLACK:
                    continue
                yield Copy(fk.child, col, fk.name, pcol)


# --------------------------------------------------------------------------------- aggregates
def _aggregates(views: Views, graph: ColumnGraph, rng: np.random.Generator) -> Iterator[Rule]:
    schema = views.db.schema
    for fk in (f for f in schema.foreign_keys if not f.is_self_reference):
        parent_rows, child = views.of(fk.parent), views.of(fk.child)
        targets = [c for c in columns_where(schema, fk.parent, _number) if not graph.derived((fk.parent, c))]
        if not targets or not len(child):
            continue
        pos = child.positions(fk.name)
        probe = probe_rows(len(parent_rows), rng)
        in_probe = np.full(len(parent_rows), -1)
        in_probe[probe] = np.arange(len(probe))
        local = np.where(pos >= 0, in_probe[np.where(pos >= 0, pos, 0)], -1)
        chosen = local >= 0
        child_cols = columns_where(schema, fk.child, _number)
        numbers = {c: child.numbers(Ref(c)) for c in child_cols}
        candidates: list[tuple[str, tuple[str, ...], np.ndarray]] = [("count", (), np.ones(len(pos)))]
        for c in child_cols:
            candidates += [(f, (c,), numbers[c]) for f in ("sum", "min", "max", "mean")]
        with np.errstate(over="ignore", invalid="ignore"):
            for i, a in enumerate(child_cols):
                for b in child_cols[i + 1 :]:
                    candidates.append(("sum", (a, b), numbers[a] * numbers[b]))
        childless = np.bincount(pos[pos >= 0], minlength=len(parent_rows)) == 0
        given = [_probe_aggregate(local, chosen, values, len(probe), function) for function, _, values in candidates]
        for target in targets:
            actual = parent_rows.numbers(Ref(target))
            if not varies(actual):
                continue
            empty_values = actual[childless]
            decimals = decimals_of(actual)
            for (function, cols, _), raw in zip(candidates, given, strict=True):
                empty = _empty_value(empty_values, function)
                if empty is False:
                    continue
                expected = np.where(childless[probe], np.nan if empty is None else empty, raw)
                if (~agree_where_known(actual[probe], expected, decimals)).sum() <= PROBE_SLACK:
                    yield Aggregate(fk.parent, target, fk.name, function, cols, decimals, empty)  # type: ignore[arg-type]


def _probe_aggregate(local: np.ndarray, chosen: np.ndarray, values: np.ndarray, n: int, function: str) -> np.ndarray:
    """``function`` of the children's ``values`` per probed parent (``local``: a child's parent among
    them, ``chosen``: children of one); NULL for a parent one of whose children's values is missing
    (its aggregate is not known), and for one without children (the caller gives those their value)."""
    out = aggregate_by_parent(local[chosen], values[chosen], n, function, None, None)
    if function != "count":
        holed = chosen & np.isnan(values)
        out[np.bincount(local[holed], minlength=n) > 0] = np.nan
    return out


def _empty_value(values: np.ndarray, function: str) -> float | bool | None:
    """What a row without children holds: the one value the real ones hold, else SQL's (0 for a count
    or a sum, NULL otherwise). False when they disagree."""
    if not len(values):
        return 0.0 if function in ("count", "sum") else None
    if np.isnan(values).all():
        return None
    known = values[np.isfinite(values)]
    if known.min() != known.max() or (len(known) < len(values) and function in ("min", "max", "mean")):
        return False  # NULL is what those give without children: a value beside NULLs breaks it
    return float(known[0])


def _number(c) -> bool:
    return is_number(c.kind, c.dtype)


# ------------------------------------------------------------------------------ datetime parts
def _parts(views: Views, graph: ColumnGraph, rng: np.random.Generator) -> Iterator[Rule]:
    schema = views.db.schema
    for table, rows in tables_with(views, MIN_SUPPORT):
        targets = [
            c.name
            for c in schema.table(table).columns
            if c.name not in schema.key_columns(table)
            and c.dtype == StorageType.INT64
            and c.kind != ColumnKind.ID
            and not graph.derived((table, c.name))
        ]
        sources = [Ref(c) for c in generated_columns(schema, table) if is_datetime(schema, table, c)]
        for fk in parent_keys(schema, table):
            sources += [
                Ref(c, (fk.name,)) for c in generated_columns(schema, fk.parent) if is_datetime(schema, fk.parent, c)
            ]
        if not targets or not sources:
            continue
        probe = probe_rows(len(rows), rng)
        offsets = {0}
        for target in targets:  # a local hour of a UTC time: the same shift on every row
            actual = rows.numbers(Ref(target))[probe]
            for source in sources:
                shift = (actual - datetime_part(rows.series(source).iloc[probe], "hour")) % 24
                shift = shift[np.isfinite(shift)]
                if len(shift) and (shift == shift[0]).all():
                    offsets.add(int(shift[0]) - 24 if shift[0] > 12 else int(shift[0]))
        parts = {
            (s, p, o): datetime_part(rows.series(s).iloc[probe], p, o) for s in sources for p in PARTS for o in offsets
        }
        for target in targets:
            actual = rows.numbers(Ref(target))
            if not varies(actual):
                continue
            for (source, part, offset), values in parts.items():
                both = np.isfinite(actual[probe]) & np.isfinite(values)
                agree = agree_where_known(actual[probe], values, 0)
                if both.sum() >= min(MIN_SUPPORT, len(probe)) and (~agree).sum() <= PROBE_SLACK:
                    yield Part(table, target, source, part, offset)
