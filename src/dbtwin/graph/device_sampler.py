"""K-hop subgraph sampling in torch, on the device the denoiser trains on.

:class:`DeviceKHopSampler` draws what :class:`~dbtwin.graph.sampler.KHopSampler` draws (disjoint
neighbourhoods, the induced subgraph, at most ``max_neighbors`` neighbours per node, edge type and
hop) with torch's own sort, search and gather ops on the graph's CSR arrays held on the device: a
GPU builds its batches itself instead of waiting for the CPU to build them and copy them over.
Without caps both samplers return the same subgraph; with caps, the neighbours above a cap are drawn
from ``generator`` (a generator of the sampler's device) rather than from NumPy.

Nodes are integer keys ``seed_id * num_nodes(table) + row``, as in the NumPy sampler: de-duplication
and membership are ``torch.unique`` and ``torch.searchsorted`` over flat tensors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from dbtwin.graph.row_graph import REVERSE_PREFIX, EdgeType, RowGraph
from dbtwin.graph.sampler import Subgraph, SubgraphTooLargeError, hop_caps, parent_lookup


@dataclass
class TensorSubgraph:
    """A sampled subgraph as tensors on one device; the fields mean what
    :class:`~dbtwin.graph.sampler.Subgraph`'s do."""

    nodes: dict[str, Tensor]
    batch: dict[str, Tensor]
    edge_index: dict[EdgeType, Tensor]
    seed_local: dict[str, Tensor]
    num_seeds: int
    hop: dict[str, Tensor]

    @classmethod
    def of(cls, sub: Subgraph, device: torch.device) -> TensorSubgraph:
        """``sub``, drawn by the NumPy sampler, as tensors on ``device``."""

        def on(arrays: dict) -> dict:
            return {k: torch.from_numpy(v).to(device) for k, v in arrays.items()}

        return cls(on(sub.nodes), on(sub.batch), on(sub.edge_index), on(sub.seed_local), sub.num_seeds, on(sub.hop))


class DeviceKHopSampler:
    """Disjoint K-hop neighbourhoods of seed rows, sampled on ``device``.

    Args:
        graph: the row graph (its CSR arrays and parent lookups are copied to ``device`` once).
        num_hops: K.
        max_neighbors: the cap per node, edge type and hop (None: all; one value per hop allowed).
        device: where the graph's arrays live and the sampling runs.
        max_nodes: refuse a hop that would gather more node copies than this (as the NumPy sampler).
    """

    def __init__(
        self,
        graph: RowGraph,
        num_hops: int = 2,
        max_neighbors: int | Sequence[int | None] | None = None,
        device: torch.device | str = "cpu",
        max_nodes: int = 50_000_000,
    ) -> None:
        self.graph = graph
        self.num_hops = num_hops
        self.max_neighbors = hop_caps(num_hops, max_neighbors)
        self.device = torch.device(device)
        self.max_nodes = max_nodes
        self.num_nodes = dict(graph.num_nodes)
        self.edge_types = graph.edge_types()
        self._csr = {}
        for et in self.edge_types:
            csr = graph.csr(et)
            self._csr[et] = (self._tensor(csr.indptr), self._tensor(csr.indices))
        self._parent_of = {et: self._tensor(rows) for et, rows in parent_lookup(graph).items()}

    def _tensor(self, array) -> Tensor:
        return torch.as_tensor(array, dtype=torch.long).to(self.device)

    def sample(self, seeds: Mapping[str, Tensor], generator: torch.Generator | None = None) -> TensorSubgraph:
        """The induced K-hop subgraph around ``seeds`` (table -> row positions on the device); each
        seed its own neighbourhood, seed ids running table by table in the order given."""
        n = self.num_nodes
        visited: dict[str, Tensor] = {}
        frontier: dict[str, Tensor] = {}
        reached: dict[str, list[tuple[int, Tensor]]] = {}
        seed_keys: dict[str, Tensor] = {}
        next_id = 0
        for table, rows in seeds.items():
            if table not in n:
                raise KeyError(f"unknown table '{table}'")
            rows = rows.to(self.device, torch.long)
            ids = torch.arange(next_id, next_id + len(rows), device=self.device)
            next_id += len(rows)
            seed_keys[table] = ids * n[table] + rows
            visited[table] = frontier[table] = torch.unique(seed_keys[table])
            reached[table] = [(0, visited[table])]
        for hop, cap in enumerate(self.max_neighbors):
            found: dict[str, list[Tensor]] = {}
            for et in self.edge_types:
                keys = frontier.get(et[0])
                if keys is not None and len(keys):
                    found.setdefault(et[2], []).append(self._expand(et, keys, cap, generator))
            frontier = {}
            for table, parts in found.items():
                keys = torch.unique(torch.cat(parts))
                old = visited.get(table)
                if old is not None and len(old):
                    keys = keys[~_contains(old, keys)]
                if len(keys):
                    frontier[table] = keys
                    visited[table] = keys if old is None else torch.cat([old, keys]).sort().values
                    reached.setdefault(table, []).append((hop + 1, keys))
        return self._assemble(visited, seed_keys, next_id, reached)

    def _expand(self, et: EdgeType, keys: Tensor, cap: int | None, generator: torch.Generator | None) -> Tensor:
        src, _, dst = et
        n_src, n_dst = self.num_nodes[src], self.num_nodes[dst]
        seed_id, rows = keys // n_src, keys % n_src
        indptr, indices = self._csr[et]
        starts = indptr[rows]
        degree = indptr[rows + 1] - starts
        take = degree if cap is None else degree.clamp(max=cap)
        total = int(take.sum())
        if total > self.max_nodes:
            raise SubgraphTooLargeError(
                f"expanding {len(rows):,} '{src}' node(s) along {et} would gather {total:,} neighbours "
                f"(max_nodes={self.max_nodes:,}); cap them with max_neighbors or sample fewer seeds"
            )
        owner = torch.repeat_interleave(torch.arange(len(rows), device=self.device), take, output_size=total)
        offsets = _ranges(take, total)
        if cap is not None:  # above the cap, neighbours drawn uniformly with replacement, then de-duplicated
            draw = (torch.rand(total, generator=generator, device=self.device) * degree[owner]).long()
            offsets = torch.where((degree > cap)[owner], draw, offsets)
        return seed_id[owner] * n_dst + indices[starts[owner] + offsets]

    def _assemble(
        self,
        visited: dict[str, Tensor],
        seed_keys: dict[str, Tensor],
        num_seeds: int,
        reached: dict[str, list[tuple[int, Tensor]]],
    ) -> TensorSubgraph:
        n = self.num_nodes
        nodes, batch, hops = {}, {}, {}
        for table, keys in visited.items():
            batch[table], nodes[table] = keys // n[table], keys % n[table]
            hops[table] = torch.empty(len(keys), dtype=torch.long, device=self.device)
            for h, at_hop in reached[table]:
                hops[table][torch.searchsorted(keys, at_hop)] = h
        seed_local = {t: torch.searchsorted(visited[t], k) for t, k in seed_keys.items()}
        edge_index: dict[EdgeType, Tensor] = {}
        for et in self.edge_types:
            fk, reverse = self.graph.foreign_key_of(et)
            if reverse or fk.child not in visited or fk.parent not in visited:
                continue
            parent_rows = self._parent_of[et][nodes[fk.child]]
            has_parent = parent_rows >= 0
            child_local = torch.nonzero(has_parent).flatten()
            parent_keys = batch[fk.child][has_parent] * n[fk.parent] + parent_rows[has_parent]
            inside = _contains(visited[fk.parent], parent_keys)
            child_local = child_local[inside]
            parent_local = torch.searchsorted(visited[fk.parent], parent_keys[inside])
            rel = self.graph.relation(fk)
            edge_index[(fk.child, rel, fk.parent)] = torch.stack([child_local, parent_local])
            edge_index[(fk.parent, REVERSE_PREFIX + rel, fk.child)] = torch.stack([parent_local, child_local])
        return TensorSubgraph(nodes, batch, edge_index, seed_local, num_seeds, hops)


def _ranges(lengths: Tensor, total: int) -> Tensor:
    """Concatenated ``arange(l)`` for each length ``l``."""
    starts = torch.cumsum(lengths, 0) - lengths
    return torch.arange(total, device=lengths.device) - torch.repeat_interleave(starts, lengths, output_size=total)


def _contains(sorted_keys: Tensor, queries: Tensor) -> Tensor:
    """Whether each query is in the sorted, unique tensor ``sorted_keys``."""
    if not len(sorted_keys):
        return torch.zeros(len(queries), dtype=torch.bool, device=queries.device)
    pos = torch.searchsorted(sorted_keys, queries).clamp(max=len(sorted_keys) - 1)
    return sorted_keys[pos] == queries


__all__ = ["DeviceKHopSampler", "TensorSubgraph"]
