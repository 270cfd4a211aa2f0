"""A database as a heterogeneous graph: one node per row, one node type per table, and for every
foreign key one edge type (child row -> parent row) plus its reverse (parent -> children).

Adjacency is kept as CSR arrays (``indptr``, ``indices``) per edge type, built once with NumPy, so
neighbour look-ups are slices and the K-hop sampler needs no compiled graph library.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dbtwin.database import Database
from dbtwin.errors import DataValidationError, SchemaError
from dbtwin.schema.model import ForeignKey, Schema, StorageType

#: (source table, relation, destination table), as PyG names heterogeneous edge types.
EdgeType = tuple[str, str, str]
REVERSE_PREFIX = "rev_"


@dataclass(frozen=True)
class CSR:
    """Compressed sparse rows: the neighbours of source node ``i`` are ``indices[indptr[i]:indptr[i+1]]``."""

    indptr: np.ndarray
    indices: np.ndarray

    @classmethod
    def from_pairs(cls, src: np.ndarray, dst: np.ndarray, num_src: int) -> CSR:
        order = np.argsort(src, kind="stable")
        counts = np.bincount(src, minlength=num_src)
        indptr = np.zeros(num_src + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        return cls(indptr, dst[order].astype(np.int64, copy=False))

    def degree(self, nodes: np.ndarray | None = None) -> np.ndarray:
        if nodes is None:
            return np.diff(self.indptr)
        return self.indptr[nodes + 1] - self.indptr[nodes]


@dataclass
class ForeignKeyEdges:
    """The links of one foreign key: ``child_rows[i]`` references ``parent_rows[i]`` (row positions)."""

    fk: ForeignKey
    child_rows: np.ndarray
    parent_rows: np.ndarray


@dataclass
class RowGraph:
    """Node counts per table and the row-level links of every foreign key.

    ``key_frames`` holds the primary-key values of each table when the graph was built from a
    database, so that :meth:`to_database` can restore them; a generated graph has none and gets
    fresh keys. ``extra_keys`` are edge types beyond the foreign keys (a row's predecessor in time,
    :mod:`dbtwin.graph.sequences`), each held like a self-reference without key columns.
    """

    schema: Schema
    num_nodes: dict[str, int]
    links: dict[str, ForeignKeyEdges]
    key_frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    extra_keys: list[ForeignKey] = field(default_factory=list)
    _csr: dict[EdgeType, CSR] = field(default_factory=dict, repr=False)
    _relations: dict[str, str] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_database(cls, db: Database) -> RowGraph:
        """Build the row graph; NULL and orphan foreign keys give no edge."""
        links = {}
        for fk in db.schema.foreign_keys:
            pos = db.parent_positions(fk)
            child_rows = np.flatnonzero(pos >= 0).astype(np.int64)
            links[fk.name] = ForeignKeyEdges(fk, child_rows, pos[child_rows])
        keys = {name: db[name][list(t.primary_key)].copy() for name, t in db.schema.tables.items() if t.primary_key}
        return cls(db.schema, {t: db.num_rows(t) for t in db.schema.table_names}, links, keys)

    def add_edges(self, name: str, table: str, sources: np.ndarray, targets: np.ndarray) -> None:
        """Add an edge type ``name`` between rows of ``table`` (``sources[i] -> targets[i]``, each
        source at most once) and its reverse."""
        fk = ForeignKey(table, (), table, (), name=name)
        self.extra_keys.append(fk)
        self.links[name] = ForeignKeyEdges(fk, np.asarray(sources, dtype=np.int64), np.asarray(targets, dtype=np.int64))
        self._relations.clear()

    @property
    def edge_keys(self) -> list[ForeignKey]:
        """The foreign keys and extra edge types, each giving an edge type and its reverse."""
        return self.schema.foreign_keys + self.extra_keys

    # ------------------------------------------------------------------ edge types
    def relation(self, fk: ForeignKey) -> str:
        """A name for the foreign key that is safe as a PyG edge-type relation (no dots)."""
        if not self._relations:
            used: set[tuple[str, str, str]] = set()
            for other in self.edge_keys:
                base = re.sub(r"\W", "_", "_".join(other.columns)) or "previous"
                name, i = base, 1
                while (other.child, name, other.parent) in used:
                    i += 1
                    name = f"{base}_{i}"
                used.add((other.child, name, other.parent))
                self._relations[other.name] = name
        return self._relations[fk.name]

    def edge_types(self) -> list[EdgeType]:
        """Every edge type: for each foreign key, child -> parent and then its reverse."""
        types: list[EdgeType] = []
        for fk in self.edge_keys:
            rel = self.relation(fk)
            types += [(fk.child, rel, fk.parent), (fk.parent, REVERSE_PREFIX + rel, fk.child)]
        return types

    def foreign_key_of(self, edge_type: EdgeType) -> tuple[ForeignKey, bool]:
        """The foreign key behind an edge type, and whether the edge type is its reverse."""
        src, rel, _ = edge_type
        reverse = rel.startswith(REVERSE_PREFIX)
        for fk in self.edge_keys:
            if reverse and (fk.parent, REVERSE_PREFIX + self.relation(fk), fk.child) == edge_type:
                return fk, True
            if not reverse and (fk.child, self.relation(fk), fk.parent) == edge_type:
                return fk, False
        raise SchemaError(f"no foreign key behind edge type {edge_type}", table=src)

    def edge_index(self, edge_type: EdgeType) -> np.ndarray:
        """All edges of one type as a ``(2, E)`` array of row positions (source, destination)."""
        fk, reverse = self.foreign_key_of(edge_type)
        link = self.links[fk.name]
        pair = (link.parent_rows, link.child_rows) if reverse else (link.child_rows, link.parent_rows)
        return np.stack(pair)

    def csr(self, edge_type: EdgeType) -> CSR:
        """CSR adjacency of one edge type, built on first use."""
        if edge_type not in self._csr:
            src, dst = self.edge_index(edge_type)
            self._csr[edge_type] = CSR.from_pairs(src, dst, self.num_nodes[edge_type[0]])
        return self._csr[edge_type]

    @property
    def num_edges(self) -> int:
        return sum(len(link.child_rows) for link in self.links.values())

    def to_hetero_data(self):
        """The whole graph as a PyG ``HeteroData`` (``num_nodes`` per type, ``edge_index`` per edge type)."""
        import torch
        from torch_geometric.data import HeteroData

        data = HeteroData()
        for table, n in self.num_nodes.items():
            data[table].num_nodes = n
        for et in self.edge_types():
            data[et].edge_index = torch.from_numpy(self.edge_index(et))
        return data

    # ------------------------------------------------------------------ back to tables
    def to_database(
        self,
        attributes: dict[str, pd.DataFrame],
        prepare: Callable[[str, pd.DataFrame], pd.DataFrame] | None = None,
    ) -> Database:
        """Turn the graph plus each table's non-key columns back into a :class:`Database`.

        Primary keys come from ``key_frames`` when the graph was built from a database, from
        ``attributes`` when given there, and are otherwise numbered 1..n (``table-1``, ... for string
        keys). Foreign-key columns are filled from the links (NULL for rows without a link). A column
        written by two foreign keys must agree; unique primary keys are checked. ``prepare`` may amend
        each table once its keys are filled, before its children read them (parents first).
        """
        frames: dict[str, pd.DataFrame] = {}
        fk_columns = {t: {c for fk in self.schema.foreign_keys_of(t) for c in fk.columns} for t in self.schema.tables}
        for name, table in self.schema.tables.items():
            n = self.num_nodes[name]
            given = attributes.get(name, pd.DataFrame(index=pd.RangeIndex(n)))
            if len(given) != n:
                raise SchemaError(f"attributes of table '{name}' have {len(given)} rows, the graph {n}", table=name)
            frame = given.reset_index(drop=True).copy()
            for col in table.primary_key:
                if col in fk_columns[name] and col not in frame.columns:
                    continue
                if name in self.key_frames and col in self.key_frames[name].columns:
                    frame[col] = self.key_frames[name][col].to_numpy()
                elif col not in frame.columns:
                    frame[col] = _fresh_keys(name, table.column(col).dtype, n, col)
            frames[name] = frame
        for name in self.schema.topological_order():
            fks = self.schema.foreign_keys_of(name)
            for fk in fks:
                if not fk.is_self_reference:
                    self._fill_foreign_key(frames, name, fk)
            if prepare is not None:
                frames[name] = prepare(name, frames[name])
            for fk in fks:  # after prepare: a self-reference reads the table's final keys
                if fk.is_self_reference:
                    self._fill_foreign_key(frames, name, fk)
        db = Database.from_frames({n: f[self.schema.table(n).column_names] for n, f in frames.items()}, self.schema)
        from dbtwin.validate import find_problems

        dup = [p for p in find_problems(db, include_orphans=False) if p.code == "duplicate_primary_key"]
        if dup:
            raise DataValidationError(dup)
        return db

    def _fill_foreign_key(self, frames: dict[str, pd.DataFrame], name: str, fk: ForeignKey) -> None:
        """Fill ``fk``'s columns of table ``name`` from the parent rows its links point at."""
        frame, parent, link = frames[name], frames[fk.parent], self.links[fk.name]
        for ccol, pcol in zip(fk.columns, fk.parent_columns, strict=True):
            values = pd.Series([None] * len(frame), dtype=object)
            values.iloc[link.child_rows] = parent[pcol].to_numpy(dtype=object)[link.parent_rows]
            if ccol in frame.columns:
                old = frame[ccol].astype(object)
                both = old.notna().to_numpy() & values.notna().to_numpy()
                if (old.to_numpy()[both] != values.to_numpy()[both]).any():
                    raise DataValidationError(
                        [
                            f"column '{name}.{ccol}' gets conflicting values from foreign key {fk} and "
                            "another key it belongs to"
                        ]
                    )
                values = values.where(values.notna(), old)
            frame[ccol] = values


def _fresh_keys(table: str, dtype: StorageType, n: int, column: str) -> np.ndarray:
    if dtype == StorageType.INT64:
        return np.arange(1, n + 1, dtype=np.int64)
    if dtype == StorageType.STRING:
        return np.array([f"{table}-{i}" for i in range(1, n + 1)], dtype=object)
    raise SchemaError(
        f"primary key column '{table}.{column}' is stored as {dtype.value}: its values must be given",
        table=table,
        column=column,
    )
