"""The row graph packed for relational message passing: every table's rows stacked in one state
matrix, and the edges of every edge type as sparse matrices that average neighbours (in the order
:mod:`dbtwin.nn.relational` chooses per edge type) or as pairs for max aggregation."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from dbtwin.graph.row_graph import EdgeType


@dataclass
class PackedGraph:
    """The row states' layout and the edges of every edge type, as positions.

    ``tables`` lists the tables in stacking order with ``sizes`` rows each (``table_ids`` their
    positions in the network, ``receives`` whether any edge arrives at them).

    Gathered edge types: ``gather_adjacency`` (``num_gather_slots x num_rows``, CSR) holds their edges,
    from a stacked row into a slot of the ragged neighbour buffer, each with weight one over its
    destination's in-degree for that edge type (None when no edge type is gathered); table ``t``'s
    block of that buffer holds ``sizes[t] x len(gathered[t])`` slots, ``gathered[t]`` the slots (of
    the table's weights) it holds, in order.

    Moved edge types: ``moves`` lists, per source table (its position in ``tables``), the edge types it
    sends, as global weight slots (table ``t``'s slot ``k`` is ``slot_offset[t] + k``, counting the
    slots of every table of the network); ``move_adjacency`` (``num_rows x sum(rows x edge types
    sent)``, CSR) averages the source rows times each weight into their destination rows (None when
    no edge type is moved).

    ``slot_start``, ``slots``, ``edge_source`` and ``edge_slot`` hold every edge as pairs in the full
    slot layout (every incoming edge type of a table a slot), for max aggregation (None when there are
    no edges, or when packed without ``pairs``). ``has_edges``: whether any edge is packed.
    """

    tables: list[str]
    sizes: list[int]
    table_ids: list[int]
    receives: list[bool]
    gather_adjacency: Tensor | None
    gathered: list[Tensor]
    moves: list[tuple[int, Tensor]]
    move_adjacency: Tensor | None
    slot_start: list[int]
    slots: list[int]
    edge_source: Tensor | None
    edge_slot: Tensor | None
    has_edges: bool

    @property
    def block_sizes(self) -> list[int]:
        """Slots in each table's block of the full neighbour buffer (max aggregation)."""
        return [n * s for n, s in zip(self.sizes, self.slots, strict=True)]

    @property
    def gather_block_sizes(self) -> list[int]:
        """Slots in each table's block of the gathered neighbour buffer."""
        return [n * len(g) for n, g in zip(self.sizes, self.gathered, strict=True)]

    @classmethod
    def build(
        cls,
        sizes: Mapping[str, int],
        edge_index: Mapping[EdgeType, Tensor],
        incoming: Mapping[EdgeType, int],
        slots: Mapping[str, int],
        table_ids: Mapping[str, int],
        pairs: bool = True,
    ) -> PackedGraph:
        """Pack tables with ``sizes`` rows (in that order) and the edges of the edge types in
        ``incoming`` (their slot at the destination) whose both ends are among them; the edges as
        pairs too with ``pairs`` (max aggregation reads them)."""
        tables = list(sizes)
        row_start, slot_start, row, place = {}, {}, 0, 0
        for t in tables:
            row_start[t], slot_start[t] = row, place
            row += sizes[t]
            place += sizes[t] * slots[t]
        present = {
            tuple(et): ei
            for et, ei in edge_index.items()
            if tuple(et) in incoming and et[0] in row_start and et[2] in row_start and ei.numel()
        }
        moved = {et for et in present if sizes[et[0]] < sizes[et[2]]}
        src, slot = [], []
        for et, ei in present.items() if pairs else ():
            src.append(ei[0] + row_start[et[0]])
            slot.append(slot_start[et[2]] + ei[1] * slots[et[2]] + incoming[et])
        src_all = torch.cat(src) if src else None
        gathered = [sorted(incoming[et] for et in present if et[2] == t and et not in moved) for t in tables]
        gather = _gather_adjacency(present, moved, gathered, tables, sizes, row_start, incoming, row)
        moves, move = _move_adjacency(present, moved, tables, sizes, row_start, incoming, slots, table_ids, row)
        device = next(iter(present.values())).device if present else None
        return cls(
            tables,
            [sizes[t] for t in tables],
            [table_ids[t] for t in tables],
            [any(et[2] == t for et in present) for t in tables],
            gather,
            [torch.tensor(g, dtype=torch.long, device=device) for g in gathered],
            moves,
            move,
            [slot_start[t] for t in tables],
            [slots[t] for t in tables],
            src_all,
            torch.cat(slot) if slot else None,
            bool(present),
        )

    def stack(self, h: Mapping[str, Tensor]) -> Tensor:
        return torch.cat([h[t] for t in self.tables], dim=0)

    def split(self, packed: Tensor) -> dict[str, Tensor]:
        return dict(zip(self.tables, torch.split(packed, self.sizes, dim=0), strict=True))


def _gather_adjacency(present, moved, gathered, tables, sizes, row_start, incoming, num_rows) -> Tensor | None:
    """The CSR matrix from stacked rows into the gathered slots (each table's rows times its gathered
    edge types), one over each slot's degree per edge."""
    place, src, slot = 0, [], []
    for t, kept in zip(tables, gathered, strict=True):
        position = {k: i for i, k in enumerate(kept)}
        for et, ei in present.items():
            if et[2] == t and et not in moved:
                src.append(ei[0] + row_start[et[0]])
                slot.append(place + ei[1] * len(kept) + position[incoming[et]])
        place += sizes[t] * len(kept)
    if not src:
        return None
    return _mean_matrix(torch.cat(slot), torch.cat(src), place, num_rows)


def _move_adjacency(present, moved, tables, sizes, row_start, incoming, slots, table_ids, num_rows):
    """Per source table sending moved edge types, their global weight slots; and the CSR matrix from
    the source rows times each of those weights (row ``r`` of a table times its ``i``-th weight is
    column ``start + r * m + i``, ``m`` the weights it sends) into the stacked destination rows."""
    offsets, total = {}, 0
    for t in sorted(table_ids, key=table_ids.get):
        offsets[t], total = total, total + slots[t]
    moves, dst, col, start = [], [], [], 0
    for position, t in enumerate(tables):
        sent = [et for et in present if et[0] == t and et in moved]
        if not sent:
            continue
        ids = [offsets[et[2]] + incoming[et] for et in sent]
        moves.append((position, torch.tensor(ids, dtype=torch.long, device=present[sent[0]].device)))
        for i, et in enumerate(sent):
            ei = present[et]
            dst.append(ei[1] + row_start[et[2]])
            col.append(start + ei[0] * len(sent) + i)
        start += sizes[t] * len(sent)
    if not moves:
        return [], None
    # one over the in-degree of each (destination row, edge type): the destination's slot
    destination = torch.cat(dst)
    kind = torch.cat([torch.full_like(d, i) for i, d in enumerate(dst)])
    degree_of = torch.unique(destination * len(dst) + kind, return_inverse=True, return_counts=True)
    weight = 1.0 / degree_of[2][degree_of[1]].float()
    return moves, _sparse_csr(destination, torch.cat(col), weight, num_rows, start)


def _mean_matrix(slot: Tensor, src: Tensor, num_slots: int, num_rows: int) -> Tensor:
    """The CSR matrix with a row per slot, a column per stacked row, and per edge one over its slot's degree."""
    degree = torch.bincount(slot, minlength=num_slots)
    return _sparse_csr(slot, src, 1.0 / degree[slot].float(), num_slots, num_rows)


def _sparse_csr(rows: Tensor, cols: Tensor, values: Tensor, num_rows: int, num_cols: int) -> Tensor:
    order = torch.argsort(rows, stable=True)
    crow = torch.zeros(num_rows + 1, dtype=torch.long, device=rows.device)
    torch.cumsum(torch.bincount(rows, minlength=num_rows), dim=0, out=crow[1:])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(crow, cols[order], values[order], (num_rows, num_cols), check_invariants=False)


def csr_rows(matrix: Tensor | None, start: int, end: int) -> Tensor:
    """Rows ``start`` to ``end`` of the CSR ``matrix``, as a CSR matrix sharing its columns and values."""
    assert matrix is not None
    crow = matrix.crow_indices()
    first, last = int(crow[start]), int(crow[end])
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(
            crow[start : end + 1] - first,
            matrix.col_indices()[first:last],
            matrix.values()[first:last],
            (end - start, matrix.shape[1]),
            check_invariants=False,
        )


__all__ = ["PackedGraph", "csr_rows"]
