"""One entry point for every place a database can live: :func:`read` and :func:`write`.

A *source* or *destination* is one of:

* a SQLAlchemy URL (``postgresql+psycopg://...``, ``mysql+pymysql://...``, ``sqlite:///file.db``);
* a SQLite file path (``.sqlite``, ``.sqlite3``, ``.db``, or any file with the SQLite header);
* a directory of Parquet or CSV files with ``metadata.json``;
* for reading only, the name of a bundled dataset (``chinook``, ``nycflights13_jan``).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from dbtwin.database import Database
from dbtwin.errors import DestinationNotEmptyError, UnsupportedSourceError
from dbtwin.io.atomic import atomic_path
from dbtwin.io.files import FileFormat, read_directory, write_directory
from dbtwin.io.sql import read_sql, write_sql
from dbtwin.schema.metadata_json import load_schema
from dbtwin.schema.model import Schema
from dbtwin.schema.validate import OrphanPolicy, resolve_orphans

log = logging.getLogger(__name__)

SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
_SQLITE_HEADER = b"SQLite format 3\x00"


def read(
    source: str | os.PathLike,
    metadata: str | os.PathLike | Schema | None = None,
    orphans: OrphanPolicy = "keep",
    tables: list[str] | None = None,
) -> Database:
    """Read a whole database from ``source`` (see the module docstring for the forms it takes).

    ``metadata`` (a dbtwin or SDV metadata JSON path, or a :class:`Schema`) overrides what the source
    says or what detection guesses. ``orphans`` applies the orphan-foreign-key policy
    (:func:`dbtwin.schema.validate.resolve_orphans`); the default ``"keep"`` only counts them.
    """
    text = os.fspath(source)
    schema = load_schema(metadata) if isinstance(metadata, str | os.PathLike) else metadata
    path = Path(text)
    if "://" in text:
        db = read_sql(text, tables=tables)
    elif path.is_dir():
        db = read_directory(path, schema)
        schema = None
    elif path.is_file() and _is_sqlite(path):
        db = read_sql(f"sqlite:///{path}", tables=tables)
    elif path.suffix.lower() in SQLITE_SUFFIXES and not path.exists():
        raise UnsupportedSourceError(f"SQLite file '{path}' does not exist")
    else:
        from dbtwin.datasets import available, load

        if text in available():
            db = load(text)
        else:
            raise UnsupportedSourceError(
                f"cannot read '{text}': not a SQLAlchemy URL, SQLite file, directory or bundled dataset "
                f"(bundled: {', '.join(available())})"
            )
    if schema is not None:
        db = Database.from_frames(db.tables, schema)
    if tables is not None and set(tables) != set(db.schema.table_names):
        db = db.subset(tables)
    if orphans != "keep":
        db, report = resolve_orphans(db, orphans)
        for action in report.actions:
            log.info(action)
    return db


def write(
    db: Database,
    destination: str | os.PathLike,
    replace: bool = False,
    file_format: FileFormat | None = None,
) -> None:
    """Write ``db`` to ``destination``; never overwrites existing data unless ``replace`` is true.

    SQLite files and directories are written under a temporary name and renamed into place, so a
    failure leaves nothing behind; a replaced file or directory is swapped whole.
    """
    text = os.fspath(destination)
    if text.startswith("sqlite:///"):
        _write_sqlite_file(db, Path(text.removeprefix("sqlite:///")), replace)
    elif "://" in text:
        write_sql(db, text, replace=replace)
    elif Path(text).suffix.lower() in SQLITE_SUFFIXES or (Path(text).is_file() and _is_sqlite(Path(text))):
        _write_sqlite_file(db, Path(text), replace)
    else:
        write_directory(db, text, file_format or "parquet", replace=replace)


def _write_sqlite_file(db: Database, path: Path, replace: bool) -> None:
    if path.exists() and path.stat().st_size > 0 and not replace:
        raise DestinationNotEmptyError(
            f"SQLite file '{path}' already exists; pass replace=True (--replace) to overwrite it"
        )
    with atomic_path(path, replace=True) as tmp:
        write_sql(db, f"sqlite:///{tmp}")


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(16) == _SQLITE_HEADER or (path.stat().st_size == 0 and path.suffix.lower() in SQLITE_SUFFIXES)
