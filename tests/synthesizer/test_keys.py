"""Keys of synthetic rows: lookup tables, key formats, unique composite keys."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dbtwin.schema import StorageType
from dbtwin.synthesizer.kept import lookup_tables
from dbtwin.synthesizer.keys import (
    fresh_keys,
    key_formats,
    key_steps,
    make_unique,
    structural_columns,
)


def test_lookup_tables_and_structural_columns(chinook, flights_jan):
    assert list(lookup_tables(chinook)) == ["genre", "media_type", "playlist"]
    assert lookup_tables(chinook)["playlist"] == "a lookup table: 18 rows, referenced by 8,715 rows of 'playlist_track'"
    assert list(lookup_tables(flights_jan)) == ["airlines"]
    assert structural_columns(flights_jan.schema, "weather") == {"origin"}  # time_hour is data
    assert structural_columns(chinook.schema, "track") == {"track_id", "album_id", "media_type_id", "genre_id"}


def test_fresh_string_keys_take_the_real_shape(flights_jan):
    fmt = key_formats(flights_jan)["airports"]
    keys = fresh_keys(StorageType.STRING, 500, fmt, np.random.default_rng(0))
    assert len(set(keys)) == 500
    assert all(len(k) == 3 and k.isalnum() and k.upper() == k for k in keys)
    assert fresh_keys(StorageType.INT64, 3, None, np.random.default_rng(0)).tolist() == [1, 2, 3]


def test_the_string_keys_of_shards_never_meet(flights_jan):
    """Each shard draws its string keys from its own part of them (a stable hash), so shards drawn by
    different processes, unaware of each other, never repeat a key; integers count on from ``after``."""
    import zlib

    fmt = key_formats(flights_jan)["airports"]
    parts = [fresh_keys(StorageType.STRING, 300, fmt, np.random.default_rng(0), 300 * i, (i, 3)) for i in range(3)]
    union = np.concatenate(parts)
    assert len(set(union)) == 900  # three alike generators: without the parts, they would draw the same keys
    for i, keys in enumerate(parts):
        assert all(zlib.crc32(k.encode()) % 3 == i for k in keys)
        assert all(len(k) == 3 and k.isalnum() for k in keys)
    alike = [fresh_keys(StorageType.STRING, 300, fmt, np.random.default_rng(0)) for _ in range(2)]
    assert list(alike[0]) == list(alike[1])
    assert fresh_keys(StorageType.INT64, 3, None, np.random.default_rng(0), after=7, part=(1, 3)).tolist() == [8, 9, 10]
    # a shape with too few values to fill a part: the rest end in their own numbers, still unique
    tiny = {"column": "k", "shapes": ["9"], "weights": [1]}
    both = [fresh_keys(StorageType.STRING, 20, tiny, np.random.default_rng(0), 20 * i, (i, 2)) for i in range(2)]
    assert len(set(np.concatenate(both))) == 40


def test_make_unique_moves_repeats_to_the_next_free_slot(flights_jan):
    steps = key_steps(flights_jan)["weather"]
    assert steps == {"time_hour": 3600 * 10**9}
    hour = pd.Timestamp("2013-01-01 05:00")
    frame = pd.DataFrame(
        {"origin": ["EWR", "EWR", "EWR", "JFK"], "time_hour": [hour, hour, hour + pd.Timedelta("1h"), hour]}
    )
    out = make_unique(
        frame, ("origin", "time_hour"), steps, {"origin": StorageType.STRING, "time_hour": StorageType.DATETIME}
    )
    assert not out.duplicated(["origin", "time_hour"]).any()
    assert sorted(out.loc[out.origin == "EWR", "time_hour"]) == [
        hour,
        hour + pd.Timedelta("1h"),
        hour + pd.Timedelta("2h"),
    ]
    assert out.loc[3, "time_hour"] == hour
    names = pd.DataFrame({"g": [1, 1, 2], "name": ["a", "a", "a"]})
    fixed = make_unique(names, ("g", "name"), {"name": 0.0}, {"g": StorageType.INT64, "name": StorageType.STRING})
    assert fixed["name"].tolist() == ["a", "a-2", "a"]


def test_make_unique_keeps_extreme_and_string_keys_distinct():
    import pandas as pd

    from dbtwin.schema.model import StorageType
    from dbtwin.synthesizer.keys import make_unique

    big = 2**63 - 1025  # float64 cannot step integers this large
    frame = pd.DataFrame(
        {
            "g": ["", "", "", "a", "a"],
            "n": pd.array([big, big, big, 1, 1], dtype="Int64"),
            "s": ["x", "x", "x-1", "y", "y"],
        }
    )
    out = make_unique(frame, ("g", "n"), {"n": 1.0}, {"g": StorageType.STRING, "n": StorageType.INT64})
    assert not out.duplicated(["g", "n"]).any() and out["n"].max() <= 2**63 - 1
    assert out.loc[3:, "n"].tolist() in ([1, 2], [1, 0])
    strings = make_unique(frame, ("s",), {"s": 0.0}, {"s": StorageType.STRING})
    assert strings["s"].is_unique  # 'x-1' existed already: the second repeat of 'x' gets another name
    times = pd.DataFrame({"t": pd.to_datetime(["2262-04-11 23:47:16.854775"] * 3)})
    stamped = make_unique(times, ("t",), {"t": 1.0}, {"t": StorageType.DATETIME})
    assert stamped["t"].is_unique
