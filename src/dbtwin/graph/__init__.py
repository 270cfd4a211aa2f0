"""The row graph of a database and K-hop subgraph sampling over it."""

from dbtwin.graph.row_graph import CSR, EdgeType, ForeignKeyEdges, RowGraph
from dbtwin.graph.sampler import KHopSampler, Subgraph, SubgraphTooLargeError

__all__ = ["CSR", "EdgeType", "ForeignKeyEdges", "KHopSampler", "RowGraph", "Subgraph", "SubgraphTooLargeError"]
