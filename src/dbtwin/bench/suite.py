"""The benchmark's datasets: how each is loaded, which entity its hold-out is split by, its ML
efficacy targets, and the exact formulas that a faithful sample should keep."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dbtwin import datasets
from dbtwin.database import Database


@dataclass(frozen=True)
class BenchDataset:
    """One benchmark database."""

    name: str
    load: Callable[[], Database]
    split_table: str
    targets: tuple[str, ...]
    description: str
    checks: dict[str, Callable[[Database], float]] = field(default_factory=dict)


def tpch_price_formula(db: Database) -> float:
    """Share of line items with l_extendedprice = l_quantity x p_retailprice (within 1%)."""
    items = db["lineitem"][["l_partkey", "l_quantity", "l_extendedprice"]]
    joined = items.merge(db["part"][["p_partkey", "p_retailprice"]], left_on="l_partkey", right_on="p_partkey")
    if not len(joined):
        return float("nan")
    expected = joined["l_quantity"].astype(float) * joined["p_retailprice"].astype(float)
    actual = joined["l_extendedprice"].astype(float)
    return float(np.mean(np.abs(actual - expected) <= 0.01 * np.maximum(np.abs(expected), 1.0)))


DATASETS: dict[str, BenchDataset] = {
    d.name: d
    for d in (
        BenchDataset(
            "chinook",
            lambda: datasets.load("chinook"),
            "customer",
            ("invoice.billing_country",),
            "bundled: 11 tables, a self-reference, a link table, depth 3",
        ),
        BenchDataset(
            "nycflights13_jan",
            lambda: datasets.load("nycflights13_jan"),
            "planes",
            ("flights.air_time",),
            "bundled: 5 tables, two keys to airports, a composite key to weather",
        ),
        BenchDataset(
            "bakeoff",
            lambda: datasets.load("bakeoff"),
            "bakers",
            ("challenges.result",),
            "R's bakeoff: 5 tables, composite keys, two 2-hop chains",
        ),
        BenchDataset(
            "lahman",
            lambda: datasets.load("lahman", since=2010),
            "People",
            ("Salaries.salary", "Batting.HR"),
            "Lahman 2010 on: 7 tables, statistics tables with two parents (player, team season)",
        ),
        BenchDataset(
            "tpch",
            lambda: datasets.load("tpch", scale_factor=0.01),
            "customer",
            ("lineitem.l_returnflag",),
            "TPC-H SF 0.01: 8 tables, a 4-hop chain, exact price formula, no correlations",
            {"l_extendedprice = l_quantity x p_retailprice": tpch_price_formula},
        ),
    )
}
