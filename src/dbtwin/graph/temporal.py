"""Temporal K-hop sampling: each seed row comes with a moment in time, and its neighbourhood holds only
rows known at or before that moment (RelBench's temporal neighbour sampling, in vectorised NumPy).

Every seed gets its own copy of its neighbourhood (disjoint mode), since two seeds of the same row at
different moments see different pasts. Rows of static tables (no time) are always visible.

Within each adjacency list the neighbours are kept sorted by their time, so the visible neighbours of
a row at moment *t* are a prefix of its list, found for all frontier rows at once by one binary search
over ``row * R + rank(time)`` keys. Above ``max_neighbors`` the ``"last"`` strategy keeps the most
recent visible neighbours (deterministic), ``"uniform"`` draws among them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from dbtwin.graph.row_graph import CSR, EdgeType, RowGraph
from dbtwin.graph.sampler import KHopSampler, Subgraph, SubgraphTooLargeError, _ranges

STRATEGIES = ("last", "uniform")


class TemporalSampler(KHopSampler):
    """Args:
    graph: the row graph.
    node_times: per table with a time, the int64 time of each row (see :mod:`dbtwin.predict.times`);
        tables left out are static.
    num_hops, max_neighbors, edge_types, max_nodes: as for :class:`KHopSampler`.
    strategy: which visible neighbours to keep above the cap, ``"last"`` or ``"uniform"``.
    """

    def __init__(
        self,
        graph: RowGraph,
        node_times: Mapping[str, np.ndarray],
        num_hops: int = 2,
        max_neighbors: int | Sequence[int | None] | None = None,
        strategy: str = "last",
        edge_types: Sequence[EdgeType] | None = None,
        max_nodes: int = 50_000_000,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, not '{strategy}'")
        for table, times in node_times.items():
            if table not in graph.num_nodes:
                raise KeyError(f"node_times names unknown table '{table}'")
            if len(times) != graph.num_nodes[table]:
                raise ValueError(
                    f"node_times of table '{table}' has {len(times)} values for {graph.num_nodes[table]} rows"
                )
        self.node_times = {t: np.asarray(v, dtype=np.int64) for t, v in node_times.items()}
        self.strategy = strategy
        super().__init__(graph, num_hops, max_neighbors, True, edge_types, max_nodes)
        self._by_time: dict[EdgeType, tuple[CSR, np.ndarray, np.ndarray]] = {}
        for et in self.edge_types:
            dst = et[2]
            if dst in self.node_times:
                self._by_time[et] = self._time_sorted(et)
        self._seed_times = np.zeros(0, dtype=np.int64)

    def _time_sorted(self, et: EdgeType) -> tuple[CSR, np.ndarray, np.ndarray]:
        """The adjacency of ``et`` with each list sorted by neighbour time; composite search keys; the
        sorted distinct times of the destination table."""
        src, _, dst = et
        csr = self.graph.csr(et)
        owner = np.repeat(np.arange(self.graph.num_nodes[src], dtype=np.int64), csr.degree())
        times = self.node_times[dst][csr.indices]
        distinct = np.unique(self.node_times[dst])
        rank = np.searchsorted(distinct, times)
        order = np.lexsort((rank, owner))
        width = len(distinct) + 1
        return CSR(csr.indptr, csr.indices[order]), owner[order] * width + rank[order], distinct

    def sample(  # type: ignore[override]
        self,
        seeds: Mapping[str, np.ndarray | Sequence[int]],
        seed_times: Mapping[str, np.ndarray | Sequence[int]],
        random_state: int | None = None,
    ) -> Subgraph:
        """The K-hop subgraph of each seed as it was at its moment: ``seed_times`` gives, per seed
        table, the int64 time of each seed (same order as ``seeds``)."""
        if set(seeds) != set(seed_times):
            raise ValueError("seeds and seed_times must name the same tables")
        parts = []
        for table, rows in seeds.items():
            times = np.asarray(seed_times[table], dtype=np.int64)
            if len(times) != len(rows):
                raise ValueError(f"table '{table}': {len(rows)} seeds but {len(times)} seed times")
            parts.append(times)
        self._seed_times = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        return super().sample(seeds, random_state)

    def seed_time_of(self, subgraph: Subgraph, table: str) -> np.ndarray:
        """The moment of the seed each node of ``table`` in ``subgraph`` belongs to."""
        return self._seed_times[subgraph.batch[table]]

    def _expand(self, et: EdgeType, keys: np.ndarray, cap: int | None, rng: np.random.Generator) -> np.ndarray:
        if et not in self._by_time:  # a static destination: every neighbour is visible
            return super()._expand(et, keys, cap, rng)
        src, _, dst = et
        n_src, n_dst = self.graph.num_nodes[src], self.graph.num_nodes[dst]
        csr, composite, distinct = self._by_time[et]
        seed_id, rows = np.divmod(keys, n_src)
        width = len(distinct) + 1
        visible_rank = np.searchsorted(distinct, self._seed_times[seed_id], side="right")
        starts = csr.indptr[rows]
        visible = np.searchsorted(composite, rows * width + visible_rank) - starts
        take = visible if cap is None else np.minimum(visible, cap)
        total = int(take.sum())
        if total > self.max_nodes:
            raise SubgraphTooLargeError(
                f"expanding {len(rows):,} '{src}' node(s) along {et} would gather {total:,} neighbours "
                f"(max_nodes={self.max_nodes:,}); cap them with max_neighbors or sample fewer seeds"
            )
        owner = np.repeat(np.arange(len(rows)), take)
        if cap is not None and self.strategy == "uniform":
            offsets = np.floor(rng.random(total) * visible[owner]).astype(np.int64)
        else:  # all visible neighbours, or the most recent ``cap`` of them
            offsets = (visible - take)[owner] + _ranges(take)
        return seed_id[owner] * n_dst + csr.indices[starts[owner] + offsets]
