"""Relational message passing whose number of operations does not grow with the number of edge types.

Every table's rows are stacked into one state matrix. A layer gives each row, per edge type arriving
at its table, the mean of its neighbours' states times that edge type's weight (a full weight matrix
per edge type, as ``HeteroConv(SAGEConv)`` has), plus its own state times a self weight per table,
followed by one LayerNorm with an affine pair per table, ReLU and a residual.

The mean of ``W h`` is ``W`` times the mean of ``h``, so each edge type is computed in the cheaper
order, chosen once per graph: *gathered* (the edge type's destination table has fewer rows than its
source: the neighbour means are gathered into a ragged buffer, one slot per gathered edge type per
row, which each table maps through its slots' weights in one matrix multiplication) or *moved* (the
source has fewer rows, as a parent table's rows sent to their many children: the source rows are
multiplied by the weight first, then averaged into their destinations). A million flights with five
parents thus cost five products over the parents' rows, not a million rows times five slots. Each
of the two is one sparse product for all its edge types and one dense product per table.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor, nn

from dbtwin.graph.row_graph import EdgeType
from dbtwin.nn.packed import PackedGraph, csr_rows

AGGREGATIONS = ("mean", "max")


class RelationalLayer(nn.Module):
    """One residual layer over all edge types at once (see the module's docstring); ``use_max`` adds
    the max over each edge type's neighbours to their mean."""

    def __init__(self, hidden: int, slots: list[int], use_max: bool = False) -> None:
        super().__init__()
        self.hidden = hidden
        self.use_max = use_max
        self.neighbour = nn.ParameterList(nn.Parameter(torch.empty(s * hidden, hidden)) for s in slots)
        self.neighbour_max = nn.ParameterList(
            nn.Parameter(torch.empty(s * hidden, hidden)) for s in (slots if use_max else [])
        )
        self.own = nn.Parameter(torch.empty(len(slots), hidden, hidden))
        self.bias = nn.Parameter(torch.zeros(len(slots), hidden))
        self.scale = nn.Parameter(torch.ones(len(slots), hidden))
        self.shift = nn.Parameter(torch.zeros(len(slots), hidden))
        bound = 1.0 / hidden**0.5
        for w in [*self.neighbour, *self.neighbour_max]:
            nn.init.uniform_(w, -bound, bound)
        nn.init.uniform_(self.own, -bound, bound)

    def forward(self, h: Tensor, graph: PackedGraph) -> Tensor:
        # split, not slices: the backward of a split is one concatenation, that of a slice a zero-filled copy
        owns = h.split(graph.sizes)
        none = [None] * len(graph.tables)
        blocks = (
            (graph.gather_adjacency @ h).split(graph.gather_block_sizes) if graph.gather_adjacency is not None else none
        )
        moved = self._moved(owns, graph).split(graph.sizes) if graph.move_adjacency is not None else none
        max_blocks = _max_buffer(h, graph, sum(graph.block_sizes)).split(graph.block_sizes) if self.use_max else none
        # without gradients (sampling), sums accumulate in place and states go straight into the next
        # layer's matrix: fewer passes over the rows and fewer large allocations
        inplace = not torch.is_grad_enabled()
        result = torch.empty_like(h) if inplace else None
        places = result.split(graph.sizes) if result is not None else none
        parts = []
        for t, own, block, came, top, s, kept, gets, place in zip(
            graph.table_ids, owns, blocks, moved, max_blocks, graph.slots, graph.gathered, graph.receives, places,
            strict=True,
        ):  # fmt: skip
            if not gets:  # no edge arrives at this table's rows: their states pass through
                parts.append(place.copy_(own) if inplace else own)
                continue
            parts.append(self._updated(t, own, block, came, top, kept, s, place))
        return result if result is not None else torch.cat(parts, dim=0)

    def forward_chunked(self, h: Tensor, graph: PackedGraph, chunk_rows: int, result: Tensor) -> Tensor:
        """The layer's states of every row into ``result`` (as ``h``), without gradients, for at most
        ``chunk_rows`` destination rows at a time: besides ``h`` and ``result``, only the moved source
        rows times their weights are held whole (mean aggregation only)."""
        if self.use_max:
            raise ValueError("a layer with max aggregation runs over the whole graph at once")
        owns, places = h.split(graph.sizes), result.split(graph.sizes)
        products = self._products(owns, graph) if graph.move_adjacency is not None else None
        row, block_start = 0, 0
        for t, own, n, s, kept, gets, place in zip(
            graph.table_ids, owns, graph.sizes, graph.slots, graph.gathered, graph.receives, places, strict=True
        ):
            k = len(kept)
            for a in range(0, n, chunk_rows) if gets else ():
                b = min(n, a + chunk_rows)
                block = csr_rows(graph.gather_adjacency, block_start + a * k, block_start + b * k) @ h if k else None
                came = csr_rows(graph.move_adjacency, row + a, row + b) @ products if products is not None else None
                self._updated(t, own[a:b], block, came, None, kept, s, place[a:b])
            if not gets:
                place.copy_(own)
            row, block_start = row + n, block_start + n * k
        return result

    def _updated(self, t, own, block, came, top, kept, s, place) -> Tensor:
        """Rows ``own`` of table ``t`` after the layer, from their gathered neighbour means ``block``
        (slots ``kept`` of the table's ``s``), the sum of their moved ones ``came`` and the maxima
        ``top``; written into ``place`` when given (no gradients)."""
        d, n = self.hidden, own.shape[0]
        out = torch.addmm(self.bias[t], own, self.own[t])
        if len(kept):
            weight = self.neighbour[t]
            if len(kept) < s:
                weight = weight.view(s, d, d).index_select(0, kept).view(len(kept) * d, d)
            out = out.addmm_(block.view(n, len(kept) * d), weight)
        if came is not None:
            out = out.add_(came)
        if top is not None:
            out = out.addmm_(top.view(n, s * d), self.neighbour_max[t])
        out = F.layer_norm(out, (d,), self.scale[t], self.shift[t])
        return torch.add(own, out.relu_(), out=place) if place is not None else own + torch.relu(out)

    def _moved(self, owns: tuple[Tensor, ...], graph: PackedGraph) -> Tensor:
        """Per stacked row, the sum over its moved edge types of the mean of its neighbours times the
        edge type's weight: each source table's rows times all the weights it sends, then averaged."""
        assert graph.move_adjacency is not None
        return graph.move_adjacency @ self._products(owns, graph)

    def _products(self, owns: tuple[Tensor, ...], graph: PackedGraph) -> Tensor:
        """Each sending table's rows times every weight it sends, stacked as ``move_adjacency``'s columns."""
        d = self.hidden
        weights = torch.cat(list(self.neighbour)).view(-1, d, d)
        products = []
        for position, ids in graph.moves:
            sent = weights.index_select(0, ids).permute(1, 0, 2).reshape(d, len(ids) * d)
            products.append((owns[position] @ sent).view(-1, d))
        return torch.cat(products)


def _max_buffer(h: Tensor, graph: PackedGraph, num_slots: int) -> Tensor:
    """Per slot, the elementwise max of its neighbours' states (0 for a slot with none).

    The max is found without autograd, then each slot's winning source row is gathered per feature:
    the backward is one scatter-add, where that of ``scatter_reduce("amax")`` (which shares ties)
    took 46% of a predictor step on the CPU."""
    d = h.shape[1]
    if not graph.has_edges:
        return h.new_zeros(num_slots, d)
    if graph.edge_source is None or graph.edge_slot is None:
        raise ValueError("max aggregation needs the edges packed as pairs: pack with a network that uses the max")
    index = graph.edge_slot.unsqueeze(1).expand(-1, d)
    with torch.no_grad():
        values = h.index_select(0, graph.edge_source)
        top = h.new_full((num_slots, d), float("-inf")).scatter_reduce(0, index, values, "amax", include_self=True)
        is_top = values == top.index_select(0, graph.edge_slot)
        source = graph.edge_source.unsqueeze(1).expand(-1, d)
        winner = torch.full((num_slots, d), -1, dtype=torch.long, device=h.device).scatter_reduce(
            0, index, torch.where(is_top, source, -1), "amax", include_self=True
        )
    found = winner >= 0
    picked = h.gather(0, winner.clamp(min=0))
    return torch.where(found, picked, picked.new_zeros(()))


class RelationalMessagePassing(nn.Module):
    """``num_layers`` relational layers over ``tables`` joined by ``edge_types``; modules are keyed
    by position, so any table or key name works.

    Args:
        tables: every table whose rows may carry a state.
        edge_types: every (source, relation, destination) edge type of the row graph.
        hidden: width of the row states.
        num_layers: K, the hops a row's state reaches.
        aggr: "mean", or ("mean", "max") for both (the max lets a row see, say, its latest
            neighbour's age directly).
    """

    def __init__(
        self,
        tables: list[str],
        edge_types: list[EdgeType],
        hidden: int,
        num_layers: int,
        aggr: str | tuple[str, ...] | list[str] = "mean",
    ) -> None:
        super().__init__()
        aggrs = (aggr,) if isinstance(aggr, str) else tuple(aggr)
        if "mean" not in aggrs or not set(aggrs) <= set(AGGREGATIONS):
            raise ValueError(f"aggr must be 'mean' or ('mean', 'max'), not {aggr!r}")
        self.table_ids = {t: i for i, t in enumerate(tables)}
        self.slots = dict.fromkeys(tables, 0)
        self.incoming: dict[EdgeType, int] = {}  # the slot of each edge type at its destination
        for et in edge_types:
            et = tuple(et)
            if et[0] in self.table_ids and et[2] in self.table_ids and et not in self.incoming:
                self.incoming[et] = self.slots[et[2]]
                self.slots[et[2]] += 1
        self.layers = nn.ModuleList(
            RelationalLayer(hidden, list(self.slots.values()), use_max="max" in aggrs) for _ in range(num_layers)
        )

    def pack(self, sizes: Mapping[str, int], edge_index: Mapping[EdgeType, Tensor]) -> PackedGraph:
        uses_max = any(layer.use_max for layer in self.layers)
        return PackedGraph.build(sizes, edge_index, self.incoming, self.slots, self.table_ids, pairs=uses_max)

    def degrees(self, sizes: Mapping[str, int], edge_index: Mapping[EdgeType, Tensor]) -> dict[str, Tensor]:
        """Per table with incoming edge types, ``log(1 + degree)`` of every row for each of them (in
        slot order): how many children, or whether a parent, each row has in the whole graph."""
        out = {t: torch.zeros(n, self.slots[t]) for t, n in sizes.items() if self.slots.get(t)}
        for et, ei in edge_index.items():
            et = tuple(et)
            if et in self.incoming and et[2] in out and ei.numel():
                counts = torch.bincount(ei[1], minlength=sizes[et[2]]).float()
                out[et[2]][:, self.incoming[et]] = torch.log1p(counts)
        return out

    def forward(self, h: Tensor, graph: PackedGraph) -> Tensor:
        """The stacked states ``h`` (rows in ``graph``'s order) after every layer."""
        if not graph.has_edges:
            return h
        for layer in self.layers:
            h = layer(h, graph)
        return h

    @torch.no_grad()
    def forward_chunked(self, h: Tensor, graph: PackedGraph, chunk_rows: int) -> Tensor:
        """:meth:`forward` without gradients, each layer computed for at most ``chunk_rows`` rows at a
        time (layer-wise inference): the memory held is two state matrices, the moved products and
        one chunk's temporaries. ``h`` is reused as a state matrix and holds no result after."""
        if not graph.has_edges:
            return h
        spare = torch.empty_like(h)
        for layer in self.layers:
            layer.forward_chunked(h, graph, chunk_rows, spare)
            h, spare = spare, h
        return h

    def forward_dict(self, h: Mapping[str, Tensor], edge_index: Mapping[EdgeType, Tensor]) -> dict[str, Tensor]:
        """The same over states keyed by table."""
        graph = self.pack({t: v.shape[0] for t, v in h.items()}, edge_index)
        return graph.split(self(graph.stack(h), graph))


__all__ = ["PackedGraph", "RelationalLayer", "RelationalMessagePassing"]
