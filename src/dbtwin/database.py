"""A relational database in memory: a :class:`Schema` plus one pandas DataFrame per table."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dbtwin.errors import DataValidationError, Problem, SchemaError
from dbtwin.schema.dtypes import ConversionError, to_storage
from dbtwin.schema.model import ForeignKey, Schema

#: Marks, in :func:`parent_positions`, a child row whose foreign key is NULL (in any of its columns).
NULL_REF = -1
#: Marks, in :func:`parent_positions`, a child row whose foreign key matches no parent row.
ORPHAN_REF = -2


@dataclass
class Database:
    """Tables of a relational database with their schema.

    ``tables`` maps each table of ``schema`` to a DataFrame whose columns are exactly the table's
    columns, in order. Use :meth:`from_frames` to build one from raw frames (types are converted).
    """

    schema: Schema
    tables: dict[str, pd.DataFrame]
    #: each foreign key's parent positions once computed, for a database no one changes any more
    #: (:meth:`keep_positions`); None: computed on every call
    _positions: dict[str, np.ndarray] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.schema.check()
        for name, table in self.schema.tables.items():
            if name not in self.tables:
                raise SchemaError(f"no data given for table '{name}'", table=name)
            frame = self.tables[name]
            _check_columns(name, table.column_names, frame)
            if list(frame.columns) != table.column_names:
                self.tables[name] = frame[table.column_names]
        unknown = [t for t in self.tables if t not in self.schema.tables]
        if unknown:
            raise SchemaError(f"data given for table(s) {unknown} that the metadata does not declare", table=unknown[0])

    @classmethod
    def from_frames(cls, frames: Mapping[str, pd.DataFrame], schema: Schema | None = None) -> Database:
        """Build a database from raw frames, converting every column to its canonical dtype.

        Without ``schema``, one is detected (:func:`dbtwin.schema.detect.detect_schema`). Values that
        do not fit their declared type raise :class:`DataValidationError` naming each table and column.
        """
        from dbtwin.schema.detect import detect_schema

        frames = dict(frames)
        if schema is None:
            schema = detect_schema(frames).schema
        schema.check()
        problems: list[Problem] = []
        converted: dict[str, pd.DataFrame] = {}
        for name, table in schema.tables.items():
            if name not in frames:
                raise SchemaError(f"no data given for table '{name}'", table=name)
            frame = frames[name]
            _check_columns(name, table.column_names, frame)
            columns = {}
            for col in table.columns:
                try:
                    columns[col.name] = to_storage(frame[col.name], col.dtype, col.scale).reset_index(drop=True)
                except ConversionError as exc:
                    problems.append(
                        Problem(
                            "type_mismatch",
                            name,
                            col.name,
                            f"column '{name}.{col.name}' is declared {col.dtype.value} but {exc.count} value(s) "
                            f"{exc.reason or 'are not'}, e.g. {exc.examples[:3]!r}",
                            exc.count,
                        )
                    )
            converted[name] = pd.DataFrame(columns, index=pd.RangeIndex(len(frame)))
        if problems:
            raise DataValidationError(problems)
        return cls(schema, converted)

    def __getitem__(self, table: str) -> pd.DataFrame:
        try:
            return self.tables[table]
        except KeyError:
            raise SchemaError(f"unknown table '{table}'", table=table) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.schema.tables)

    def num_rows(self, table: str) -> int:
        return len(self[table])

    @property
    def total_rows(self) -> int:
        return sum(len(f) for f in self.tables.values())

    def copy(self) -> Database:
        from copy import deepcopy

        return Database(deepcopy(self.schema), {k: v.copy() for k, v in self.tables.items()})

    def subset(self, tables: list[str]) -> Database:
        """The database restricted to ``tables`` (foreign keys to other tables are dropped)."""
        return Database(self.schema.subset(tables), {t: self.tables[t] for t in tables})

    def parent_positions(self, fk: ForeignKey) -> np.ndarray:
        """Row position in ``fk.parent`` of each row of ``fk.child`` (see :func:`parent_positions`);
        read-only and computed once per foreign key after :meth:`keep_positions`."""
        if self._positions is None:
            return parent_positions(self[fk.child], self[fk.parent], fk)
        if fk.name not in self._positions:
            positions = parent_positions(self[fk.child], self[fk.parent], fk)
            positions.setflags(write=False)
            self._positions[fk.name] = positions
        return self._positions[fk.name]

    def keep_positions(self) -> Database:
        """A new database over the same frames that resolves each foreign key once and keeps the
        result: for data that stay as they are from here on (a fit's prepared database). Changing
        its frames afterwards would leave the kept positions stale."""
        kept = Database(self.schema, dict(self.tables))
        kept._positions = {}
        return kept


def _check_columns(name: str, declared: list[str], frame: pd.DataFrame) -> None:
    missing = [c for c in declared if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"table '{name}' lacks column(s) {missing} that its metadata declares", table=name, column=missing[0]
        )
    extra = [str(c) for c in frame.columns if c not in declared]
    if extra:
        raise SchemaError(
            f"table '{name}' has column(s) {extra} that its metadata does not declare", table=name, column=extra[0]
        )


def hashable_keys(*frames: pd.DataFrame) -> tuple[pd.DataFrame, ...]:
    """``frames`` (with the same number of columns, compared column by column) with text that holds
    NUL characters escaped injectively, for pandas' hash tables, which compare strings only up to
    their first NUL (``'a\\x00b'`` and ``'a\\x00c'`` would match). A column is escaped in every frame
    or in none, so values still compare across frames."""
    out = list(frames)
    for j in range(frames[0].shape[1]):
        columns = [f.iloc[:, j] for f in frames]
        if not any(c.dtype == object and _has_nul(c) for c in columns):
            continue
        for k, column in enumerate(columns):
            out[k] = out[k].copy() if out[k] is frames[k] else out[k]
            out[k].isetitem(j, column.map(_escape_nul))
    return tuple(out)


def _has_nul(series: pd.Series) -> bool:
    values = series.to_numpy(dtype=object)
    try:  # one join is ten times faster than a per-value test; NULLs (None) make it fall back
        return "\x00" in "".join(values)
    except TypeError:
        return "\x00" in "".join([v for v in values if isinstance(v, str)])


def _escape_nul(value: object) -> object:
    return value.replace("\\", "\\\\").replace("\x00", "\\0") if isinstance(value, str) else value


def parent_positions(child: pd.DataFrame, parent: pd.DataFrame, fk: ForeignKey) -> np.ndarray:
    """For each child row, the position of the parent row it references.

    Returns an ``int64`` array with :data:`NULL_REF` where any foreign-key column is NULL (SQL's
    MATCH SIMPLE) and :data:`ORPHAN_REF` where the key matches no parent row. If the parent's key has
    duplicates, the first matching row is used (validation reports the duplicates).
    """
    ccols, pcols = list(fk.columns), list(fk.parent_columns)
    is_null = child[ccols].isna().any(axis=1).to_numpy()
    child, parent = hashable_keys(child[ccols], parent[pcols])
    keys = parent[pcols]
    dup = keys.duplicated(keep="first").to_numpy()
    if dup.any():
        keys = keys[~dup]
    positions_in_keys = np.flatnonzero(~dup)
    if len(pcols) == 1:
        index = pd.Index(keys[pcols[0]].to_numpy(dtype=object) if keys[pcols[0]].dtype == object else keys[pcols[0]])
        found = index.get_indexer(child[ccols[0]])
    else:
        index = pd.MultiIndex.from_frame(keys)
        found = index.get_indexer(pd.MultiIndex.from_frame(child[ccols].set_axis(pcols, axis=1)))
    found = np.asarray(found, dtype=np.int64)
    result = np.where(found >= 0, positions_in_keys[np.maximum(found, 0)] if len(positions_in_keys) else -2, ORPHAN_REF)
    result = np.where(is_null, NULL_REF, result)
    return result.astype(np.int64)
