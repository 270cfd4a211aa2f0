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

from dbtwin.atomic import atomic_path
from dbtwin.database import Database
from dbtwin.errors import DestinationNotEmptyError, InvalidFileError, UnsupportedSourceError, driver_message
from dbtwin.io.files import FILE_FORMATS, FileFormat, holds_files, read_directory, write_directory
from dbtwin.io.locations import check_destination, check_url, check_writable, display
from dbtwin.io.shards import Sharded
from dbtwin.io.sql import read_sql, write_sql
from dbtwin.io.sqlite_file import SQLITE_SUFFIXES, check_sqlite_file, is_sqlite, settle_journal
from dbtwin.schema.metadata_json import load_schema
from dbtwin.schema.model import Schema
from dbtwin.validate import OrphanPolicy, resolve_orphans

log = logging.getLogger(__name__)


def read(
    source: str | os.PathLike,
    metadata: str | os.PathLike | Schema | None = None,
    orphans: OrphanPolicy = "keep",
    tables: list[str] | None = None,
) -> Database:
    """Read a whole database from ``source`` (see the module docstring for the forms it takes).

    ``metadata`` (a dbtwin or SDV metadata JSON path, or a :class:`Schema`) overrides what the source
    says or what detection guesses. ``orphans`` applies the orphan-foreign-key policy
    (:func:`dbtwin.validate.resolve_orphans`); the default ``"keep"`` only counts them.
    """
    text = os.fspath(source)
    schema = load_schema(metadata) if isinstance(metadata, str | os.PathLike) else metadata
    path = Path(text)
    if "://" in text:
        check_url(text)
        db = _read_server(text, tables)
    elif path.is_dir():
        db = read_directory(path, schema)
        schema = None
    elif path.is_file() and is_sqlite(path):
        db = _read_server(f"sqlite:///{path}", tables, shown=str(path))
        if schema is None:
            db = _detect_undeclared_keys(db, path)
    elif path.suffix.lower() in SQLITE_SUFFIXES and not path.exists():
        raise UnsupportedSourceError(f"SQLite file '{path}' does not exist")
    elif path.suffix.lower() in SQLITE_SUFFIXES and path.is_file():
        raise InvalidFileError(
            f"'{path}' is not a SQLite database (it lacks the SQLite header): corrupt or another format"
        )
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
    if not db.schema.tables:
        raise UnsupportedSourceError(f"'{display(text)}' holds no tables")
    if tables is not None and set(tables) != set(db.schema.table_names):
        db = db.subset(tables)
    if orphans != "keep":
        db, report = resolve_orphans(db, orphans)
        for action in report.actions:
            log.info(action)
    return db


def _detect_undeclared_keys(db: Database, path: Path) -> Database:
    """A SQLite file that declares no key at all is read as its CSV copy would be: primary keys,
    foreign keys and the types of text columns (dates) detected from the data, each guess logged."""
    if any(t.primary_key for t in db.schema.tables.values()) or db.schema.foreign_keys:
        return db
    from dbtwin.schema.detect import detect_schema

    detection = detect_schema(db.tables)
    log.warning(
        "'%s' declares no primary or foreign keys: they were detected from the data; check them with "
        "`dbtwin inspect` and save a corrected copy with --save-metadata",
        path,
    )
    return Database.from_frames(db.tables, detection.schema)


def _read_server(url: str, tables: list[str] | None, shown: str | None = None) -> Database:
    """:func:`read_sql` with the database driver's errors (no such file, not a database, no server)
    turned into one line that names the source, its password masked."""
    import sqlalchemy as sa

    try:
        return read_sql(url, tables=tables)
    except sa.exc.NoSuchModuleError as exc:
        raise UnsupportedSourceError(f"cannot read {display(url)}: no driver for it ({exc})") from None
    except (sa.exc.DBAPIError, sa.exc.ArgumentError) as exc:
        raise InvalidFileError(f"cannot read {shown or display(url)}: {driver_message(exc)}") from None


def write(
    db: Database | Sharded,
    destination: str | os.PathLike,
    replace: bool = False,
    file_format: FileFormat | None = None,
    protect: list[str | os.PathLike] | tuple = (),
) -> None:
    """Write ``db`` (or a database in shards, a shard at a time) to ``destination``; never overwrites
    existing data unless ``replace`` is true.

    SQLite files and directories are written under a temporary name and renamed into place, so a
    failure leaves nothing behind; a replaced SQLite file is swapped whole, a replaced directory has
    only dbtwin's own files replaced, a server database only the tables written. ``protect`` lists
    sources or models the destination must neither be nor hold (refused before any work).
    """
    text = os.fspath(destination)
    if file_format is not None and file_format not in FILE_FORMATS:
        raise UnsupportedSourceError(f"file format must be parquet or csv, not {file_format!r}")
    _check_destination_url(text)
    check_destination(text, list(protect))
    if _is_sqlite_destination(text):
        _write_sqlite_file(db, Path(text.removeprefix("sqlite:///")), replace)
    elif "://" in text:
        write_sql(db, text, replace=replace)
    else:
        write_directory(db, text, file_format or "parquet", replace=replace)


def preflight_destination(
    destination: str | os.PathLike, replace: bool = False, protect: list[str | os.PathLike] | tuple = ()
) -> None:
    """The checks :func:`write` makes, made before any expensive work (reading, fitting, sampling):
    the destination is not one of ``protect`` nor holds one, holds no data unless ``replace``, and can
    be written (its folder exists or can be made, and is writable; the server answers)."""
    text = os.fspath(destination)
    _check_destination_url(text)
    check_destination(text, list(protect))
    if "://" in text and not text.startswith("sqlite:///"):
        _preflight_server(text, replace)
        return
    path = Path(text.removeprefix("sqlite:///")).expanduser()
    if _is_sqlite_destination(text):
        check_sqlite_file(path, replace)
    elif path.exists() and not path.is_dir():
        raise DestinationNotEmptyError(f"'{path}' exists and is not a directory")
    else:
        holds_files(path, replace)
    check_writable(path, 2**20)


def _check_destination_url(text: str) -> None:
    """A destination URL dbtwin can write as it says: parseable, and a SQLite URL without options
    (``?mode=ro`` would become part of a file name)."""
    if "://" not in text:
        return
    check_url(text)
    if text.startswith("sqlite:") and "?" in text:
        raise UnsupportedSourceError(
            f"the destination '{text}' carries URL options ({text.split('?', 1)[1]}); dbtwin writes a plain SQLite "
            "file: give its path without them"
        )


def _preflight_server(url: str, replace: bool) -> None:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
        raise UnsupportedSourceError(f"cannot write to {display(url)}: {exc}") from None
    try:
        existing = sa.inspect(engine).get_table_names()
    except sa.exc.DBAPIError as exc:
        raise UnsupportedSourceError(f"cannot write to {display(url)}: {driver_message(exc)}") from None
    finally:
        engine.dispose()
    if existing and not replace:
        raise DestinationNotEmptyError(
            f"the destination database already holds {len(existing)} table(s); pass --replace (replace=True) "
            "to replace the clashing ones"
        )


def _is_sqlite_destination(text: str) -> bool:
    """A ``sqlite:///`` URL, a path with a SQLite suffix, or an existing file with the SQLite header."""
    path = Path(text)
    if text.startswith("sqlite:///"):
        return True
    return "://" not in text and (path.suffix.lower() in SQLITE_SUFFIXES or (path.is_file() and is_sqlite(path)))


def _write_sqlite_file(db: Database | Sharded, path: Path, replace: bool) -> None:
    check_sqlite_file(path, replace)
    with atomic_path(path, replace=True) as tmp:
        write_sql(db, f"sqlite:///{tmp}")
        settle_journal(path)  # last, so nothing of the old file's journal outlives the swap
