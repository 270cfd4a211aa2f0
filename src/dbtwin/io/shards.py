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

import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from dbtwin.database import Database
from dbtwin.errors import DataValidationError, Problem
from dbtwin.io.filenames import table_file_stems
from dbtwin.io.parquet import ParquetTableWriter, read_parquet_file
from dbtwin.schema.dtypes import decimal_digits
from dbtwin.schema.model import Schema, StorageType, Table


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
    folder (on its disk), in the system's temporary folder for a server's URL."""
    text = destination.removeprefix("sqlite:///")
    parent = Path(text).expanduser().absolute().parent if "://" not in text else Path(tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".dbtwin-shards-", dir=parent))


def in_shards(db: Database | Sharded) -> Sharded:
    """``db`` as shards: itself, or a database as its one shard."""
    if isinstance(db, Sharded):
        return db
    rows = {t: len(f) for t, f in db.tables.items()}
    return Sharded(db.schema, frozenset(), db.tables, rows, 1, lambda _i: db)


class Spool:
    """Shards spooled as Parquet files in ``directory`` (created, and removed by :meth:`remove`);
    tables in ``once`` are spooled with the first shard only."""

    def __init__(self, directory: Path, schema: Schema, once: Iterable[str] = ()) -> None:
        self.directory = directory
        self.schema = schema
        self.once = frozenset(once)
        self.stems = table_file_stems(schema.table_names)
        self.count = 0
        self.rows = dict.fromkeys(schema.table_names, 0)
        self._sizing: dict[str, list[pd.DataFrame]] = {t: [] for t in schema.table_names}
        self._keys: dict[str, list[np.ndarray]] = {t: [] for t in schema.table_names}

    def add(self, db: Database) -> None:
        """Spool ``db`` as the next shard; refused, with nothing spooled, when it repeats a primary key
        of an earlier shard."""
        tables = [t for t in self.schema.table_names if not (self.count and t in self.once)]
        keys = {t: self._new_keys(t, db[t]) for t in tables if t not in self.once}
        folder = self.directory / str(self.count)
        folder.mkdir(parents=True)
        for name in tables:
            frame, table = db[name], self.schema.table(name)
            widest = frame.iloc[widest_rows(frame, table)]  # sizes this file, and the destination's later
            with ParquetTableWriter(self._file(self.count, name), table, widest) as writer:
                writer.append(frame)
            self._sizing[name].append(widest)
            self.rows[name] += len(frame)
        for name, hashed in keys.items():
            self._keys[name].append(hashed)
        self.count += 1
        pa.default_memory_pool().release_unused()  # Arrow's pool keeps what it freed unless told

    def sharded(self) -> Sharded:
        sizing = {t: pd.concat(parts, ignore_index=True) for t, parts in self._sizing.items()}
        return Sharded(self.schema, self.once, sizing, dict(self.rows), self.count, self._load)

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def _load(self, shard: int) -> Database:
        pa.default_memory_pool().release_unused()
        frames = {name: self._table(shard, name) for name in self.schema.table_names}
        return Database.from_frames(frames, self.schema)

    def _file(self, shard: int, name: str) -> Path:
        return self.directory / str(0 if name in self.once else shard) / f"{self.stems[name]}.parquet"

    def _table(self, shard: int, name: str) -> pd.DataFrame:
        return read_parquet_file(self._file(shard, name), name)

    def _new_keys(self, name: str, frame: pd.DataFrame) -> np.ndarray:
        """The hashes of ``frame``'s primary keys; refused when one of them is an earlier shard's."""
        table = self.schema.table(name)
        if not table.primary_key or frame.empty:
            return np.zeros(0, dtype=np.uint64)
        hashed = pd.util.hash_pandas_object(frame[list(table.primary_key)], index=False).to_numpy()
        taken = [np.flatnonzero(np.isin(hashed, earlier)) for earlier in self._keys[name]]
        repeated = np.unique(np.concatenate(taken)) if taken else np.zeros(0, dtype=np.int64)
        if len(repeated):  # a 64-bit hash: compare the values themselves before refusing
            repeated = self._truly_repeated(name, frame.iloc[repeated], table)
        if len(repeated):
            key = ", ".join(table.primary_key)
            raise DataValidationError(
                [
                    Problem(
                        "duplicate_primary_key",
                        name,
                        table.primary_key[0],
                        f"table '{name}': shard {self.count + 1} repeats {len(repeated)} primary key(s) ({key}) "
                        "of an earlier shard",
                        len(repeated),
                    )
                ]
            )
        return hashed

    def _truly_repeated(self, name: str, rows: pd.DataFrame, table: Table) -> pd.DataFrame:
        pk = list(table.primary_key)
        earlier = [Database.from_frames({name: self._table(i, name)}, self.schema.subset([name]))[name][pk]
                   for i in range(self.count)]  # fmt: skip
        return rows[pk].merge(pd.concat(earlier).drop_duplicates(), how="inner")


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


__all__ = ["Sharded", "Spool", "in_shards", "spool_folder", "widest_rows"]
