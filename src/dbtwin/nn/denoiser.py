"""The denoiser: a relational GNN over the row graph that predicts, for every row, the noise in its
numeric features and the categories of its masked codes.

Per table: noisy numerics and embedded (possibly masked) codes -> linear projection, plus an embedding
of the row's diffusion time (computed once per distinct time); then ``num_layers`` rounds of
relational message passing over all tables and edge types at once (:mod:`dbtwin.nn.relational`), in
which every neighbour carries its own noisy values; then a per-table MLP head. ``num_layers = 0``
models each table on its own (the "SingleTable" ablation).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from torch import Tensor, nn
from torch_geometric.nn.module_dict import ModuleDict

from dbtwin.graph.row_graph import EdgeType
from dbtwin.nn.device import module_device
from dbtwin.nn.keys import ModuleKeys
from dbtwin.nn.relational import PackedGraph, RelationalMessagePassing


@dataclass
class TableSpec:
    """Feature layout of one table: numeric columns and the category count of each categorical."""

    num_numeric: int
    cardinalities: list[int] = field(default_factory=list)

    @property
    def has_features(self) -> bool:
        return self.num_numeric > 0 or bool(self.cardinalities)


class SinusoidalTime(nn.Module):
    """Sinusoidal embedding of t in [0, 1] followed by a two-layer MLP."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: Tensor) -> Tensor:
        """The embedding of every time in ``t``, the MLP run once per distinct value (one row
        broadcast to all when every time is the same, as in a sampling step)."""
        if len(t) and bool((t == t[0]).all()):  # checked without sorting: a pass over millions of rows
            return self._embed(t[:1]).expand(len(t), -1)
        values, inverse = torch.unique(t, return_inverse=True)
        return self._embed(values)[inverse]

    def _embed(self, t: Tensor) -> Tensor:
        half = self.dim // 2
        freqs = torch.exp(-math.log(10_000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
        angles = (t.float() * 1000.0).unsqueeze(-1) * freqs
        return self.mlp(torch.cat([angles.sin(), angles.cos()], dim=-1))


class TableInput(nn.Module):
    """Projection of one table's noisy features (codes embedded, mask token included)."""

    def __init__(self, spec: TableSpec, hidden: int, cat_dim: int, known_inputs: bool = False) -> None:
        super().__init__()
        self.spec = spec
        self.known_inputs = known_inputs and spec.num_numeric > 0
        offsets = [0]
        for k in spec.cardinalities:
            offsets.append(offsets[-1] + k + 1)
        self.register_buffer("offsets", torch.tensor(offsets[:-1], dtype=torch.long), persistent=False)
        self.embed = nn.Embedding(max(offsets[-1], 1), cat_dim)
        width = spec.num_numeric * (2 if self.known_inputs else 1) + cat_dim * len(spec.cardinalities)
        self.proj = nn.Linear(width, hidden) if width else None
        self.bias = nn.Parameter(torch.zeros(hidden))

    def forward(self, x_num: Tensor, x_cat: Tensor, known: Tensor | None = None) -> Tensor:
        """The rows' input states; ``known`` flags the numbers given clean (1) rather than noised (0)."""
        parts = []
        if self.spec.num_numeric:
            parts.append(x_num)
            if self.known_inputs:
                parts.append(known.to(x_num.dtype) if known is not None else torch.zeros_like(x_num))
        if self.spec.cardinalities:
            parts.append(self.embed(x_cat + self.offsets).flatten(1))
        n = x_num.shape[0] if x_num.numel() or not self.spec.cardinalities else x_cat.shape[0]
        if self.proj is None:
            return self.bias.expand(n, -1)
        return self.proj(torch.cat(parts, dim=-1)) + self.bias


class HeteroDenoiser(nn.Module):
    """Args:
    tables: feature layout per table.
    edge_types: every (source, relation, destination) edge type of the row graph.
    hidden: width of the row states.
    num_layers: message-passing layers (K hops).
    cat_dim: embedding width per categorical column.
    head_mult: width of the heads' hidden layers, as a multiple of ``hidden``.
    degree_inputs: give every row ``log(1 + degree)`` for each edge type arriving at its table (its
        number of children of each child table, whether it has each parent), counted in the whole
        graph: a mean over neighbours hides how many there are, and a row's values go with it (a
        big airport has many flights, a night hour's weather none). The structure is drawn before
        the attributes, so these are known when sampling.
    block_counts: per table, the number of blocks of a block structure model (``sbm``); a table
        with more than one gets its rows' block, one-hot, as an input (known when sampling: each
        synthetic row follows a real row's template, block included).
    known_inputs: give every numeric column a flag saying its value is given clean (known) rather than
        noised, for a model trained to complete rows (``TrainingConfig.known_share``); categorical
        codes need none (a code that is not the mask code is clean).
    """

    def __init__(
        self,
        tables: dict[str, TableSpec],
        edge_types: list[EdgeType],
        hidden: int = 64,
        num_layers: int = 2,
        cat_dim: int = 16,
        head_mult: int = 1,
        degree_inputs: bool = False,
        block_counts: dict[str, int] | None = None,
        known_inputs: bool = False,
    ) -> None:
        super().__init__()
        self.known_inputs = known_inputs
        self.tables = tables
        self.edge_types = [tuple(et) for et in edge_types]
        self.hidden = hidden
        self.num_layers = num_layers
        self.time = SinusoidalTime(hidden)
        self.keys = ModuleKeys(tables, self.edge_types)  # modules keyed by position: any name works
        key = self.keys.table
        self.inputs = ModuleDict(
            {key[t]: TableInput(spec, hidden, cat_dim, known_inputs) for t, spec in tables.items()}
        )
        self.cat_dim, self.head_mult = cat_dim, head_mult
        self.message_passing = RelationalMessagePassing(list(tables), self.edge_types, hidden, num_layers)
        self.degree_inputs = degree_inputs
        self.block_counts = {t: int(k) for t, k in (block_counts or {}).items() if t in tables and k > 1}
        widths = {t: self._degree_width(t) + self.block_counts.get(t, 0) for t in tables}
        self.structure_proj = ModuleDict({key[t]: nn.Linear(w, hidden) for t, w in widths.items() if w})
        width = hidden * head_mult
        self.heads = ModuleDict(
            {
                key[t]: nn.Sequential(
                    nn.Linear(hidden, width),
                    nn.SiLU(),
                    nn.Linear(width, width),
                    nn.SiLU(),
                    nn.Linear(width, spec.num_numeric + sum(spec.cardinalities)),
                )
                for t, spec in tables.items()
                if spec.has_features
            }
        )

    def forward(
        self,
        x_num: dict[str, Tensor],
        x_cat: dict[str, Tensor],
        t: dict[str, Tensor],
        edge_index: dict[EdgeType, Tensor],
        graph: PackedGraph | None = None,
        logit_rows: dict[str, list[Tensor]] | None = None,
        structure: dict[str, Tensor] | None = None,
        known: dict[str, Tensor] | None = None,
    ) -> dict[str, tuple[Tensor, list[Tensor]]]:
        """Per table present in the inputs: (predicted noise of numerics, logits per categorical).
        ``graph``, from :meth:`pack` for the same rows and edges, saves packing them again (sampling
        runs every step over one graph). With ``logit_rows`` (per table, per categorical column, rows), a
        column's logits are computed for those of its rows only (in that order), the noise for all: a
        sampling step unmasks few cells of each column, and a wide categorical's logits for every row
        would cost most of the pass and its memory.
        ``structure`` (from :meth:`structure_inputs`, rows as in the inputs) is needed when the model
        has ``degree_inputs`` or ``block_counts``. ``known``: per table, the flags of the numbers given
        clean, for a model with ``known_inputs`` (absent: none)."""
        names = [name for name in x_num if name in self.keys.table]
        if graph is None:
            graph = self.pack({name: x_num[name].shape[0] for name in names}, edge_index)
        everything = slice(None)
        h = graph.stack(
            {name: self._input_states(name, everything, x_num, x_cat, t, structure, known) for name in graph.tables}
        )
        states = graph.split(self.message_passing(h, graph))
        rows = logit_rows or {}
        return {
            name: self._predicted(name, state, rows.get(name))
            for name, state in states.items()
            if self.tables[name].has_features
        }

    @torch.no_grad()
    def forward_chunked(
        self,
        x_num: dict[str, Tensor],
        x_cat: dict[str, Tensor],
        t: dict[str, Tensor],
        graph: PackedGraph,
        logit_rows: dict[str, list[Tensor]],
        chunk_rows: int,
        structure: dict[str, Tensor] | None = None,
        known: dict[str, Tensor] | None = None,
    ) -> dict[str, tuple[Tensor, list[Tensor]]]:
        """:meth:`forward` without gradients over the rows and edges packed in ``graph``, computing
        every layer for at most ``chunk_rows`` rows at a time (layer-wise inference): what it holds
        besides the inputs and outputs is two state matrices, the moved products and one chunk's
        temporaries. Predictions are made for the tables in ``logit_rows`` only, with logits for the
        rows it lists per categorical column, as in :meth:`forward`."""
        h = torch.empty(sum(graph.sizes), self.hidden, device=module_device(self))
        for name, place in graph.split(h).items():
            for a in range(0, place.shape[0], chunk_rows):
                rows = slice(a, a + chunk_rows)
                place[rows] = self._input_states(name, rows, x_num, x_cat, t, structure, known)
        states = graph.split(self.message_passing.forward_chunked(h, graph, chunk_rows))
        return {
            name: self._predicted_in_chunks(name, state, logit_rows[name], chunk_rows)
            for name, state in states.items()
            if self.tables[name].has_features and name in logit_rows
        }

    def _input_states(self, name, rows, x_num, x_cat, t, structure, known) -> Tensor:
        """The input states of ``rows`` (a slice) of table ``name``: its features, structure and time."""
        key = self.keys.table[name]
        flags = known.get(name) if known else None
        h = self.inputs[key](x_num[name][rows], x_cat[name][rows], flags[rows] if flags is not None else None)
        if key in self.structure_proj:
            if structure is None:
                raise ValueError("this denoiser takes structure inputs: pass structure=model.structure_inputs(...)")
            h = h + self.structure_proj[key](structure[name][rows])
        return h + self.time(t[name][rows])

    def _predicted(self, name: str, state: Tensor, logit_rows: list[Tensor] | None) -> tuple[Tensor, list[Tensor]]:
        """The predicted noise of every row of ``state`` and the logits of each categorical column
        (for its ``logit_rows`` only, when given)."""
        spec = self.tables[name]
        head = self.heads[self.keys.table[name]]
        if logit_rows is None:
            y = head(torch.relu(state))
            eps, y_cat = y[:, : spec.num_numeric], y[:, spec.num_numeric :]
            return eps, list(torch.split(y_cat, spec.cardinalities, dim=-1)) if spec.cardinalities else []
        z, last = head[:-1](torch.relu(state)), head[-1]
        n = spec.num_numeric
        eps = nn.functional.linear(z, last.weight[:n], last.bias[:n])
        logits, start = [], n
        for k, rows in zip(spec.cardinalities, logit_rows, strict=True):
            w, b = last.weight[start : start + k], last.bias[start : start + k]
            logits.append(nn.functional.linear(z.index_select(0, rows), w, b))
            start += k
        return eps, logits

    def _predicted_in_chunks(self, name, state, logit_rows, chunk_rows) -> tuple[Tensor, list[Tensor]]:
        """:meth:`_predicted` for ``chunk_rows`` rows of ``state`` at a time, put together."""
        spec = self.tables[name]
        eps = state.new_empty(state.shape[0], spec.num_numeric)
        logits = [state.new_empty(len(rows), k) for rows, k in zip(logit_rows, spec.cardinalities, strict=True)]
        for a in range(0, state.shape[0], chunk_rows):
            b = min(a + chunk_rows, state.shape[0])
            inside = [((rows >= a) & (rows < b)).nonzero().squeeze(1) for rows in logit_rows]
            here = [rows[i] - a for rows, i in zip(logit_rows, inside, strict=True)]
            eps[a:b], found = self._predicted(name, state[a:b], here)
            for out, i, lg in zip(logits, inside, found, strict=True):
                out[i] = lg
        return eps, logits

    def _degree_width(self, table: str) -> int:
        return self.message_passing.slots[table] if self.degree_inputs else 0

    def structure_inputs(
        self,
        sizes: dict[str, int],
        edge_index: dict[EdgeType, Tensor],
        blocks: dict[str, Tensor] | None = None,
    ) -> dict[str, Tensor]:
        """The ``structure`` input for a graph of ``sizes`` rows per table, all its edges and, with
        ``block_counts``, each row's block: per table, its degrees then its block one-hot (empty
        when the model takes neither)."""
        degrees = self.message_passing.degrees(sizes, edge_index) if self.degree_inputs else {}
        out = {}
        for t in sizes:
            parts = [degrees[t]] if t in degrees else []
            if t in self.block_counts:
                if blocks is None or t not in blocks:
                    raise ValueError(f"table '{t}': this denoiser needs each row's block")
                parts.append(nn.functional.one_hot(blocks[t].long(), self.block_counts[t]).float())
            if parts:
                out[t] = torch.cat(parts, dim=1)
        return out

    def pack(self, sizes: dict[str, int], edge_index: dict[EdgeType, Tensor]) -> PackedGraph:
        """The rows (``sizes``, in the order the inputs will come) and edges packed for :meth:`forward`."""
        return self.message_passing.pack({t: n for t, n in sizes.items() if t in self.keys.table}, edge_index)

    def config(self) -> dict:
        return {
            "tables": {t: asdict(s) for t, s in self.tables.items()},
            "edge_types": [list(et) for et in self.edge_types],
            "hidden": self.hidden,
            "num_layers": self.num_layers,
            "cat_dim": self.cat_dim,
            "head_mult": self.head_mult,
            "degree_inputs": self.degree_inputs,
            "block_counts": self.block_counts,
            "known_inputs": self.known_inputs,
        }

    def reset_parameters(self) -> None:
        """Fresh weights for every layer (as when the model was made, from torch's current RNG)."""
        for module in self.modules():
            if module is not self and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({len(self.tables)} tables, {len(self.edge_types)} edge types, "
            f"hidden={self.hidden}, num_layers={self.num_layers}, cat_dim={self.cat_dim}, "
            f"head_mult={self.head_mult}, degree_inputs={self.degree_inputs}, "
            f"block_counts={len(self.block_counts)} tables, known_inputs={self.known_inputs})"
        )

    @classmethod
    def from_config(cls, config: dict) -> HeteroDenoiser:
        return cls(
            tables={t: TableSpec(**s) for t, s in config["tables"].items()},
            edge_types=[tuple(et) for et in config["edge_types"]],
            hidden=config["hidden"],
            num_layers=config["num_layers"],
            cat_dim=config["cat_dim"],
            head_mult=config["head_mult"],
            degree_inputs=bool(config.get("degree_inputs", False)),
            block_counts={t: int(k) for t, k in config.get("block_counts", {}).items()},
            known_inputs=bool(config.get("known_inputs", False)),
        )
