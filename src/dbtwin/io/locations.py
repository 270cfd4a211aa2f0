"""Where a database lives, as shown to people and as compared for safety.

:func:`display` hides the password of a SQLAlchemy URL wherever a location is printed or logged.
:func:`check_destination` refuses a destination that is, or holds, something that must survive the
write: the source being copied, the model being sampled from.
"""

from __future__ import annotations

import os
from pathlib import Path

from dbtwin.errors import DestinationNotEmptyError, UnsupportedSourceError


def display(location: str | os.PathLike) -> str:
    """``location`` fit to print: a URL with its password masked, a path as it is."""
    text = os.fspath(location)
    if "://" not in text:
        return text
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(text).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can parse: hide everything between '://' and '@'
        scheme, _, rest = text.partition("://")
        return f"{scheme}://***@{rest.rpartition('@')[2]}" if "@" in rest else text


def check_url(text: str) -> None:
    """Refuse a SQLAlchemy URL that cannot be parsed, naming what is wrong with it (a port that is
    not a number, say) instead of the parser's own words."""
    import re

    import sqlalchemy as sa

    try:
        sa.engine.make_url(text)
    except (ValueError, sa.exc.ArgumentError) as exc:
        port = re.search(r"@[^/:]*:([^/?]*)", text)
        reason = f"its port '{port.group(1)}' is not a number" if port and not port.group(1).isdigit() else str(exc)
        raise UnsupportedSourceError(f"'{display(text)}' is not a valid database URL: {reason}") from None


def local_path(location: str | os.PathLike) -> Path | None:
    """The file or directory on this machine that ``location`` names (``sqlite:///`` URLs included),
    resolved; ``None`` for a server URL or an in-memory database."""
    text = os.fspath(location)
    if text.startswith("sqlite:///"):
        text = text.removeprefix("sqlite:///").split("?", 1)[0]
        if not text or text == ":memory:":
            return None
    elif "://" in text:
        return None
    return Path(text).expanduser().resolve()


def same_server_database(a: str, b: str) -> bool:
    """Whether two SQLAlchemy URLs name the same database. Decided by the servers' own answers
    (:func:`server_identity`), so ``127.0.0.1`` and ``localhost``, a socket and a port, or two user
    names reach the same database alike; by the URLs' host, port and name where a server does not
    answer."""
    import sqlalchemy as sa

    try:
        ua, ub = sa.engine.make_url(a), sa.engine.make_url(b)
    except Exception:
        return a == b
    family = lambda u: "mysql" if u.get_backend_name() in ("mysql", "mariadb") else u.get_backend_name()  # noqa: E731
    if family(ua) != family(ub):
        return False
    ia, ib = server_identity(a), server_identity(b)
    if ia is not None and ib is not None:
        return ia == ib
    key = lambda u: ((u.host or "localhost").lower(), u.port, u.database)  # noqa: E731
    return key(ua) == key(ub)


def server_identity(url: str) -> tuple | None:
    """What the server says identifies the database ``url`` reaches: PostgreSQL's system identifier
    (one per cluster) and database name; MariaDB/MySQL's host name, port, data directory and
    database name. ``None`` when the server cannot be asked."""
    import sqlalchemy as sa

    queries = {
        "postgresql": "SELECT CAST(system_identifier AS text), current_database() FROM pg_control_system()",
        "mysql": "SELECT @@hostname, @@port, @@datadir, DATABASE(), @@lower_case_table_names",
        "mariadb": "SELECT @@hostname, @@port, @@datadir, DATABASE(), @@lower_case_table_names",
    }
    try:
        engine = sa.create_engine(url)
    except Exception:
        return None
    query = queries.get(engine.dialect.name)
    try:
        if query is None:
            return None
        with engine.connect() as conn:
            row = tuple(conn.execute(sa.text(query)).one())
    except Exception:
        return None
    finally:
        engine.dispose()
    if engine.dialect.name != "postgresql" and row[-1] not in (0, "0", None):  # names compared without case
        row = (*row[:3], str(row[3]).lower())
    return (engine.dialect.name, *row[:4])


def check_destination(destination: str | os.PathLike, protect: list[str | os.PathLike]) -> None:
    """Refuse ``destination`` when it is one of ``protect`` (a source, a model) or a directory that
    holds one: writing there, and above all replacing, could destroy it."""
    dest_text = os.fspath(destination)
    dest = local_path(dest_text)
    for item in protect:
        text = os.fspath(item)
        if dest is None:
            if "://" in text and not text.startswith("sqlite:") and same_server_database(dest_text, text):
                raise DestinationNotEmptyError(f"the destination {display(dest_text)} is the source itself")
            continue
        path = local_path(text)
        if path is None:
            continue
        if dest == path or _same_file(dest, path):
            raise DestinationNotEmptyError(f"the destination '{dest_text}' is '{text}' itself; choose another")
        if path.is_relative_to(dest):
            raise DestinationNotEmptyError(
                f"the destination '{dest_text}' holds '{text}', which this command reads; choose another"
            )


def _same_file(a: Path, b: Path) -> bool:
    """Two names of one file (a hard link): same device and inode."""
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


#: Free space a model directory and its checkpoint need at least (a model of the bundled databases
#: takes 1-5 MB; the checkpoint as much again).
MODEL_SPACE = 32 * 2**20


def check_writable(path: str | os.PathLike, need_bytes: int = 0) -> None:
    """Refuse, before any work, a file or directory ``path`` that cannot be written: a parent that is
    a file, a folder without write permission, a disk with less than ``need_bytes`` free."""
    import shutil

    target = Path(path).expanduser()
    folder = target.parent if not target.is_dir() else target
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise DestinationNotEmptyError(f"cannot write '{target}': '{folder}' is a file, not a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DestinationNotEmptyError(f"cannot write '{target}': '{folder}' is not writable")
    free = shutil.disk_usage(folder).free
    if free < need_bytes:
        raise DestinationNotEmptyError(
            f"cannot write '{target}': only {free / 2**20:.1f} MiB free on the disk of '{folder}' "
            f"(at least {need_bytes / 2**20:.0f} MiB needed)"
        )


def source_files(source: str | os.PathLike) -> list[Path]:
    """The paths on this machine that reading ``source`` touches (resolved): a SQLite file; a
    directory and every file in it. Empty for servers and bundled datasets."""
    path = local_path(source)
    if path is None or not path.exists():
        return []
    if path.is_dir():
        return [path, *(p.resolve() for p in path.iterdir())]
    return [path]


__all__ = [
    "MODEL_SPACE",
    "check_destination",
    "check_url",
    "check_writable",
    "display",
    "local_path",
    "same_server_database",
    "server_identity",
    "source_files",
]
