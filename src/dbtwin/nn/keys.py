"""Module keys that any table name or foreign-key name can map to.

PyG's ``ModuleDict`` stores an edge type ``(src, rel, dst)`` as ``"<src___rel___dst>"`` and turns
``.`` into ``#``, so a name holding ``___``, ``#`` or ``.`` (``cust___id``, ``order.items``) breaks it,
and ``torch.nn.ParameterDict`` refuses dots outright. Networks key their per-table and per-edge-type
modules by position instead (``t0``, ``("t0", "r0", "t1")``) and translate at their boundary.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TypeVar

from dbtwin.graph.row_graph import EdgeType

V = TypeVar("V")


class ModuleKeys:
    """Positional keys for ``tables`` and ``edge_types`` (in the order given, so a network rebuilt
    from its config gets the same keys)."""

    def __init__(self, tables: Iterable[str], edge_types: Iterable[EdgeType]) -> None:
        self.table = {t: f"t{i}" for i, t in enumerate(tables)}
        self.edge = {tuple(et): (self.table[et[0]], f"r{j}", self.table[et[2]]) for j, et in enumerate(edge_types)}

    def edges_in(self, values: Mapping[EdgeType, V]) -> dict[EdgeType, V]:
        """``values`` keyed by edge type, re-keyed by module key (unknown edge types left out)."""
        return {self.edge[tuple(et)]: v for et, v in values.items() if tuple(et) in self.edge}

    def __repr__(self) -> str:
        return f"ModuleKeys({len(self.table)} tables, {len(self.edge)} edge types)"


__all__ = ["ModuleKeys"]
