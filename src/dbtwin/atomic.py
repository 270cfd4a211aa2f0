"""Atomic file output: write next to the target, then rename, so a failure never leaves half a file
and an existing file is never touched unless the caller asked to replace it."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dbtwin.errors import DestinationNotEmptyError


def atomic_write_text(path: Path, text: str, replace: bool = True) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory."""
    with atomic_path(path, replace=replace) as tmp:
        tmp.write_text(text)


@contextmanager
def atomic_path(path: Path, replace: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed onto ``path``.

    Refuses (before any work) when ``path`` exists and ``replace`` is false.
    """
    path = Path(path)
    if path.exists() and not replace:
        raise DestinationNotEmptyError(f"'{path}' already exists; pass --replace (replace=True) to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_directory(path: Path, replace: bool = False) -> Iterator[Path]:
    """Yield a fresh temporary directory beside ``path``; on success it takes ``path``'s place.

    An existing non-empty directory is refused unless ``replace``; when replaced, the old one is moved
    aside first and deleted only after the new one is in place.
    """
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise DestinationNotEmptyError(f"'{path}' exists and is not a directory")
        if any(path.iterdir()) and not replace:
            raise DestinationNotEmptyError(
                f"directory '{path}' already holds files; pass --replace (replace=True) to overwrite it"
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
        os.replace(path, old / "previous")
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
