"""SDV's HMASynthesizer as a benchmark baseline, given the best view of a schema it can take.

HMA wants one-column keys and no cycles. So that it keeps as many relations as it can:

* a composite primary key that is referenced gets a one-column surrogate (its parts joined), and
  each composite foreign key to it a matching surrogate column; the child's key parts are not shown
  to HMA and are copied back from the referenced parent row after sampling;
* a composite primary key nobody references is left out (SDV then has no key for that table);
* a self-reference is dropped (HMA refuses cycles); after sampling its columns are NULL, or point
  at the row itself where NULL is not allowed.

Every such change is returned as a note and reported with the results. Where two composite keys
share a column (challenges -> episodes and challenges -> bakers share ``series``), the shared part
is copied from the first parent, so the second key resolves only where HMA happens to agree.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import pandas as pd

from dbtwin.database import Database
from dbtwin.schema.dtypes import to_storage
from dbtwin.schema.model import Column, ColumnKind, ForeignKey, Schema, StorageType

KEY = "__key"
SEP = "\x1f"


@dataclass
class HmaView:
    """The schema and frames HMA is given, and how to turn its sample back into the real schema."""

    schema: Schema
    frames: dict[str, pd.DataFrame]
    original: Schema
    surrogates: dict[str, ForeignKey] = field(default_factory=dict)  # surrogate column in child -> original FK
    dropped_self: list[ForeignKey] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _joined(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    parts = frame[list(columns)]
    text = parts.astype(str).agg(SEP.join, axis=1)
    return text.where(parts.notna().all(axis=1), None).astype(object)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Frames with NumPy dtypes (SDV 1.x does not take pandas' nullable ones)."""
    out = {}
    for name, s in frame.items():
        if isinstance(s.dtype, pd.BooleanDtype):
            out[name] = s.astype(object).where(s.notna(), None)
        elif pd.api.types.is_extension_array_dtype(s.dtype) and pd.api.types.is_numeric_dtype(s.dtype):
            out[name] = (
                s.astype("float64") if s.isna().any() else s.astype("int64" if s.dtype.kind in "iu" else "float64")
            )
        else:
            out[name] = s
    return pd.DataFrame(out)


def hma_view(db: Database) -> HmaView:
    """The view of ``db`` HMA can fit (see the module's description)."""
    schema = copy.deepcopy(db.schema)
    frames = {t: db[t].copy() for t in schema.table_names}
    view = HmaView(schema, frames, db.schema)
    referenced = {fk.parent for fk in db.schema.foreign_keys if not fk.is_self_reference}
    for t in schema.tables.values():
        if len(t.primary_key) > 1 and t.name in referenced:
            frames[t.name][KEY] = _joined(frames[t.name], t.primary_key)
            t.columns.append(Column(KEY, StorageType.STRING, ColumnKind.ID, nullable=False))
            view.notes.append(f"{t.name}: composite key ({', '.join(t.primary_key)}) given to HMA as one column")
            t.primary_key = (KEY,)
        elif len(t.primary_key) > 1:
            view.notes.append(f"{t.name}: composite key ({', '.join(t.primary_key)}) left out (SDV has none)")
            t.primary_key = ()
    keep: list[ForeignKey] = []
    hidden: dict[str, set[str]] = {}
    for i, fk in enumerate(db.schema.foreign_keys):
        if fk.is_self_reference:
            view.dropped_self.append(fk)
            hidden.setdefault(fk.child, set()).update(fk.columns)
            view.notes.append(f"{fk}: self-reference dropped (HMA refuses cycles); sampled as NULL")
        elif len(fk.columns) > 1:
            col = f"__fk{i}"
            frames[fk.child][col] = _joined(frames[fk.child], fk.columns)
            nullable = any(db.schema.table(fk.child).column(c).nullable for c in fk.columns)
            schema.table(fk.child).columns.append(Column(col, StorageType.STRING, ColumnKind.ID, nullable=nullable))
            keep.append(ForeignKey(fk.child, (col,), fk.parent, (KEY,)))
            view.surrogates[col] = fk
            hidden.setdefault(fk.child, set()).update(fk.columns)
            view.notes.append(f"{fk}: composite foreign key given to HMA as one column")
        else:
            keep.append(fk)
    schema.foreign_keys = keep
    for table, cols in hidden.items():
        t = schema.table(table)
        shown = {c for fk in keep if fk.child == table for c in fk.columns}  # still a key HMA is given
        cols = {c for c in cols if c not in t.primary_key and c not in shown}
        t.columns = [c for c in t.columns if c.name not in cols]
        frames[table] = frames[table].drop(columns=sorted(cols))
    view.frames = {t: _plain(f) for t, f in frames.items()}
    return view


def restore(view: HmaView, sampled: dict[str, pd.DataFrame]) -> Database:
    """HMA's sample in the real schema: composite keys copied from the parents, self-references NULL."""
    frames = {t: sampled[t].reset_index(drop=True).copy() for t in view.original.table_names}
    filled: dict[str, set[str]] = {}
    for col, fk in view.surrogates.items():
        child, parent = frames[fk.child], frames[fk.parent]
        lookup = parent[[KEY, *fk.parent_columns]].drop_duplicates(KEY).set_index(KEY)
        matched = lookup.reindex(child[col].astype(object).where(child[col].notna(), None))
        done = filled.setdefault(fk.child, set())
        for c, p in zip(fk.columns, fk.parent_columns, strict=True):
            if c not in done:  # a part shared with an earlier key keeps the earlier parent's value
                child[c] = matched[p].to_numpy()
                done.add(c)
    for fk in view.dropped_self:
        child = frames[fk.child]
        table = view.original.table(fk.child)
        for c, p in zip(fk.columns, fk.parent_columns, strict=True):
            child[c] = None if table.column(c).nullable else child[p]
    out = {}
    for name, table in view.original.tables.items():
        frame = frames[name]
        out[name] = pd.DataFrame({c.name: to_storage(frame[c.name], c.dtype) for c in table.columns})
    return Database(view.original, out)
