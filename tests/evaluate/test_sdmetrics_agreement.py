"""Where the definitions agree, dbtwin's scores equal SDMetrics' (test-only dependency) to 1e-6."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dbtwin import Database
from dbtwin.evaluate import cardinality, column_shapes, inter_table_trends, intra_table_trends
from dbtwin.schema import Column, ColumnKind, ForeignKey, Schema, StorageType, Table

sdm = pytest.importorskip("sdmetrics")
from sdmetrics.column_pairs import ContingencySimilarity, CorrelationSimilarity  # noqa: E402
from sdmetrics.single_column import KSComplement, TVComplement  # noqa: E402

I, F, S = StorageType.INT64, StorageType.FLOAT64, StorageType.STRING  # noqa: E741
SCHEMA = Schema(
    {
        "shop": Table(
            "shop",
            [
                Column("id", I, ColumnKind.ID, False),
                Column("size", F, ColumnKind.FLOAT),
                Column("region", S, ColumnKind.CATEGORICAL),
            ],
            ("id",),
        ),
        "sale": Table(
            "sale",
            [
                Column("id", I, ColumnKind.ID, False),
                Column("shop_id", I, ColumnKind.ID, False),
                Column("amount", F, ColumnKind.FLOAT),
                Column("units", I, ColumnKind.INTEGER),
                Column("channel", S, ColumnKind.CATEGORICAL),
            ],
            ("id",),
        ),
    },
    [ForeignKey("sale", ("shop_id",), "shop", ("id",))],
)


def _db(seed: int, n_shops: int = 40, n_sales: int = 300) -> Database:
    rng = np.random.default_rng(seed)
    shops = pd.DataFrame(
        {
            "id": np.arange(n_shops),
            "size": rng.gamma(2, 50, n_shops),
            "region": rng.choice(["n", "s", "e", "w"], n_shops),
        }
    )
    shop_id = rng.integers(0, n_shops, n_sales)
    amount = shops["size"].to_numpy()[shop_id] * rng.uniform(0.5, 1.5, n_sales)
    sales = pd.DataFrame(
        {
            "id": np.arange(n_sales),
            "shop_id": shop_id,
            "amount": amount,
            "units": rng.integers(1, 9, n_sales),
            "channel": rng.choice(["web", "store", "phone"], n_sales, p=[0.5, 0.3, 0.2]),
        }
    )
    return Database.from_frames({"shop": shops, "sale": sales}, SCHEMA)


@pytest.fixture(scope="module")
def pair():
    return _db(0), _db(1, n_shops=35, n_sales=280)


def test_column_shapes_equal_sdmetrics(pair):
    real, syn = pair
    ours = column_shapes(real, syn)
    for key, metric in (
        ("sale.amount", KSComplement),
        ("sale.units", KSComplement),
        ("shop.size", KSComplement),
        ("sale.channel", TVComplement),
        ("shop.region", TVComplement),
    ):
        table, col = key.split(".")
        expected = metric.compute(
            real_data=real[table][col].astype(object if metric is TVComplement else float),
            synthetic_data=syn[table][col].astype(object if metric is TVComplement else float),
        )
        assert ours[key] == pytest.approx(expected, abs=1e-6), key


def test_pair_trends_equal_sdmetrics(pair):
    real, syn = pair
    ours = intra_table_trends(real, syn)
    cols = ["amount", "units"]
    expected = CorrelationSimilarity.compute(
        real_data=real["sale"][cols].astype(float),
        synthetic_data=syn["sale"][cols].astype(float),
        coefficient="Pearson",
    )
    assert ours["sale.amount|units"] == pytest.approx(expected, abs=1e-6)
    # one hop: the shop's size against the sale's amount, on the joined rows
    hop = inter_table_trends(real, syn, 1, max_rows=None)
    joined = [db["sale"].merge(db["shop"], left_on="shop_id", right_on="id", suffixes=("", "_shop")) for db in pair]
    expected = CorrelationSimilarity.compute(
        real_data=joined[0][["size", "amount"]].astype(float),
        synthetic_data=joined[1][["size", "amount"]].astype(float),
        coefficient="Pearson",
    )
    assert hop["shop <- sale(shop_id): shop.size|sale.amount"] == pytest.approx(expected, abs=1e-6)
    expected = ContingencySimilarity.compute(
        real_data=joined[0][["region", "channel"]].astype(str),
        synthetic_data=joined[1][["region", "channel"]].astype(str),
    )
    assert hop["shop <- sale(shop_id): shop.region|sale.channel"] == pytest.approx(expected, abs=1e-6)


def test_cardinality_equals_sdmetrics(pair):
    from sdmetrics.multi_table import CardinalityShapeSimilarity

    real, syn = pair
    metadata = {
        "tables": {
            "shop": {
                "primary_key": "id",
                "columns": {
                    "id": {"sdtype": "id"},
                    "size": {"sdtype": "numerical"},
                    "region": {"sdtype": "categorical"},
                },
            },
            "sale": {
                "primary_key": "id",
                "columns": {
                    "id": {"sdtype": "id"},
                    "shop_id": {"sdtype": "id"},
                    "amount": {"sdtype": "numerical"},
                    "units": {"sdtype": "numerical"},
                    "channel": {"sdtype": "categorical"},
                },
            },
        },
        "relationships": [
            {
                "parent_table_name": "shop",
                "parent_primary_key": "id",
                "child_table_name": "sale",
                "child_foreign_key": "shop_id",
            }
        ],
    }
    to_plain = lambda db: {t: db[t].astype({c: "int64" for c in ("id", "shop_id") if c in db[t]}) for t in db.tables}  # noqa: E731
    expected = CardinalityShapeSimilarity.compute(to_plain(real), to_plain(syn), metadata)
    assert cardinality(real, syn)["sale.shop_id->shop"] == pytest.approx(expected, abs=1e-6)
