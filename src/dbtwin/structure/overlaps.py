"""Foreign keys of one table that share columns: a key implied by a wider one (its value follows from
the wider key's parent), keys that overlap without one holding the other and so must agree on the
ancestor row they share, and the pool of parent rows by ancestor that makes them agree."""

from __future__ import annotations

import numpy as np

from dbtwin.schema.model import ForeignKey, Schema


def implied_foreign_keys(schema: Schema) -> dict[str, tuple[ForeignKey, ForeignKey]]:
    """Foreign keys whose value follows from a wider one: ``flights.origin -> airports`` follows from
    ``flights.(origin, time_hour) -> weather`` because ``weather.origin -> airports``. Maps the implied
    key's name to (the wider key, the parent's key it goes through)."""
    implied = {}
    for fk in schema.foreign_keys:
        for wide in schema.foreign_keys_of(fk.child):
            if wide.name == fk.name or not set(fk.columns) < set(wide.columns):
                continue
            mapping = dict(zip(wide.columns, wide.parent_columns, strict=True))
            through = tuple(mapping[c] for c in fk.columns)
            for hop in schema.foreign_keys_of(wide.parent):
                if hop.parent == fk.parent and hop.columns == through and hop.parent_columns == fk.parent_columns:
                    implied[fk.name] = (wide, hop)
    return implied


def overlapping_foreign_keys(schema: Schema) -> list[tuple[ForeignKey, ForeignKey, ForeignKey, ForeignKey]]:
    """Pairs of foreign keys of one table that share columns without one holding the other:
    ``challenges.(series, episode) -> episodes`` and ``challenges.(series, baker) -> bakers`` share
    ``series``. A pair counts when the shared columns lead, through each parent, to the same ancestor
    key (episodes.series and bakers.series -> series); returns (first, second, first's hop, second's hop)."""
    implied = implied_foreign_keys(schema)
    pairs = []
    for table in schema.table_names:
        fks = [fk for fk in schema.foreign_keys_of(table) if not fk.is_self_reference and fk.name not in implied]
        for i, first in enumerate(fks):
            for second in fks[i + 1 :]:
                shared = [c for c in first.columns if c in second.columns]
                if not shared or set(first.columns) <= set(second.columns) or set(second.columns) <= set(first.columns):
                    continue
                through = []
                for fk in (first, second):
                    mapping = dict(zip(fk.columns, fk.parent_columns, strict=True))
                    cols = tuple(mapping[c] for c in shared)
                    through.append([h for h in schema.foreign_keys_of(fk.parent) if h.columns == cols])
                for hop_a in through[0]:
                    hop_b = next((h for h in through[1] if h.parent == hop_a.parent), None)
                    if hop_b is not None and hop_b.parent_columns == hop_a.parent_columns:
                        pairs.append((first, second, hop_a, hop_b))
                        break
    return pairs


class ParentPool:
    """Parent rows grouped by their ancestor row, to draw a parent of a given ancestor by weight."""

    def __init__(self, ancestor: np.ndarray, weights: np.ndarray) -> None:
        self.ancestor = ancestor
        self.order = np.argsort(ancestor, kind="stable")
        self.sorted = ancestor[self.order]
        self.cumulative = np.cumsum(weights[self.order].astype(np.float64))

    def disagreeing(self, wanted: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Children whose parent row (``rows``) has another ancestor than ``wanted``."""
        current = np.where(rows >= 0, self.ancestor[np.maximum(rows, 0)], -1)
        return np.flatnonzero((wanted >= 0) & (rows >= 0) & (current != wanted))

    def repick(self, children: np.ndarray, wanted: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> None:
        """New parents (in place in ``rows``) for ``children``, of their wanted ancestor where one exists."""
        lo = np.searchsorted(self.sorted, wanted[children], "left")
        hi = np.searchsorted(self.sorted, wanted[children], "right")
        has = hi > lo
        children, lo, hi = children[has], lo[has], hi[has]
        start = np.where(lo > 0, self.cumulative[np.maximum(lo - 1, 0)], 0.0)
        draw = start + rng.random(len(children)) * (self.cumulative[hi - 1] - start)
        idx = np.clip(np.searchsorted(self.cumulative, draw, "right"), lo, hi - 1)
        rows[children] = self.order[idx]
