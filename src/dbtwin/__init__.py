"""dbtwin: learn a generative model of a whole relational database and sample a synthetic twin of it."""

from dbtwin.database import Database
from dbtwin.graph import KHopSampler, RowGraph, Subgraph
from dbtwin.schema import Column, ColumnKind, ForeignKey, Schema, StorageType, Table
from dbtwin.sources import read, write

__version__ = "0.1.0"

__all__ = [
    "Column",
    "ColumnKind",
    "Database",
    "ForeignKey",
    "KHopSampler",
    "RowGraph",
    "Schema",
    "StorageType",
    "Subgraph",
    "Table",
    "__version__",
    "read",
    "write",
]
