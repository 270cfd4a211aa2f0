"""Fit and sample keep a column's exact type: decimals at their scale and beyond int64, NaN apart from NULL."""

from __future__ import annotations

import warnings
from decimal import Decimal

import numpy as np
import pandas as pd

from dbtwin import Database
from dbtwin.schema import Column, ColumnKind, Schema, StorageType, Table
from dbtwin.synthesizer import Synthesizer


def _typed_db(n: int = 200) -> Database:
    rng = np.random.default_rng(0)
    dec = StorageType.DECIMAL
    schema = Schema(
        {
            "t": Table(
                "t",
                [
                    Column("id", StorageType.INT64, ColumnKind.ID, False),
                    Column("price", dec, ColumnKind.FLOAT, precision=38, scale=4),
                    Column("qty", dec, ColumnKind.INTEGER, precision=30, scale=0),
                    Column("band", dec, ColumnKind.CATEGORICAL, precision=5, scale=2),
                    Column("x", StorageType.FLOAT64, ColumnKind.FLOAT),
                ],
                ("id",),
            )
        }
    )
    values, null = rng.normal(size=n), rng.random(n) < 0.25
    values[rng.random(n) < 0.25] = np.nan
    frame = pd.DataFrame(
        {
            "id": range(n),
            "price": [Decimal(f"{v:.4f}") for v in rng.gamma(2, 1000, n)],
            "qty": [Decimal(int(v)) * 10**15 for v in rng.integers(1, 100_000, n)],  # up to 1e20
            "band": [Decimal(["1.50", "2.25", "9.99"][i]) for i in rng.integers(0, 3, n)],
            "x": pd.arrays.FloatingArray(np.where(null, np.nan, values), null),
        }
    )
    return Database.from_frames({"t": frame}, schema)


def test_decimals_and_nan_survive_fit_save_load_and_sample(tmp_path):
    db = _typed_db()
    synth = Synthesizer(train_steps=10, sample_steps=3, hidden=16, progress=False, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        synth.fit(db)
        synth.save(tmp_path / "model")
        fake = Synthesizer.load(tmp_path / "model").sample(random_state=1)["t"]
    assert all(isinstance(v, Decimal) and v.as_tuple().exponent == -4 for v in fake["price"])
    assert all(isinstance(v, Decimal) and v.as_tuple().exponent == 0 for v in fake["qty"])
    assert max(fake["qty"]) > 2**63  # not clipped to int64
    assert set(fake["band"]) <= {Decimal("1.50"), Decimal("2.25"), Decimal("9.99")}
    x = fake["x"]
    nans = np.isnan(x.to_numpy(dtype=np.float64, na_value=0.0)).sum()
    assert isinstance(x.dtype, pd.Float64Dtype) and nans > 0 and x.isna().sum() > 0
