"""A replaced SQLite file never inherits the journal of the file it replaces."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from dbtwin import read, write
from dbtwin.errors import DestinationNotEmptyError
from tests.conftest import assert_same_database


def _wal_database(path, saved_wal):
    """An old database whose last insert lives only in its WAL (copied aside as after a crash)."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE stale (x INTEGER)")
    conn.execute("INSERT INTO stale VALUES (1)")
    conn.commit()
    shutil.copy(str(path) + "-wal", saved_wal)
    conn.close()  # checkpoints and removes the WAL
    shutil.copy(saved_wal, str(path) + "-wal")  # the WAL left behind by a crash


def test_replace_settles_a_stale_wal(tmp_path, company):
    dest = tmp_path / "dest.sqlite"
    _wal_database(dest, tmp_path / "saved")
    write(company, dest, replace=True)
    assert not (tmp_path / "dest.sqlite-wal").exists()
    assert_same_database(company, read(dest), check_kinds=False)
    names = {r[0] for r in sqlite3.connect(dest).execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "stale" not in names


@pytest.mark.parametrize("dead", [False, True])
def test_replace_rolls_back_a_hot_journal(tmp_path, company, dead):
    dest = tmp_path / "dest.sqlite"
    journal = tmp_path / "dest.sqlite-journal"
    conn = sqlite3.connect(dest, isolation_level=None)
    conn.execute("CREATE TABLE stale (x INTEGER)")
    conn.execute("BEGIN")
    conn.execute("INSERT INTO stale VALUES (1)")
    saved = journal.read_bytes()  # the rollback journal of a transaction in flight, as after a crash
    conn.execute("ROLLBACK")
    conn.close()
    journal.write_bytes(b"\x00" * len(saved) if dead else saved)
    write(company, dest, replace=True)
    assert not journal.exists()
    assert_same_database(company, read(dest), check_kinds=False)


def test_a_journal_without_its_database_is_refused_unless_replacing(tmp_path, company):
    dest = tmp_path / "dest.sqlite"
    _wal_database(tmp_path / "old.sqlite", tmp_path / "saved")
    shutil.copy(tmp_path / "saved", str(dest) + "-wal")
    with pytest.raises(DestinationNotEmptyError, match="journal"):
        write(company, dest)
    write(company, dest, replace=True)
    assert not (tmp_path / "dest.sqlite-wal").exists()
    assert_same_database(company, read(dest), check_kinds=False)


def test_a_database_held_open_in_wal_mode_is_not_replaced(tmp_path, company):
    dest = tmp_path / "dest.sqlite"
    conn = sqlite3.connect(dest)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE kept (x INTEGER)")
    conn.execute("INSERT INTO kept VALUES (7)")
    conn.commit()
    try:
        with pytest.raises(DestinationNotEmptyError, match="in use by another program"):
            write(company, dest, replace=True)
        assert conn.execute("SELECT x FROM kept").fetchall() == [(7,)]
    finally:
        conn.close()
