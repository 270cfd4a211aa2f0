"""A plain breadth-first search over a row graph: the reference the vectorised samplers are checked against."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from dbtwin.graph import RowGraph


def bfs(
    graph: RowGraph, table: str, row: int, hops: int, visible: Callable[[str, int], bool] | None = None
) -> set[tuple[str, int]]:
    """Every (table, row) within ``hops`` of ``row``, through neighbours ``visible`` accepts (all by default)."""
    seen = {(table, row)}
    queue = deque([(table, row, 0)])
    while queue:
        t, r, d = queue.popleft()
        if d == hops:
            continue
        for et in graph.edge_types():
            if et[0] != t:
                continue
            csr = graph.csr(et)
            for nb in csr.indices[csr.indptr[r] : csr.indptr[r + 1]]:
                node = (et[2], int(nb))
                if node not in seen and (visible is None or visible(*node)):
                    seen.add(node)
                    queue.append((*node, d + 1))
    return seen
