"""Shared by the dataset builders: a schema from frames whose keys are known in advance."""

from __future__ import annotations

import pandas as pd

from dbtwin.database import Database
from dbtwin.schema.detect import detect_schema
from dbtwin.schema.model import ColumnKind, ForeignKey, Schema, StorageType, Table

ForeignKeySpec = tuple[str, tuple[str, ...], str, tuple[str, ...]]


def database_with_keys(
    frames: dict[str, pd.DataFrame],
    primary_keys: dict[str, tuple[str, ...]],
    foreign_keys: list[ForeignKeySpec],
    time_columns: dict[str, str] | None = None,
) -> Database:
    """Detect types and kinds from the data, then declare the given keys (key columns become ids
    where their storage allows, primary-key columns NOT NULL)."""
    detected = detect_schema(frames).schema
    fks = [ForeignKey(child, cols, parent, pcols) for child, cols, parent, pcols in foreign_keys]
    tables = {}
    for name, table in detected.tables.items():
        pk = primary_keys.get(name, ())
        key_cols = set(pk) | {c for fk in fks if fk.child == name for c in fk.columns}
        for col in table.columns:
            if col.name in key_cols:
                if col.dtype in (StorageType.INT64, StorageType.STRING):
                    col.kind = ColumnKind.ID
                if col.name in pk:
                    col.nullable = False
            elif col.kind == ColumnKind.ID:  # unique non-key columns are modelled, not used as keys
                col.kind = ColumnKind.CATEGORICAL if col.dtype == StorageType.STRING else ColumnKind.INTEGER
        tables[name] = Table(name, table.columns, pk, (time_columns or {}).get(name))
    return Database.from_frames(frames, Schema(tables, fks))
