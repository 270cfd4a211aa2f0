"""TPC-H generated at a chosen scale factor by ``tpchgen-cli`` (8 tables; scale factor 0.01 gives
about 87k rows). No statistical correlation, but exact formulas and a 4-hop chain
lineitem -> orders -> customer -> nation -> region, and the composite key lineitem -> partsupp."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from dbtwin.database import Database
from dbtwin.datasets._keys import database_with_keys

_PRIMARY_KEYS = {
    "region": ("r_regionkey",),
    "nation": ("n_nationkey",),
    "supplier": ("s_suppkey",),
    "customer": ("c_custkey",),
    "part": ("p_partkey",),
    "partsupp": ("ps_partkey", "ps_suppkey"),
    "orders": ("o_orderkey",),
    "lineitem": ("l_orderkey", "l_linenumber"),
}
_FOREIGN_KEYS = [
    ("nation", ("n_regionkey",), "region", ("r_regionkey",)),
    ("supplier", ("s_nationkey",), "nation", ("n_nationkey",)),
    ("customer", ("c_nationkey",), "nation", ("n_nationkey",)),
    ("partsupp", ("ps_partkey",), "part", ("p_partkey",)),
    ("partsupp", ("ps_suppkey",), "supplier", ("s_suppkey",)),
    ("orders", ("o_custkey",), "customer", ("c_custkey",)),
    ("lineitem", ("l_orderkey",), "orders", ("o_orderkey",)),
    ("lineitem", ("l_partkey", "l_suppkey"), "partsupp", ("ps_partkey", "ps_suppkey")),
]


def _generator() -> str:
    local = Path(sys.executable).parent / "tpchgen-cli"
    found = str(local) if local.exists() else shutil.which("tpchgen-cli")
    if not found:
        raise FileNotFoundError("the TPC-H dataset needs `pip install tpchgen-cli==4.0.0` (or dbtwin[datasets])")
    return found


def build_tpch(scale_factor: float = 0.01) -> Database:
    """Generate TPC-H at ``scale_factor`` and read it with its keys (decimals as floats, dates as datetimes)."""
    if scale_factor <= 0:
        raise ValueError("scale_factor must be positive")
    with tempfile.TemporaryDirectory(prefix="dbtwin-tpch-") as tmp:
        subprocess.run(
            [_generator(), "parquet", "-s", str(scale_factor), "--output-dir", tmp],
            check=True,
            capture_output=True,
        )
        frames = {name: pd.read_parquet(Path(tmp) / f"{name}.parquet") for name in _PRIMARY_KEYS}
    for frame in frames.values():
        for col in frame.columns:
            if frame[col].dtype == object and len(frame) and type(frame[col].iloc[0]).__name__ == "Decimal":
                frame[col] = frame[col].astype("float64")
    return database_with_keys(frames, _PRIMARY_KEYS, _FOREIGN_KEYS, {"orders": "o_orderdate", "lineitem": "l_shipdate"})
