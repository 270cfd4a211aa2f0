"""RelDiff's idea of a structure that keeps degrees *and* who links to whom at the level of blocks,
without graph-tool: rows of each table are partitioned into blocks, and each foreign key is then
generated block pair by block pair, keeping every template's degree and the number of links between
each pair of blocks (exactly at scale 1).

The partition approximates a degree-corrected stochastic block model fit: rows are clustered (k-means)
on their log-degrees per foreign key and, iteratively, on the blocks of their parents and the block
mix of their children, so rows that link alike end up together. Given the rows' encoded values
(``features``), it clusters on those too, so blocks are also kinds of rows (races of one era, drivers
of one generation) and the links between block pairs keep which kinds meet: a synthetic race's
results go to drivers of its era, not to any driver.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from sklearn.cluster import KMeans

from dbtwin.database import Database
from dbtwin.structure.base import TemplateStructure
from dbtwin.structure.block_features import BlockFeatures
from dbtwin.structure.templates import real_links


class SbmStructure(TemplateStructure):
    """Blocks per table, then links generated per block pair.

    Args:
        max_blocks: most blocks per table (fewer for small tables: about one per 50 rows).
        rounds: refinement rounds of the partition.
    """

    name: ClassVar[str] = "sbm"
    takes_features: ClassVar[bool] = True

    def __init__(
        self, fixed_tables: tuple[str, ...] = (), max_blocks: int = 8, rounds: int = 3, fit_rows: int = 20_000
    ) -> None:
        super().__init__(fixed_tables)
        self.max_blocks = max_blocks
        self.rounds = rounds
        self.fit_rows = fit_rows

    def _params(self) -> dict[str, Any]:
        return {"max_blocks": self.max_blocks, "rounds": self.rounds, "fit_rows": self.fit_rows}

    def _blocks(
        self, db: Database, rng: np.random.Generator, features: dict[str, np.ndarray] | None
    ) -> dict[str, np.ndarray]:
        schema = db.schema
        links = real_links(db)
        sizes = {t: db.num_rows(t) for t in schema.table_names}
        own = _own_columns(schema, links, sizes, features or {})
        blocks = {t: np.zeros(n, dtype=np.int64) for t, n in sizes.items()}
        for _ in range(self.rounds):
            blocks = {t: self._partition(t, n, own[t], schema, links, blocks, rng) for t, n in sizes.items()}
        return blocks

    def _partition(self, table, n, own, schema, links, blocks, rng) -> np.ndarray:
        """``table``'s ``n`` rows clustered on their ``own`` columns and on the ``blocks`` of the rows
        they link to (the last round's)."""
        k = int(min(self.max_blocks, max(1, n // 50)))
        if k == 1 or table in self.fixed_tables:
            return np.zeros(n, dtype=np.int64)
        points = BlockFeatures(n, own, _linked_blocks(table, schema, links, blocks))
        if not points.width:
            return np.zeros(n, dtype=np.int64)
        points.standardise()
        k = min(k, points.distinct_rows(k))
        seed = int(rng.integers(0, 2**31 - 1))
        fit_on = points.rows(slice(None) if n <= self.fit_rows else rng.choice(n, self.fit_rows, replace=False))
        kmeans = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(fit_on)
        return np.concatenate([kmeans.predict(chunk) for chunk in points.chunks()]).astype(np.int64)


def _own_columns(schema, links, sizes, features) -> dict[str, list[np.ndarray]]:
    """Per table, what its rows are apart from their links' blocks, in the order they are stacked:
    log-degrees as a parent and whether they have a parent, per foreign key, then ``features`` (a
    row-aligned matrix, kept as it is and widened to float64 only when stacked)."""
    own: dict[str, list[np.ndarray]] = {t: [] for t in schema.table_names}
    for fk in schema.foreign_keys:
        link = links[fk.name]
        own[fk.parent].append(np.log1p(np.bincount(link.parent_rows, minlength=sizes[fk.parent])))
        has = np.zeros(sizes[fk.child])
        has[link.child_rows] = 1.0
        own[fk.child].append(has)
    for table, values in features.items():
        if table in own and values.ndim == 2 and len(values) == sizes[table] and values.shape[1]:
            own[table].append(values)
    return own


def _linked_blocks(table, schema, links, blocks) -> list[tuple[bool, Any, np.ndarray, int]]:
    """For each foreign key from or to ``table`` (not to itself): whether ``table`` is its child, its
    links, the blocks of the rows at its other end, and how many blocks they have."""
    parts = []
    for fk in schema.foreign_keys:
        if fk.is_self_reference or table not in (fk.child, fk.parent):
            continue
        theirs = blocks[fk.parent if fk.child == table else fk.child]
        parts.append((fk.child == table, links[fk.name], theirs, int(theirs.max()) + 1 if len(theirs) else 1))
    return parts
