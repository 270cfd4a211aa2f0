"""A spool left by a sample killed outright is removed by the next sample beside it, and only then:
never one whose process still runs, one made on another machine or in another container, or one
without a readable owner."""

from __future__ import annotations

import json
import logging
import os

from dbtwin.io import abandoned
from dbtwin.io.abandoned import OWNER_FILE, PREFIX, claim
from dbtwin.io.shards import spool_folder
from tests.conftest import ended_pid


def _spool(parent, name, owner=None):
    folder = parent / f"{PREFIX}{name}"
    (folder / "0").mkdir(parents=True)
    (folder / "0" / "table.parquet").write_bytes(b"rows")
    if owner is not None:
        (folder / OWNER_FILE).write_text(owner if isinstance(owner, str) else json.dumps(owner))
    return folder


def test_only_the_spools_of_ended_processes_here_are_removed(tmp_path, caplog):
    here = tmp_path / "mine"
    here.mkdir()
    claim(here)
    alive = json.loads((here / OWNER_FILE).read_text())
    assert alive["pid"] == os.getpid()
    ended = {**alive, "pid": ended_pid()}
    gone = _spool(tmp_path, "killed", ended)
    rebooted = _spool(tmp_path, "before-a-restart", {**alive, "boot": "another boot"})
    reused = _spool(tmp_path, "pid-reused", {**alive, "started": (alive["started"] or 0) + 1})
    running = _spool(tmp_path, "running", alive)
    elsewhere = _spool(tmp_path, "other-machine", {**ended, "host": "another-host"})
    container = _spool(tmp_path, "other-container", {**ended, "pids": "pid:[1]"})
    unknown = _spool(tmp_path, "no-owner")
    garbled = _spool(tmp_path, "garbled", "{not json")
    not_a_spool = tmp_path / "keep-me"
    not_a_spool.mkdir()
    (not_a_spool / OWNER_FILE).write_text(json.dumps(ended))
    with caplog.at_level(logging.WARNING):
        new = spool_folder(str(tmp_path / "twin.sqlite"))
    assert not gone.exists() and not rebooted.exists() and not reused.exists()
    for kept in (running, elsewhere, container, unknown, garbled):
        assert (kept / "0" / "table.parquet").exists(), kept
    assert (not_a_spool / OWNER_FILE).exists()
    assert new.parent == tmp_path and new.name.startswith(PREFIX)
    assert json.loads((new / OWNER_FILE).read_text()) == alive  # the new spool is this process's
    assert caplog.text.count("the spool of a sample that was killed") == 3
    assert abandoned.remove_abandoned(tmp_path) == []  # what is left is not abandoned
