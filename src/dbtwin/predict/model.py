"""The predictive model: per-table row encoders -> temporal encoding -> K layers of heterogeneous
message passing -> MLP head on the seed rows (RelBench's RDL model, with sentence embeddings of text
columns as the hybrid LM + GNN variant). The message passing is one ``SAGEConv`` per edge type or
the relational layer the denoiser uses (:mod:`dbtwin.nn.relational`: one sparse product and one
scatter-max per layer for all edge types).

The temporal encoding embeds, for every row of a timed table, how long before its seed's moment the
row became known (sinusoids of the age in days, from hours to decades); static rows get a learned
vector instead.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict

import torch
from torch import Tensor, nn
from torch_geometric.nn import HeteroConv, SAGEConv
from torch_geometric.nn.module_dict import ModuleDict
from torch_geometric.nn.parameter_dict import ParameterDict

from dbtwin.graph.row_graph import EdgeType
from dbtwin.nn.denoiser import TableInput, TableSpec
from dbtwin.nn.keys import ModuleKeys
from dbtwin.nn.message_passing import residual_message_passing
from dbtwin.nn.relational import RelationalMessagePassing
from dbtwin.predict.text import FinetunedText


class AgeEncoding(nn.Module):
    """Sinusoids of a row's age (days before its seed's moment) on periods from 1 hour to ~30 years."""

    def __init__(self, hidden: int, num_frequencies: int = 16) -> None:
        super().__init__()
        periods = torch.logspace(math.log10(1 / 24), math.log10(3e4 / (2 * math.pi)), num_frequencies)
        self.register_buffer("freqs", 1.0 / periods, persistent=False)
        self.proj = nn.Linear(2 * num_frequencies + 1, hidden)

    def forward(self, age_days: Tensor) -> Tensor:
        angles = age_days.unsqueeze(-1) * self.freqs
        scaled = torch.log1p(age_days.clamp(min=0)).unsqueeze(-1) / 10.0
        return self.proj(torch.cat([angles.sin(), angles.cos(), scaled], dim=-1))


class RowInput(nn.Module):
    """One table's encoded columns (numbers, category codes, text embeddings) -> a row state."""

    def __init__(self, spec: TableSpec, text_dim: int, hidden: int, cat_dim: int) -> None:
        super().__init__()
        self.tabular = TableInput(spec, hidden, cat_dim)
        self.text = (
            nn.Sequential(nn.Linear(text_dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden)) if text_dim else None
        )

    def forward(self, numeric: Tensor, codes: Tensor, text: Tensor) -> Tensor:
        h = self.tabular(numeric, codes)
        if self.text is not None:
            h = h + self.text(text)
        return h


class RelationalGNN(nn.Module):
    """Args:
    tables: per table, its feature layout (numbers and category counts).
    text_dims: per table, the width of its text embeddings (0: none).
    timed: the tables whose rows have times (they get the age encoding).
    edge_types: the row graph's edge types.
    out_dim: 1 for binary classification and regression, the class count for multiclass.
    hidden, num_layers, cat_dim, dropout: sizes of the model.
    aggr: neighbour aggregation of each layer, by default mean and max (the max lets a row see its
        most recent neighbour's age directly); "mean" alone.
    message_passing: "sage" (a ``SAGEConv`` per edge type, summed) or "relational"
        (:class:`RelationalMessagePassing`).
    text_tower: a fine-tuned copy of the text encoder's last layers
        (:class:`dbtwin.predict.text.FinetunedText`); text columns then come as token states.
    """

    def __init__(
        self,
        tables: dict[str, TableSpec],
        text_dims: dict[str, int],
        timed: list[str],
        edge_types: list[EdgeType],
        out_dim: int,
        hidden: int = 64,
        num_layers: int = 2,
        cat_dim: int = 8,
        dropout: float = 0.1,
        aggr: str | list[str] = ("mean", "max"),  # type: ignore[assignment]
        text_tower: nn.Module | None = None,
        message_passing: str = "sage",
    ) -> None:
        super().__init__()
        self.tables, self.text_dims, self.timed = tables, dict(text_dims), list(timed)
        self.edge_types = [tuple(et) for et in edge_types]
        self.out_dim, self.hidden, self.num_layers, self.cat_dim, self.dropout = (
            out_dim,
            hidden,
            num_layers,
            cat_dim,
            dropout,
        )
        self.aggr = aggr if isinstance(aggr, str) else list(aggr)
        if message_passing not in ("relational", "sage"):
            raise ValueError(f"message_passing must be 'relational' or 'sage', not {message_passing!r}")
        self.message_passing = message_passing
        self.text_tower = text_tower
        self.keys = ModuleKeys(tables, self.edge_types)  # modules keyed by position: any name works
        key = self.keys.table
        self.inputs = ModuleDict(
            {key[t]: RowInput(s, self.text_dims.get(t, 0), hidden, cat_dim) for t, s in tables.items()}
        )
        self.age = ModuleDict({key[t]: AgeEncoding(hidden) for t in self.timed})
        self.static = ParameterDict({key[t]: nn.Parameter(torch.zeros(hidden)) for t in tables if t not in self.timed})
        if message_passing == "relational":
            self.relational = RelationalMessagePassing(list(tables), self.edge_types, hidden, num_layers, self.aggr)
        else:
            self.convs = nn.ModuleList(
                HeteroConv(
                    {
                        self.keys.edge[et]: SAGEConv((hidden, hidden), hidden, aggr=copy.copy(self.aggr))
                        for et in self.edge_types
                    },
                    aggr="sum",
                )
                for _ in range(num_layers)
            )
            self.norms = nn.ModuleList(
                ModuleDict({key[t]: nn.LayerNorm(hidden) for t in tables}) for _ in range(num_layers)
            )
        self.head = nn.Sequential(
            nn.LayerNorm(hidden), nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, out_dim)
        )

    def forward(
        self,
        numeric: dict[str, Tensor],
        codes: dict[str, Tensor],
        text: dict[str, Tensor],
        age_days: dict[str, Tensor],
        edge_index: dict[EdgeType, Tensor],
        seed_table: str,
        seed_local: Tensor,
        text_tokens: dict[str, list[tuple[Tensor, Tensor, Tensor]]] | None = None,
    ) -> Tensor:
        """Predictions (logits or values) for the seed rows, in the order of ``seed_local``."""
        h = {}
        for name in numeric:
            words = text[name]
            if self.text_tower is not None and text_tokens and name in text_tokens:
                words = torch.cat([self._embed(*column) for column in text_tokens[name]], dim=-1)
            k = self.keys.table[name]
            state = self.inputs[k](numeric[name], codes[name], words)
            state = state + (self.age[k](age_days[name]) if k in self.age else self.static[k])
            h[name] = state
        if self.message_passing == "relational":
            h = self.relational.forward_dict(h, edge_index)
            return self.head(h[seed_table][seed_local])
        h = {self.keys.table[name]: state for name, state in h.items()}
        h = residual_message_passing(h, self.keys.edges_in(edge_index), self.convs, self.norms)
        return self.head(h[self.keys.table[seed_table]][seed_local])

    def _embed(self, states: Tensor, mask: Tensor, position: Tensor) -> Tensor:
        """One text column of every node through the fine-tuned layers (each distinct value once)."""
        if not len(states):
            return states.new_zeros((len(position), states.shape[-1]))
        vectors = self.text_tower(states, mask)
        out = vectors.new_zeros((len(position), vectors.shape[-1]))
        present = position >= 0
        return out.index_put((present.nonzero().squeeze(-1),), vectors[position[present]])

    def config(self) -> dict:
        return {
            "tables": {t: asdict(s) for t, s in self.tables.items()},
            "text_dims": self.text_dims,
            "timed": self.timed,
            "edge_types": [list(et) for et in self.edge_types],
            "out_dim": self.out_dim,
            "hidden": self.hidden,
            "num_layers": self.num_layers,
            "cat_dim": self.cat_dim,
            "dropout": self.dropout,
            "aggr": self.aggr,
            "text_tower_layers": self.text_tower.num_layers if self.text_tower is not None else 0,
            "message_passing": self.message_passing,
        }

    @classmethod
    def from_config(cls, config: dict) -> RelationalGNN:
        return cls(
            tables={t: TableSpec(**s) for t, s in config["tables"].items()},
            text_dims=config["text_dims"],
            timed=config["timed"],
            edge_types=[tuple(et) for et in config["edge_types"]],
            out_dim=config["out_dim"],
            hidden=config["hidden"],
            num_layers=config["num_layers"],
            cat_dim=config["cat_dim"],
            dropout=config["dropout"],
            aggr=config["aggr"],
            text_tower=FinetunedText(config["text_tower_layers"]) if config.get("text_tower_layers") else None,
            message_passing=config.get("message_passing", "sage"),
        )
