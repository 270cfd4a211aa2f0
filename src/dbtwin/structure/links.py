"""Generation of the row graph (row counts and every foreign-key link) from per-row templates.

Both structure models share this engine. Every real row leaves a *template*: its block, for each
foreign key it holds the block of the parent it points to (or NULL), and for each foreign key that
points at it the number of children it has. A synthetic table of ``n`` rows takes its templates from
the real rows (each exactly once at scale 1, drawn with replacement otherwise). Each foreign key is
then a configuration model within block pairs: the children that target block ``b`` are matched at
random to stubs of the parents in ``b``, each parent repeated by its template degree, adjusted so the
counts agree. Hence referential integrity holds by construction; degree histograms, NULL rates and
(with blocks) the edge counts between block pairs are kept; duplicate foreign-key combinations are
re-matched away where the real data has none; self-references become forests with the real fan-out.
"""

from __future__ import annotations

import logging

import numpy as np

from dbtwin.graph.row_graph import ForeignKeyEdges, RowGraph
from dbtwin.schema.model import ForeignKey, Schema
from dbtwin.structure.overlaps import ParentPool, implied_foreign_keys, overlapping_foreign_keys
from dbtwin.structure.templates import GivenRows, Templates, given_sizes, parent_row_array

log = logging.getLogger(__name__)


def _agree_on_overlaps(
    table: str,
    overlaps: list[tuple[ForeignKey, ForeignKey, ForeignKey, ForeignKey]],
    unique: list[ForeignKey],
    parent_rows: dict[str, np.ndarray],
    links: dict[str, ForeignKeyEdges],
    templates: Templates,
    picks: dict[str, np.ndarray],
    rng: np.random.Generator,
    rounds: int = 30,
) -> np.ndarray | None:
    """Make overlapping keys agree: a row whose second parent descends from another ancestor than its
    first parent gets a new second parent among those of the right ancestor (drawn by their template
    degree), repeated while that creates a repeated combination of unique keys. Rows with no such
    parent, or still repeated, are dropped; returns the rows kept, or None."""
    drop = np.zeros(len(picks[table]), dtype=bool)
    for first, second, hop_a, hop_b in overlaps:
        n_second = len(picks[second.parent])
        anc = _follow(parent_rows[first.name], links[hop_a.name], len(picks[first.parent]))
        second_anc = parent_row_array(links[hop_b.name], n_second)
        weights = templates.parent_degree[second.name][picks[second.parent]] + 0.5
        pool = ParentPool(second_anc, weights)
        rows_b = parent_rows[second.name]
        pool.repick(pool.disagreeing(anc, rows_b), anc, rows_b, rng)
        if unique:
            for _ in range(rounds):
                combos = np.stack([parent_rows[fk.name] for fk in unique], axis=1)
                dup = np.flatnonzero(_duplicated_rows(combos))
                if not len(dup):
                    break
                pool.repick(dup, anc, rows_b, rng)
            drop |= _duplicated_rows(np.stack([parent_rows[fk.name] for fk in unique], axis=1))
        drop[pool.disagreeing(anc, rows_b)] = True
    if drop.any():
        log.info("table '%s': dropped %d row(s) whose overlapping keys could not agree", table, drop.sum())
        return np.flatnonzero(~drop)
    return None


def generate_links(
    schema: Schema,
    templates: Templates,
    real_sizes: dict[str, int],
    scale: float,
    rng: np.random.Generator,
    given: GivenRows | None = None,
    chosen: dict[str, np.ndarray] | None = None,
) -> tuple[RowGraph, dict[str, np.ndarray]]:
    """A new row graph with ``round(n * scale)`` rows per table (real size for fixed tables; the given
    rows, and as many rows under them as the real ones have, with ``given``), and for every table the
    real row whose template each synthetic row took (a given row: a real row drawn at random);
    ``chosen``: those real rows per generated table, drawn by the caller (:func:`draw_picks`)."""
    if scale <= 0:
        raise ValueError("scale must be positive")
    around = given_sizes(schema, templates, real_sizes, given)
    picks: dict[str, np.ndarray] = {}
    for table, n_real in real_sizes.items():
        mine = (chosen or {}).get(table)
        if (
            mine is not None
            and table not in templates.fixed
            and len(mine) == (given.rows if given else {}).get(table, len(mine))
        ):
            picks[table] = mine  # drawn by the caller (a given table's: when they are its rows' templates)
        elif table in templates.fixed and around.get(table, n_real) == n_real:  # a kept table's rows: its real ones
            picks[table] = np.arange(n_real)
        elif table in around:  # a fitted table has rows: each given (or derived) row takes a real one's template
            picks[table] = rng.integers(0, n_real, size=around[table])
        else:
            picks[table] = draw_picks(n_real, scale, rng)
    implied = implied_foreign_keys(schema)
    overlaps = overlapping_foreign_keys(schema)
    links: dict[str, ForeignKeyEdges] = {}
    for table in schema.topological_order():
        fks = schema.foreign_keys_of(table)
        real = (
            given.links if given and table in given.rows else templates.kept_links if table in templates.fixed else None
        )
        if real is not None:  # a kept or given table keeps its real links (its parents are kept or given too)
            for fk in fks:
                rows = real[fk.name]
                child_rows = np.flatnonzero(rows >= 0)
                links[fk.name] = ForeignKeyEdges(fk, child_rows.astype(np.int64), rows[child_rows])
            continue
        parent_rows: dict[str, np.ndarray] = {}
        for fk in fks:
            if fk.is_self_reference:
                continue
            parent_rows[fk.name] = _match(fk, templates, picks, rng)
        unique = [fk for fk in fks if fk.name in templates.unique_links.get(table, []) and fk.name not in implied]
        if unique:
            keep = _rematch_duplicates(table, unique, parent_rows, templates, picks, rng)
            if keep is not None:
                _renumber_parents(links, table, keep, len(picks[table]), rng)
                picks[table] = picks[table][keep]
                parent_rows = {k: v[keep] for k, v in parent_rows.items()}
        mine = [o for o in overlaps if o[0].child == table]
        if mine:
            keep = _agree_on_overlaps(table, mine, unique, parent_rows, links, templates, picks, rng)
            if keep is not None:
                _renumber_parents(links, table, keep, len(picks[table]), rng)
                picks[table] = picks[table][keep]
                parent_rows = {k: v[keep] for k, v in parent_rows.items()}
        for fk in fks:  # after re-matching, so derived keys follow the final wide keys
            if fk.name in implied:
                wide, hop = implied[fk.name]
                derived = _follow(parent_rows[wide.name], links[hop.name], len(picks[wide.parent]))
                parent_rows[fk.name] = np.where(derived >= 0, derived, parent_rows[fk.name])
        for fk in fks:
            if fk.is_self_reference:
                parent_rows[fk.name] = _forest(fk, templates, picks[table], rng)
        for fk in fks:
            rows = parent_rows[fk.name]
            child_rows = np.flatnonzero(rows >= 0)
            links[fk.name] = ForeignKeyEdges(fk, child_rows.astype(np.int64), rows[child_rows].astype(np.int64))
    sizes = {t: len(p) for t, p in picks.items()}
    return RowGraph(schema, sizes, links), picks


def draw_picks(n_real: int, scale: float, rng: np.random.Generator) -> np.ndarray:
    """The real rows whose templates the synthetic rows of a table of ``n_real`` rows take at
    ``scale``: each real row once at scale 1, else ``round(n_real * scale)`` (at least one) drawn with
    replacement."""
    if scale == 1.0:
        return rng.permutation(n_real)
    n = picked_rows(n_real, scale)
    return rng.integers(0, n_real, size=n) if n_real else np.zeros(0, dtype=np.int64)


def picked_rows(n_real: int, scale: float) -> int:
    """How many rows a table of ``n_real`` rows has at ``scale`` (:func:`draw_picks`)."""
    return n_real if scale == 1.0 else max(1, round(n_real * scale)) if n_real else 0


def _renumber_parents(
    links: dict[str, ForeignKeyEdges], table: str, keep: np.ndarray, n_before: int, rng: np.random.Generator
) -> None:
    """``table`` lost rows after children in its foreign-key cycle were linked to it: point their
    links at the kept rows' new positions, and a link to a dropped row at a random kept row."""
    kept = np.flatnonzero(keep) if keep.dtype == bool else np.asarray(keep, dtype=np.int64)
    mapping = np.full(n_before, -1, dtype=np.int64)
    mapping[kept] = np.arange(len(kept))
    for name, link in links.items():
        if link.fk.parent != table or link.fk.is_self_reference:
            continue
        rows = mapping[link.parent_rows]
        lost = rows < 0
        if lost.any() and len(kept):
            rows[lost] = rng.integers(0, len(kept), size=int(lost.sum()))
        links[name] = ForeignKeyEdges(link.fk, link.child_rows[rows >= 0], rows[rows >= 0])


def _follow(wide_parent: np.ndarray, hop: ForeignKeyEdges, n_wide_parent: int) -> np.ndarray:
    through = parent_row_array(hop, n_wide_parent)
    out = np.full(len(wide_parent), -1, dtype=np.int64)
    ok = wide_parent >= 0
    out[ok] = through[wide_parent[ok]]
    return out


def _adjust(degrees: np.ndarray, total: int, rng: np.random.Generator) -> np.ndarray:
    """Degrees changed by random unit steps (proportional to size) until they sum to ``total``."""
    degrees = degrees.astype(np.int64).copy()
    diff = total - int(degrees.sum())
    if diff > 0:
        weights = degrees + 1.0 if degrees.sum() == 0 else degrees + 0.1
        degrees += rng.multinomial(diff, weights / weights.sum())
    elif diff < 0:
        stubs = np.repeat(np.arange(len(degrees)), degrees)
        drop = rng.choice(len(stubs), size=-diff, replace=False)
        degrees -= np.bincount(stubs[drop], minlength=len(degrees))
    return degrees


def _match(fk: ForeignKey, templates: Templates, picks: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    target = templates.child_target[fk.name][picks[fk.child]]
    parent_pick = picks[fk.parent]
    degree = templates.parent_degree[fk.name][parent_pick]
    pblock = templates.blocks[fk.parent][parent_pick]
    result = np.full(len(target), -1, dtype=np.int64)
    if not len(parent_pick):
        return result
    for block in np.unique(target[target >= 0]):
        children = np.flatnonzero(target == block)
        parents = np.flatnonzero(pblock == block)
        if not len(parents):
            parents = np.arange(len(parent_pick))
        d = _adjust(degree[parents], len(children), rng)
        stubs = np.repeat(parents, d)
        result[children] = stubs[rng.permutation(len(stubs))]
    return result


def _rematch_duplicates(
    table: str,
    fks: list[ForeignKey],
    parent_rows: dict[str, np.ndarray],
    templates: Templates,
    picks: dict[str, np.ndarray],
    rng: np.random.Generator,
    rounds: int = 40,
    candidates: int = 64,
) -> np.ndarray | None:
    """Re-match rows that repeat a combination of parents: each such row swaps the parent of its
    last foreign key with another row (same target block) whose swap creates no new repeat; swaps keep
    every degree. Rows still repeated after ``rounds`` swap with rows of any block for as many rounds
    again (a block pair's link count gives way before a row is lost); rows still repeated then are
    dropped; returns the rows kept, or None."""
    last = fks[-1].name
    blocked = templates.child_target[last][picks[table]]
    combos = np.stack([parent_rows[fk.name] for fk in fks], axis=1)
    width = int(combos.max()) + 2 if combos.size else 1
    for i in range(2 * rounds):
        target = blocked if i < rounds else np.where(blocked >= 0, 0, blocked)
        dup = np.flatnonzero(_duplicated_rows(combos))
        if not len(dup):
            break
        existing = np.unique(_pair_keys(combos, width))
        for block in np.unique(target[dup]):
            mine = dup[target[dup] == block]
            pool = np.flatnonzero(target == block)
            partners = pool[rng.integers(0, len(pool), size=(len(mine), candidates))]
            # a swap is good when neither row's new combination exists already
            mine_new = combos[mine][:, None, :].repeat(candidates, axis=1)
            mine_new[:, :, -1] = combos[partners, -1]
            part_new = combos[partners].copy()
            part_new[:, :, -1] = combos[mine, -1][:, None]
            ok = ~_contains_sorted(existing, _pair_keys(mine_new, width)) & ~_contains_sorted(
                existing, _pair_keys(part_new, width)
            )
            ok &= partners != mine[:, None]
            has = ok.any(axis=1)
            choice = partners[np.arange(len(mine)), ok.argmax(axis=1)]
            rows, partner = mine[has], choice[has]
            _, first = np.unique(np.concatenate([rows, partner]), return_index=True)
            used = np.zeros(len(rows) * 2, dtype=bool)
            used[first] = True
            clean = used[: len(rows)] & used[len(rows) :]  # each row in at most one swap this round
            rows, partner = rows[clean], partner[clean]
            a, b = combos[rows, -1].copy(), combos[partner, -1].copy()
            combos[rows, -1], combos[partner, -1] = b, a
    parent_rows[last][:] = combos[:, -1]
    dup = _duplicated_rows(combos)
    if dup.any():
        log.info(
            "table '%s': dropped %d row(s) whose parents could not be re-matched without repeats", table, dup.sum()
        )
        return np.flatnonzero(~dup)
    return None


def _pair_keys(combos: np.ndarray, width: int) -> np.ndarray:
    """One integer per parent combination (last axis), for membership tests."""
    key = np.zeros(combos.shape[:-1], dtype=np.int64)
    for j in range(combos.shape[-1]):
        key = key * width + (combos[..., j] + 1)
    return key


def _contains_sorted(sorted_keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    pos = np.clip(np.searchsorted(sorted_keys, queries), 0, len(sorted_keys) - 1)
    return sorted_keys[pos] == queries


def _duplicated_rows(combos: np.ndarray) -> np.ndarray:
    complete = (combos >= 0).all(axis=1)
    out = np.zeros(len(combos), dtype=bool)
    idx = np.flatnonzero(complete)
    if not len(idx):
        return out
    _, first = np.unique(combos[idx], axis=0, return_index=True)
    seen = np.zeros(len(idx), dtype=bool)
    seen[first] = True
    out[idx] = ~seen
    return out


def _forest(fk: ForeignKey, templates: Templates, pick: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Parents for a self-reference: a forest whose roots (rows with no parent) and fan-out follow the
    templates; parents come before children, so it never has a cycle."""
    n = len(pick)
    parent = np.full(n, -1, dtype=np.int64)
    if not n:
        return parent
    has_parent = templates.child_target[fk.name][pick] >= 0
    n_roots = max(1, int((~has_parent).sum()))
    order = rng.permutation(n)
    degree = _adjust(templates.parent_degree[fk.name][pick[order]], n - n_roots, rng)
    # BFS: roots are the first n_roots rows of ``order``; each node takes the next unplaced rows as children
    queue, head, placed = list(range(n_roots)), 0, n_roots
    while placed < n:
        if head == len(queue):  # the fan-out ran dry: hang the next row under a random placed node
            node = int(rng.integers(0, placed))
            parent[order[placed]] = order[node]
            queue.append(placed)
            placed += 1
            continue
        node = queue[head]
        head += 1
        take = min(int(degree[node]), n - placed)
        for child in range(placed, placed + take):
            parent[order[child]] = order[node]
            queue.append(child)
        placed += take
    return parent
