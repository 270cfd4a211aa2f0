"""Spool folders of samples that were killed outright (SIGKILL, the out-of-memory killer, a power cut)
and so could not remove them. The process that makes a spool folder writes who it is into it
(:func:`claim`); a later sample bound for the same folder removes each spool whose process has
ended (:func:`remove_abandoned`), so that no shard outlives its sample for long: a spool holds
synthetic rows and the kept tables' real ones.

A spool is judged only where that is certain: made on this machine (its host name) in this process
namespace (not in another container sharing the folder), by a process that no longer runs (its pid
gone, or reused by a process started at another time) or before the machine last started. A spool
without a readable owner (made by an older dbtwin, or being made) or made on another machine
sharing the file system is left alone.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path

#: How every spool folder's name begins.
PREFIX = ".dbtwin-shards-"
#: The file in a spool folder naming the process that made it.
OWNER_FILE = "owner.json"


def claim(folder: Path) -> None:
    """Write into ``folder`` that this process, on this machine, made it."""
    owner = {**_here(), "boot": _boot_id(), "pid": os.getpid(), "started": _started(os.getpid())}
    (folder / OWNER_FILE).write_text(json.dumps(owner))


def remove_abandoned(parent: Path) -> list[Path]:
    """Remove the spool folders in ``parent`` whose process has ended; those removed."""
    removed = []
    for folder in sorted(parent.glob(PREFIX + "*")):
        if folder.is_dir() and not folder.is_symlink() and _abandoned(folder):
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                removed.append(folder)
    return removed


def _abandoned(folder: Path) -> bool:
    try:
        owner = json.loads((folder / OWNER_FILE).read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(owner, dict) or any(owner.get(key) != value for key, value in _here().items()):
        return False
    if owner.get("boot") != _boot_id():
        return True  # made before this machine last started
    pid = owner.get("pid")
    return not isinstance(pid, int) or _started(pid) != owner.get("started")


def _here() -> dict[str, str | None]:
    """This machine's name and this process's pid namespace (Linux; None elsewhere): where a pid
    means the same process."""
    try:
        namespace: str | None = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = None
    return {"host": socket.gethostname(), "pids": namespace}


def _boot_id() -> str | None:
    """This boot of the machine (Linux); None elsewhere."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def _started(pid: int) -> int | None:
    """When process ``pid`` started, in clock ticks since boot (Linux); None where it does not run
    or this cannot be known (then no spool is judged abandoned by its process)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # the command's name, in parentheses, may hold spaces
    return int(fields[19]) if len(fields) > 19 else None


__all__ = ["OWNER_FILE", "PREFIX", "claim", "remove_abandoned"]
