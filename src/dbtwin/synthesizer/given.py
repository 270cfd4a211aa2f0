"""Generation around given rows: a sample that holds a source's real rows of some tables (keys and
values byte for byte) and generates every other table's rows, links and values around them: invoices
and lines for these customers, students and scores for these schools.

The given tables' parents come along from the source (a given row's references must resolve). The
given rows enter the denoiser clean, as kept tables do; each takes the link template of a real row
drawn at random, and the tables below them get as many rows per given row as the real ones have
(:func:`dbtwin.structure.links.given_sizes`). Rows that do not fit the model's schema are refused
with the table and column named, before anything is generated.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from dbtwin.database import Database
from dbtwin.errors import DataValidationError, OptionError, SchemaError
from dbtwin.graph.row_graph import RowGraph
from dbtwin.schema.model import Schema
from dbtwin.structure.templates import GivenRows
from dbtwin.validate import find_problems

log = logging.getLogger(__name__)


@dataclass
class Given:
    """The given rows of each table (``frames``, exact), their counts and links for the structure
    (``rows``), and why each table is given (``reasons``)."""

    frames: dict[str, pd.DataFrame]
    rows: GivenRows
    reasons: dict[str, str]

    def features(self, encode) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Each given table's rows encoded by ``encode(table, frame) -> (num, cat)``, as the denoiser's
        clean inputs."""
        return {t: encode(t, frame) for t, frame in self.frames.items()}


def given_rows(source: Database, tables: Sequence[str] | None, schema: Schema, kept: Sequence[str]) -> Given:
    """The rows of ``tables`` (by default every table of ``source``) and of their parents, read from
    ``source`` and checked against the model's ``schema``; ``kept`` are the tables the model keeps."""
    names = list(tables) if tables is not None else list(source.schema.table_names)
    for name in names:
        if name not in schema.tables:
            raise OptionError(
                "given", f"table '{name}' is not in the model's database (its tables: {', '.join(schema.table_names)})"
            )
        if name not in source.schema.tables:
            raise OptionError("given", f"table '{name}' is not in the given database")
    reasons: dict[str, str] = {}
    for table, fk in schema.with_parents(names).items():  # a given row's parents come along
        if fk is None:
            reasons[table] = "given"
            continue
        if table not in source.schema.tables:
            raise OptionError(
                "given", f"table '{fk.child}' needs its parent '{table}' ({fk}), which the given database lacks"
            )
        reasons[table] = f"parent of given table '{fk.child}' through {fk}"
        log.warning("table '%s' comes along with the given rows of '%s' (%s)", table, fk.child, fk)
    for table in kept:
        parents = [fk.parent for fk in schema.foreign_keys_of(table) if fk.parent in reasons]
        if table not in reasons and parents:
            raise OptionError(
                "given",
                f"the model keeps table '{table}' as it is, and it references the given table '{parents[0]}': "
                f"give '{table}' too",
            )
    ordered = [t for t in schema.table_names if t in reasons]
    db = checked_rows(source, ordered, schema.subset(ordered))
    links = RowGraph.from_database(db).links
    parent_rows = {}
    for table in ordered:
        for fk in schema.foreign_keys_of(table):
            rows = np.full(db.num_rows(table), -1, dtype=np.int64)
            rows[links[fk.name].child_rows] = links[fk.name].parent_rows
            parent_rows[fk.name] = rows
    frames = {t: db[t].reset_index(drop=True) for t in ordered}
    return Given(
        frames, GivenRows({t: len(f) for t, f in frames.items()}, parent_rows), {t: reasons[t] for t in ordered}
    )


def checked_rows(
    source: Database, tables: list[str], schema: Schema, allow_orphans: bool = False, allow_nulls: bool = False
) -> Database:
    """``tables`` of ``source`` in the model's column types (``schema``), refused with the table and
    column named where a column is missing, extra, of another type, or a row breaks a key or a foreign
    key. ``allow_nulls``: NULL cells are allowed in every column but the keys (cells to impute), and the
    database returned declares them nullable."""
    for name in tables:
        want, have = schema.table(name), source.schema.table(name)
        missing = [c for c in want.column_names if not have.has_column(c)]
        extra = [c for c in have.column_names if not want.has_column(c)]
        if missing or extra:
            column = (missing or extra)[0]
            what = "lacks column" if missing else "has a column the model does not know,"
            raise SchemaError(f"given table '{name}' {what} '{column}'", table=name, column=column)
        for col in want.columns:
            if have.column(col.name).dtype != col.dtype:
                raise SchemaError(
                    f"given column '{name}.{col.name}' is stored as {have.column(col.name).dtype.value}, the model's "
                    f"as {col.dtype.value}",
                    table=name,
                    column=col.name,
                )
        if want.primary_key != have.primary_key:
            raise SchemaError(
                f"given table '{name}' has primary key {have.primary_key}, the model's {want.primary_key}", table=name
            )
    if allow_nulls:
        schema = copy.deepcopy(schema)
        for name in tables:
            keys = set(schema.key_columns(name))
            for col in schema.table(name).columns:
                col.nullable = col.nullable or col.name not in keys
    db = Database.from_frames({t: source[t] for t in tables}, schema)
    allowed = {"empty_table"} | ({"orphan_foreign_key"} if allow_orphans else set())
    errors = [p for p in find_problems(db) if p.severity == "error" and p.code not in allowed]
    if errors:
        raise DataValidationError(errors)
    return db


__all__ = ["Given", "checked_rows", "given_rows"]
