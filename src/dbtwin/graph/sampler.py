"""K-hop subgraph sampling over a :class:`RowGraph`, in vectorised NumPy (no pyg-lib or torch-sparse).

Given seed rows of any tables, the sampler expands hop by hop along every edge type, optionally
capping the neighbours taken per node and hop, and returns the *induced* subgraph: every link of the
database between the nodes it reached. In ``disjoint`` mode (the default, as diffusion training needs)
each seed gets its own copy of its neighbourhood, tagged by ``batch``; otherwise the neighbourhoods are
merged. Results are deterministic for a given ``random_state``.

Nodes are handled as integer keys ``seed_id * num_nodes(table) + row`` so that de-duplication and
membership tests are sorts and binary searches over flat arrays.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from dbtwin.graph.row_graph import REVERSE_PREFIX, EdgeType, RowGraph


class SubgraphTooLargeError(ValueError):
    """A hop would gather more nodes than the sampler's ``max_nodes`` allows."""


@dataclass
class Subgraph:
    """A sampled subgraph.

    Attributes:
        nodes: per table, the row positions (in the full table) of the subgraph's nodes.
        batch: per table, for each node the seed it belongs to (all 0 when not disjoint).
        edge_index: per edge type, a ``(2, E)`` array of *local* positions into ``nodes``.
        seed_local: per seed table, local positions of the seeds, in the order they were given.
        num_seeds: the number of seeds over all tables (seed ids run table by table).
        hop: per table, for each node the hop at which it was reached (0 for seeds): a node at hop
            ``h < K`` has had all its edge types expanded (up to the cap), a node at hop ``K`` has not.
    """

    nodes: dict[str, np.ndarray]
    batch: dict[str, np.ndarray]
    edge_index: dict[EdgeType, np.ndarray]
    seed_local: dict[str, np.ndarray]
    num_seeds: int
    hop: dict[str, np.ndarray]

    @property
    def num_nodes(self) -> int:
        return sum(len(v) for v in self.nodes.values())

    def to_hetero_data(self):
        """As a PyG ``HeteroData``: ``n_id``, ``batch`` and ``seed_mask`` per node type, ``edge_index`` per type."""
        import torch
        from torch_geometric.data import HeteroData

        data = HeteroData()
        for table, nodes in self.nodes.items():
            store = data[table]
            store.num_nodes = len(nodes)
            store.n_id = torch.from_numpy(nodes)
            store.batch = torch.from_numpy(self.batch[table])
            mask = torch.zeros(len(nodes), dtype=torch.bool)
            if table in self.seed_local:
                mask[torch.from_numpy(self.seed_local[table])] = True
            store.seed_mask = mask
        for et, ei in self.edge_index.items():
            data[et].edge_index = torch.from_numpy(ei)
        return data


class KHopSampler:
    """Sample K-hop neighbourhoods of seed rows.

    Args:
        graph: the row graph.
        num_hops: K, the number of hops to expand (0 returns the seeds alone).
        max_neighbors: cap on the neighbours taken per node, per edge type and hop: ``None`` for all,
            an int for every hop, or one value per hop. Above the cap, neighbours are drawn uniformly
            (with replacement, then de-duplicated, so at most the cap is taken).
        disjoint: give each seed its own copy of its neighbourhood.
        edge_types: restrict expansion to these edge types (default: all).
        max_nodes: refuse (with :class:`SubgraphTooLargeError`) a hop that would gather more node
            copies than this, before allocating them: uncapped disjoint neighbourhoods of hub rows
            (an airport with 100k flights) grow without bound; set ``max_neighbors`` instead.
    """

    def __init__(
        self,
        graph: RowGraph,
        num_hops: int = 2,
        max_neighbors: int | Sequence[int | None] | None = None,
        disjoint: bool = True,
        edge_types: Sequence[EdgeType] | None = None,
        max_nodes: int = 50_000_000,
    ) -> None:
        self.graph = graph
        self.num_hops = num_hops
        self.max_neighbors = hop_caps(num_hops, max_neighbors)
        self.disjoint = disjoint
        self.max_nodes = max_nodes
        self.edge_types = list(edge_types) if edge_types is not None else graph.edge_types()
        for et in self.edge_types:
            graph.csr(et)  # build adjacency up front, once
        self._parent_of = parent_lookup(graph)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_hops={self.num_hops}, max_neighbors={self.max_neighbors}, "
            f"disjoint={self.disjoint})"
        )

    def sample(self, seeds: Mapping[str, np.ndarray | Sequence[int]], random_state: int | None = None) -> Subgraph:
        """The induced K-hop subgraph around ``seeds`` (table -> row positions)."""
        rng = np.random.default_rng(random_state)
        n = self.graph.num_nodes
        visited: dict[str, np.ndarray] = {}
        frontier: dict[str, np.ndarray] = {}
        reached: dict[str, list[tuple[int, np.ndarray]]] = {}  # per table, (hop, keys first reached then)
        seed_keys: dict[str, np.ndarray] = {}
        next_id = 0
        for table, rows in seeds.items():
            rows = np.asarray(rows, dtype=np.int64)
            if table not in n:
                raise KeyError(f"unknown table '{table}'")
            if len(rows) and (rows.min() < 0 or rows.max() >= n[table]):
                raise IndexError(f"seed rows out of range for table '{table}' ({n[table]} rows)")
            ids = np.arange(next_id, next_id + len(rows)) if self.disjoint else np.zeros(len(rows), np.int64)
            next_id += len(rows)
            keys = ids * n[table] + rows
            seed_keys[table] = keys
            visited[table] = np.unique(keys)
            frontier[table] = visited[table]
            reached[table] = [(0, visited[table])]
        for hop in range(self.num_hops):
            cap = self.max_neighbors[hop]
            found: dict[str, list[np.ndarray]] = {}
            for et in self.edge_types:
                src, _, dst = et
                keys = frontier.get(src)
                if keys is None or not len(keys):
                    continue
                found.setdefault(dst, []).append(self._expand(et, keys, cap, rng))
            frontier = {}
            for table, parts in found.items():
                keys = np.unique(np.concatenate(parts))
                old = visited.get(table)
                if old is not None and len(old):
                    keys = keys[~_contains(old, keys)]
                if len(keys):
                    frontier[table] = keys
                    visited[table] = keys if old is None else np.union1d(old, keys)
                    reached.setdefault(table, []).append((hop + 1, keys))
        return self._assemble(visited, seed_keys, next_id if self.disjoint else int(next_id > 0), reached)

    def _expand(self, et: EdgeType, keys: np.ndarray, cap: int | None, rng: np.random.Generator) -> np.ndarray:
        src, _, dst = et
        n_src, n_dst = self.graph.num_nodes[src], self.graph.num_nodes[dst]
        seed_id, rows = np.divmod(keys, n_src)
        csr = self.graph.csr(et)
        deg = csr.degree(rows)
        starts = csr.indptr[rows]
        gathered = int(np.minimum(deg, cap).sum()) if cap is not None else int(deg.sum())
        if gathered > self.max_nodes:
            raise SubgraphTooLargeError(
                f"expanding {len(rows):,} '{src}' node(s) along {et} would gather {gathered:,} neighbours "
                f"(max_nodes={self.max_nodes:,}); cap them with max_neighbors or sample fewer seeds"
            )
        if cap is not None:
            capped = deg > cap
            if capped.any():
                take = np.where(capped, cap, deg)
                total = int(take.sum())
                owner = np.repeat(np.arange(len(rows)), take)
                offsets = _ranges(take)
                draw = np.floor(rng.random(total) * deg[owner]).astype(np.int64)
                offsets = np.where(capped[owner], draw, offsets)
                neighbours = csr.indices[starts[owner] + offsets]
                return seed_id[owner] * n_dst + neighbours
        owner = np.repeat(np.arange(len(rows)), deg)
        neighbours = csr.indices[starts[owner] + _ranges(deg)]
        return seed_id[owner] * n_dst + neighbours

    def _assemble(
        self,
        visited: dict[str, np.ndarray],
        seed_keys: dict[str, np.ndarray],
        num_seeds: int,
        reached: dict[str, list[tuple[int, np.ndarray]]],
    ) -> Subgraph:
        n = self.graph.num_nodes
        nodes, batch, hops = {}, {}, {}
        for table, keys in visited.items():
            batch[table], nodes[table] = np.divmod(keys, n[table])
            hops[table] = np.empty(len(keys), dtype=np.int64)
            for h, at_hop in reached[table]:
                hops[table][np.searchsorted(keys, at_hop)] = h
        seed_local = {t: np.searchsorted(visited[t], k) for t, k in seed_keys.items()}
        edge_index: dict[EdgeType, np.ndarray] = {}
        for et in self.graph.edge_types():
            fk, reverse = self.graph.foreign_key_of(et)
            if reverse or fk.child not in visited or fk.parent not in visited:
                continue
            parent_rows = self._parent_of[et][nodes[fk.child]]
            has_parent = parent_rows >= 0
            child_local = np.flatnonzero(has_parent)
            parent_keys = batch[fk.child][has_parent] * n[fk.parent] + parent_rows[has_parent]
            inside = _contains(visited[fk.parent], parent_keys)
            child_local = child_local[inside]
            parent_local = np.searchsorted(visited[fk.parent], parent_keys[inside])
            rel = self.graph.relation(fk)
            edge_index[(fk.child, rel, fk.parent)] = np.stack([child_local, parent_local])
            edge_index[(fk.parent, REVERSE_PREFIX + rel, fk.child)] = np.stack([parent_local, child_local])
        return Subgraph(nodes, batch, edge_index, seed_local, num_seeds, hops)


def hop_caps(num_hops: int, max_neighbors: int | Sequence[int | None] | None) -> list[int | None]:
    """The cap on neighbours per node and edge type at each of ``num_hops`` hops (None: all)."""
    if num_hops < 0:
        raise ValueError("num_hops must be >= 0")
    if max_neighbors is None or isinstance(max_neighbors, int):
        caps: list[int | None] = [max_neighbors] * num_hops
    else:
        caps = list(max_neighbors)
        if len(caps) != num_hops:
            raise ValueError(f"max_neighbors has {len(caps)} entries for {num_hops} hops")
    if any(c is not None and c < 1 for c in caps):
        raise ValueError("max_neighbors must be >= 1")
    return caps


def parent_lookup(graph: RowGraph) -> dict[EdgeType, np.ndarray]:
    """For child -> parent edge types, the parent row of every child row (-1 if none)."""
    lookup = {}
    for et in graph.edge_types():
        fk, reverse = graph.foreign_key_of(et)
        if reverse:
            continue
        parent_of = np.full(graph.num_nodes[fk.child], -1, dtype=np.int64)
        link = graph.links[fk.name]
        parent_of[link.child_rows] = link.parent_rows
        lookup[et] = parent_of
    return lookup


def _ranges(lengths: np.ndarray) -> np.ndarray:
    """Concatenated ``arange(l)`` for each length ``l``: [0..l0-1, 0..l1-1, ...]."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    return np.arange(total, dtype=np.int64) - np.repeat(ends - lengths, lengths)


def _contains(sorted_keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Whether each query is in the sorted, unique array ``sorted_keys``."""
    if not len(sorted_keys):
        return np.zeros(len(queries), dtype=bool)
    pos = np.searchsorted(sorted_keys, queries)
    pos = np.minimum(pos, len(sorted_keys) - 1)
    return sorted_keys[pos] == queries
