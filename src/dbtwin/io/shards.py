"""A database too large to hold at once, as shards: databases of one schema, each valid on its own,
whose union is the database. A sample drawn in shards is spooled shard by shard to Parquet files
(dbtwin's own, exact) in a hidden folder beside its destination; the writers then read it back one
shard at a time, so that memory holds one shard, not the database.

Tables in ``once`` (kept tables) hold all their rows in every shard, so that each shard's foreign
keys resolve; they are spooled and written once. Every other table's rows are split among the
shards, and no primary key may repeat across them (checked as each shard is spooled). What a writer
sizes from the values (decimal precision and scale, the length of a string key, a Parquet column's
type) it sizes from ``sizing``: per table, the rows of every shard that hold a column's widest value.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from dbtwin.database import Database
from dbtwin.errors import DataValidationError, OptionError, Problem
from dbtwin.io.abandoned import PREFIX, claim, remove_abandoned
from dbtwin.io.filenames import table_file_stems
from dbtwin.io.parquet import ParquetTableWriter, read_parquet_file
from dbtwin.schema.dtypes import decimal_digits
from dbtwin.schema.model import Schema, StorageType, Table

log = logging.getLogger(__name__)


@dataclass
class Sharded:
    """A database in ``count`` shards, each loaded by ``load(i)`` when it is written; ``rows``: rows
    per table in the whole; ``sizing``: per table, rows holding each column's widest values."""

    schema: Schema
    once: frozenset[str]
    sizing: dict[str, pd.DataFrame]
    rows: dict[str, int]
    count: int
    load: Callable[[int], Database]

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def table_names(self) -> list[str]:
        return self.schema.table_names

    def shards(self) -> Iterator[tuple[int, Database]]:
        """Each shard with its number, loaded one at a time."""
        for i in range(self.count):
            yield i, self.load(i)

    def written(self, shard: int, table: str) -> bool:
        """Whether ``table``'s rows of shard number ``shard`` are written (a table in ``once``: with the first)."""
        return shard == 0 or table not in self.once

    def sizing_database(self) -> Database:
        return Database(self.schema, dict(self.sizing))


def spool_folder(destination: str) -> Path:
    """A new hidden folder for the spool of a sample bound for ``destination``: beside a file or
    folder (on its disk), in the system's temporary folder for a server's URL; marked as this
    process's, once the spools there of samples killed outright are removed."""
    text = destination.removeprefix("sqlite:///")
    parent = Path(text).expanduser().absolute().parent if "://" not in text else Path(tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    for folder in remove_abandoned(parent):
        log.warning("removed %s: the spool of a sample that was killed before it could remove it", folder)
    folder = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
    claim(folder)
    return folder


def in_shards(db: Database | Sharded) -> Sharded:
    """``db`` as shards: itself, or a database as its one shard."""
    if isinstance(db, Sharded):
        return db
    rows = {t: len(f) for t, f in db.tables.items()}
    return Sharded(db.schema, frozenset(), db.tables, rows, 1, lambda _i: db)


@dataclass
class Spooled:
    """What the spool knows of one shard it holds: rows, the rows holding each column's widest values,
    and the hashes of the primary keys, per table (tables in ``once``: with the first shard only)."""

    rows: dict[str, int]
    sizing: dict[str, pd.DataFrame]
    keys: dict[str, np.ndarray]


class Spool:
    """Shards spooled as Parquet files in ``directory`` (created, and removed by :meth:`remove`), shard
    ``i`` in its folder ``i``; tables in ``once`` are spooled with the first shard only. Processes
    spooling shards of one sample into one folder each hold their own; one of them takes the others'
    (:meth:`parts`, :meth:`merge`) to see the whole."""

    def __init__(self, directory: Path, schema: Schema, once: Iterable[str] = ()) -> None:
        self.directory = directory
        self.schema = schema
        self.once = frozenset(once)
        self.stems = table_file_stems(schema.table_names)
        self._held: dict[int, Spooled] = {}

    @property
    def count(self) -> int:
        return len(self._held)

    def add(self, db: Database, index: int | None = None) -> None:
        """Spool ``db`` as shard number ``index`` (default: the next); refused, with nothing spooled, when
        it repeats a primary key of a shard held."""
        index = self.count if index is None else index
        tables = [t for t in self.schema.table_names if not (index and t in self.once)]
        keys = {t: self._new_keys(t, db[t], index) for t in tables if t not in self.once}
        folder = self.directory / str(index)
        folder.mkdir(parents=True)
        sizing = {}
        for name in tables:
            frame, table = db[name], self.schema.table(name)
            sizing[name] = frame.iloc[widest_rows(frame, table)]  # sizes this file, and the destination's later
            with ParquetTableWriter(self._file(index, name), table, sizing[name]) as writer:
                writer.append(frame)
        self._held[index] = Spooled({t: len(db[t]) for t in tables}, sizing, keys)
        pa.default_memory_pool().release_unused()  # Arrow's pool keeps what it freed unless told

    def parts(self) -> dict[int, Spooled]:
        """The shards this spool holds, by number."""
        return dict(self._held)

    def merge(self, parts: dict[int, Spooled]) -> None:
        """Take the shards another process spooled into this folder (its :meth:`parts`); refused when
        one of them is missing here (the processes must share the folder) or repeats a primary key of
        a shard held."""
        for index, part in sorted(parts.items()):
            if not (self.directory / str(index)).is_dir():
                raise OptionError(
                    "shards",
                    f"shard {index + 1} was spooled where this process cannot see it ({self.directory}): "
                    "processes on several machines need their destination on a file system they share",
                )
            for name, hashed in part.keys.items():
                repeated = self._repeats(name, hashed)
                if len(repeated):  # a 64-bit hash: compare the values themselves before refusing
                    self._refuse_repeats(name, self._table(index, name).iloc[repeated], index)
            self._held[index] = part

    def read(self, index: int, tables: Iterable[str]) -> Database:
        """The spooled rows of ``tables`` of shard number ``index``."""
        names = list(tables)
        return Database.from_frames({t: self._table(index, t) for t in names}, self.schema.subset(names))

    def sharded(self) -> Sharded:
        if sorted(self._held) != list(range(self.count)):
            raise AssertionError(f"shards {sorted(self._held)} spooled, not 0 to {self.count - 1}")
        held = [self._held[i] for i in range(self.count)]
        sizing = {t: pd.concat([h.sizing[t] for h in held if t in h.sizing], ignore_index=True)
                  for t in self.schema.table_names}  # fmt: skip
        rows = {t: sum(h.rows.get(t, 0) for h in held) for t in self.schema.table_names}
        return Sharded(self.schema, self.once, sizing, rows, self.count, self._load)

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def _load(self, shard: int) -> Database:
        pa.default_memory_pool().release_unused()
        return self.read(shard, self.schema.table_names)

    def _file(self, shard: int, name: str) -> Path:
        return self.directory / str(0 if name in self.once else shard) / f"{self.stems[name]}.parquet"

    def _table(self, shard: int, name: str) -> pd.DataFrame:
        return read_parquet_file(self._file(shard, name), name)

    def _new_keys(self, name: str, frame: pd.DataFrame, index: int) -> np.ndarray:
        """The hashes of ``frame``'s primary keys; refused when one of them is a held shard's."""
        table = self.schema.table(name)
        if not table.primary_key or frame.empty:
            return np.zeros(0, dtype=np.uint64)
        hashed = pd.util.hash_pandas_object(frame[list(table.primary_key)], index=False).to_numpy()
        repeated = self._repeats(name, hashed)
        if len(repeated):  # a 64-bit hash: compare the values themselves before refusing
            self._refuse_repeats(name, frame.iloc[repeated], index)
        return hashed

    def _repeats(self, name: str, hashed: np.ndarray) -> np.ndarray:
        """Positions of the ``hashed`` keys that a held shard's keys of ``name`` hash to as well."""
        taken = [np.flatnonzero(np.isin(hashed, h.keys[name])) for h in self._held.values() if name in h.keys]
        return np.unique(np.concatenate(taken)) if taken else np.zeros(0, dtype=np.int64)

    def _refuse_repeats(self, name: str, rows: pd.DataFrame, index: int) -> None:
        table = self.schema.table(name)
        pk = list(table.primary_key)
        earlier = [self.read(i, [name])[name][pk] for i in sorted(self._held) if name in self._held[i].keys]
        repeated = rows[pk].merge(pd.concat(earlier).drop_duplicates(), how="inner")
        if len(repeated):
            key = ", ".join(table.primary_key)
            message = f"table '{name}': shard {index + 1} repeats {len(repeated)} primary key(s) ({key}) of another"
            raise DataValidationError(
                [Problem("duplicate_primary_key", name, table.primary_key[0], message, len(repeated))]
            )


def widest_rows(frame: pd.DataFrame, table: Table) -> list[int]:
    """Positions of the rows that hold the widest value of each string and decimal column: the most
    characters; the most digits before and after the point."""
    rows: set[int] = set()
    for col in table.columns:
        values = frame[col.name]
        if col.dtype == StorageType.STRING:
            lengths = values.map(len, na_action="ignore").to_numpy(dtype=float, na_value=np.nan)
            if not np.isnan(lengths).all():
                rows.add(int(np.nanargmax(lengths)))
        elif col.dtype == StorageType.DECIMAL:
            rows.update(_widest_decimals(values.tolist()))
    return sorted(rows)


def _widest_decimals(values: list) -> set[int]:
    """Positions of the decimals with the most whole digits and with the most digits after the point."""
    whole_at = places_at = (-1, 0)  # (digits, position)
    for i, value in enumerate(values):
        held = decimal_digits(value)
        if held is None:
            continue
        if held[0] > whole_at[0]:
            whole_at = (held[0], i)
        if held[1] > places_at[0]:
            places_at = (held[1], i)
    return {i for width, i in (whole_at, places_at) if width >= 0}


__all__ = ["Sharded", "Spool", "Spooled", "in_shards", "spool_folder", "widest_rows"]
