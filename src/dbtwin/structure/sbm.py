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
        degree_features: dict[str, list[np.ndarray]] = {t: [] for t in schema.table_names}
        for fk in schema.foreign_keys:
            link = links[fk.name]
            deg = np.bincount(link.parent_rows, minlength=sizes[fk.parent])
            degree_features[fk.parent].append(np.log1p(deg))
            has = np.zeros(sizes[fk.child])
            has[link.child_rows] = 1.0
            degree_features[fk.child].append(has)
        for table, values in (features or {}).items():
            if table in degree_features and values.ndim == 2 and len(values) == sizes[table]:
                degree_features[table].extend(np.asarray(values, dtype=np.float64).T)
        blocks = {t: np.zeros(n, dtype=np.int64) for t, n in sizes.items()}
        for _ in range(self.rounds):
            new = {}
            for table, n in sizes.items():
                k = int(min(self.max_blocks, max(1, n // 50)))
                if k == 1 or table in self.fixed_tables:
                    new[table] = np.zeros(n, dtype=np.int64)
                    continue
                feats = list(degree_features[table])
                for fk in schema.foreign_keys:
                    link = links[fk.name]
                    if fk.child == table and not fk.is_self_reference:
                        kb = int(blocks[fk.parent].max()) + 1
                        onehot = np.zeros((n, kb))
                        onehot[link.child_rows, blocks[fk.parent][link.parent_rows]] = 1.0
                        feats.extend(onehot.T)
                    if fk.parent == table and not fk.is_self_reference:
                        kb = int(blocks[fk.child].max()) + 1
                        mix = np.zeros((n, kb))
                        np.add.at(mix, (link.parent_rows, blocks[fk.child][link.child_rows]), 1.0)
                        mix /= np.maximum(mix.sum(axis=1, keepdims=True), 1.0)
                        feats.extend(mix.T)
                if not feats:
                    new[table] = np.zeros(n, dtype=np.int64)
                    continue
                x = np.stack(feats, axis=1)
                x = (x - x.mean(axis=0)) / np.maximum(x.std(axis=0), 1e-9)
                if np.unique(x, axis=0).shape[0] < k:
                    k = max(1, np.unique(x, axis=0).shape[0])
                seed = int(rng.integers(0, 2**31 - 1))
                fit_on = x if n <= self.fit_rows else x[rng.choice(n, self.fit_rows, replace=False)]
                new[table] = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(fit_on).predict(x).astype(np.int64)
            blocks = new
        return blocks
