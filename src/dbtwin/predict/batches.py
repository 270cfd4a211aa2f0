"""Mini-batches for the predictor: each example's temporal K-hop neighbourhood with its rows' encoded
columns and ages, as tensors.

:class:`GraphInputs` holds what is fixed for one database (row graph, row times, encoded columns,
the temporal sampler); :meth:`GraphInputs.batch` turns a set of examples into model inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from dbtwin.database import Database
from dbtwin.graph import RowGraph
from dbtwin.graph.temporal import TemporalSampler
from dbtwin.predict.encoder import RowEncoder, TableInputs
from dbtwin.predict.text import TextStates
from dbtwin.predict.times import NANOS_PER_DAY, row_times
from dbtwin.schema.model import Schema


@dataclass
class Batch:
    """Model inputs for a set of examples (see :meth:`dbtwin.predict.model.RelationalGNN.forward`)."""

    numeric: dict[str, Tensor]
    codes: dict[str, Tensor]
    text: dict[str, Tensor]
    age_days: dict[str, Tensor]
    edge_index: dict[tuple[str, str, str], Tensor]
    seed_local: Tensor
    #: with a fine-tuned text encoder: per table, per text column, (token states and mask of the
    #: distinct values in the batch, each node's position among them or -1)
    text_tokens: dict[str, list[tuple[Tensor, Tensor, Tensor]]] = field(default_factory=dict)

    @property
    def num_nodes(self) -> int:
        return sum(len(v) for v in self.numeric.values())


class GraphInputs:
    """The row graph, row times, encoded columns and temporal sampler of one database."""

    def __init__(
        self,
        db: Database,
        encoder: RowEncoder,
        entity_table: str,
        time_expressions: Mapping[str, str] | None = None,
        num_hops: int = 2,
        max_neighbors: Sequence[int | None] | int | None = (16, 8),
        strategy: str = "last",
        text_states: Mapping[str, list[TextStates]] | None = None,
    ) -> None:
        self.entity_table = entity_table
        self.graph = RowGraph.from_database(db)
        self.times = row_times(db, time_expressions)
        reach = reachable_tables(db.schema, entity_table, num_hops)
        self.tables: dict[str, TableInputs] = {t: encoder.transform_table(db, t) for t in reach}
        self.sampler = TemporalSampler(self.graph, self.times, num_hops, max_neighbors, strategy)
        self.text_states = {t: v for t, v in (text_states or {}).items() if t in reach}

    def batch(self, entity_rows: np.ndarray, times: np.ndarray, random_state: int | None = None) -> Batch:
        """Inputs for examples (entity row, moment as ``datetime64[ns]``)."""
        moments = np.asarray(times).astype("datetime64[ns]").astype(np.int64)
        sub = self.sampler.sample({self.entity_table: entity_rows}, {self.entity_table: moments}, random_state)
        numeric, codes, text, ages = {}, {}, {}, {}
        for table, nodes in sub.nodes.items():
            inputs = self.tables[table]
            numeric[table] = torch.from_numpy(inputs.numeric[nodes])
            codes[table] = torch.from_numpy(inputs.codes[nodes])
            text[table] = torch.from_numpy(inputs.text[nodes])
            if table in self.times:
                age = (self.sampler.seed_time_of(sub, table) - self.times[table][nodes]) / NANOS_PER_DAY
                ages[table] = torch.from_numpy(age.astype(np.float32))
        edges = {et: torch.from_numpy(ei) for et, ei in sub.edge_index.items()}
        tokens = {
            t: [_tokens_of(s, sub.nodes[t]) for s in cols] for t, cols in self.text_states.items() if t in sub.nodes
        }
        seeds = torch.from_numpy(sub.seed_local[self.entity_table])
        return Batch(numeric, codes, text, ages, edges, seeds, tokens)


def reachable_tables(schema: Schema, entity_table: str, num_hops: int) -> list[str]:
    """Tables within ``num_hops`` foreign-key hops of ``entity_table`` (either direction): the only
    ones whose rows a batch can hold."""
    reach, frontier = {entity_table}, {entity_table}
    for _ in range(num_hops):
        nxt = set()
        for fk in schema.foreign_keys:
            if fk.child in frontier:
                nxt.add(fk.parent)
            if fk.parent in frontier:
                nxt.add(fk.child)
        frontier = nxt - reach
        reach |= nxt
    return [t for t in schema.table_names if t in reach]


def _tokens_of(states: TextStates, nodes: np.ndarray) -> tuple[Tensor, Tensor, Tensor]:
    """The distinct values of one text column among ``nodes``, and each node's position among them."""
    index = states.index[nodes]
    present = index >= 0
    distinct, inverse = np.unique(index[present], return_inverse=True)
    position = np.full(len(nodes), -1, dtype=np.int64)
    position[present] = inverse
    return (
        torch.from_numpy(states.states[distinct]),
        torch.from_numpy(states.mask[distinct]),
        torch.from_numpy(position),
    )
