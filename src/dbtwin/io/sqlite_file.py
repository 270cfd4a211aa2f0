"""SQLite files as destinations: refused or replaced whole, never left beside a stale journal.

SQLite keeps uncommitted or uncheckpointed changes beside the database in sidecar files named after
it (``-wal`` and ``-shm`` in WAL mode, ``-journal`` in rollback mode). The next program to open the
file replays them, whatever file now bears the name: a new file renamed over an old one that left a
``-wal`` behind (after a crash, or while another program holds it) would read as the old database
with its stale edits. So a replaced file's journal is settled first, through SQLite itself, and the
swap is refused while another program holds the file or a sidecar SQLite cannot settle remains.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dbtwin.errors import DestinationNotEmptyError

SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")
_SQLITE_HEADER = b"SQLite format 3\x00"
#: Files SQLite keeps beside a database and replays when it is opened.
SIDECARS = ("-wal", "-shm", "-journal")


def is_sqlite(path: Path) -> bool:
    """A file with the SQLite header (or an empty file with a SQLite suffix)."""
    with path.open("rb") as fh:
        return fh.read(16) == _SQLITE_HEADER or (path.stat().st_size == 0 and path.suffix.lower() in SQLITE_SUFFIXES)


def sidecars(path: Path) -> list[Path]:
    """The journal files beside ``path`` that exist."""
    return [p for p in (path.with_name(path.name + s) for s in SIDECARS) if p.exists()]


def check_sqlite_file(path: Path, replace: bool) -> None:
    """A SQLite file dbtwin may write: not a directory, not an existing file unless ``replace``,
    never a file that is not a SQLite database, and no journal of another database beside it."""
    if path.is_dir():
        raise DestinationNotEmptyError(f"'{path}' is a directory, not a SQLite file")
    exists = path.exists() and path.stat().st_size > 0
    if exists and not replace:
        raise DestinationNotEmptyError(
            f"SQLite file '{path}' already exists; pass --replace (replace=True) to overwrite it"
        )
    if path.is_file() and path.stat().st_size > 0 and not is_sqlite(path):
        raise DestinationNotEmptyError(
            f"'{path}' exists and is not a SQLite database; dbtwin replaces only SQLite files"
        )
    stale = sidecars(path)
    if stale and not path.exists() and not replace:
        raise DestinationNotEmptyError(
            f"'{stale[0]}' is the journal of a SQLite database '{path}' that no longer exists; SQLite would "
            "replay it into the new file: remove it, pass --replace, or write elsewhere"
        )


def settle_journal(path: Path) -> None:
    """Let SQLite bring the journal of the existing database ``path`` into the file (roll back a hot
    journal, checkpoint and remove a WAL), so nothing beside it can be replayed into a file that
    replaces it. Refused while another program holds the database open in WAL mode or locked."""
    if not path.is_file() or path.stat().st_size == 0:  # a journal without its database: replaced too
        for p in sidecars(path):
            p.unlink(missing_ok=True)
        return
    try:
        conn = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=0, isolation_level=None)
    except sqlite3.Error as exc:
        raise DestinationNotEmptyError(f"SQLite file '{path}' cannot be opened to be replaced: {exc}") from None
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # rolls back a hot journal
        mode = conn.execute("PRAGMA journal_mode=DELETE").fetchone()
        if mode is None or str(mode[0]).lower() != "delete":
            raise sqlite3.OperationalError("its WAL is in use")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        raise DestinationNotEmptyError(
            f"SQLite file '{path}' is in use by another program or its journal cannot be settled ({exc}); "
            "close that program and try again"
        ) from None
    finally:
        conn.close()
    for p in sidecars(path):  # no program held the database: what is left is dead (a zeroed journal)
        p.unlink(missing_ok=True)


__all__ = ["SIDECARS", "SQLITE_SUFFIXES", "check_sqlite_file", "is_sqlite", "settle_journal", "sidecars"]
