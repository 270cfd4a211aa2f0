"""What the search for exact relations costs: seconds per kind, candidates checked, rules found, peak
RSS, on every benchmark database and on a table of a million rows, against the fit budget the
benchmark gives each database (discovery is to stay within 15% of it).

    python benchmarks/bench_discovery.py [--datasets chinook,f1,...] [--rows 1000000]

Writes ``benchmarks/results/discovery.json``. The million-row database is drawn here: 10,000 accounts
and 1,000,000 transactions with planted rules (a formula with constants, a dependency on a code, a
datetime on a 6-hourly grid, a running balance, a count); the run checks they are found.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from dbtwin.bench.suite import DATASETS
from dbtwin.database import Database
from dbtwin.relations import discover
from dbtwin.schema.model import Column, ColumnKind, ForeignKey, Schema, StorageType, Table

RESULTS = Path(__file__).parent / "results" / "discovery.json"
#: The fit budget of each database in `dbtwin bench` (seconds; docs/benchmarks.md), F1 longer.
FIT_BUDGET = {"f1": 13 * 60}
DEFAULT_BUDGET = 2 * 60
SHARE = 0.15


def million_rows(rows: int, seed: int = 0) -> tuple[Database, list[str]]:
    """Accounts and their transactions, with rules planted; returns the database and the rules'
    targets (table.column)."""
    rng = np.random.default_rng(seed)
    accounts = max(rows // 100, 10)
    account = pd.DataFrame(
        {
            "account_id": pd.array(np.arange(1, accounts + 1), dtype="Int64"),
            "branch": pd.array(rng.integers(1, 300, size=accounts), dtype="Int64"),
            "opened": pd.Timestamp("2015-01-01") + pd.to_timedelta(rng.integers(0, 2000, size=accounts), unit="D"),
        }
    )
    account["region"] = pd.Series([f"region {b % 17}" for b in account["branch"]], dtype=object)
    owner = rng.integers(1, accounts + 1, size=rows)
    at = pd.Timestamp("2000-01-01") + pd.to_timedelta(rng.integers(0, 40_000, size=rows) * 6, unit="h")
    amount = np.round(rng.uniform(-500, 900, size=rows), 2)
    amount[rng.random(rows) < 0.02] = np.nan
    trans = pd.DataFrame(
        {
            "trans_id": pd.array(np.arange(1, rows + 1), dtype="Int64"),
            "account_id": pd.array(owner, dtype="Int64"),
            "at": at,
            "amount": amount,
            "channel": pd.array(rng.integers(1, 9, size=rows), dtype="Int64"),
            "fee_rate": np.round(rng.choice([0.0, 0.5, 1.5, 2.0], size=rows), 1),
        }
    )
    trans["amount_cents"] = np.round(trans["amount"] * 100 + 0, 0)
    trans["channel_name"] = pd.Series([f"channel {c}" for c in trans["channel"]], dtype=object)
    order = trans.sort_values("at", kind="stable").index  # ties in row order, as dbtwin breaks them
    running = trans.loc[order].groupby("account_id")["amount"].apply(lambda s: s.fillna(0).cumsum())
    trans["balance"] = running.reset_index(level=0, drop=True).reindex(trans.index).round(2)
    account["transactions"] = pd.array(
        trans.groupby("account_id").size().reindex(account["account_id"].astype("int64")).fillna(0).to_numpy(),
        dtype="Int64",
    )
    i, f, s, d = StorageType.INT64, StorageType.FLOAT64, StorageType.STRING, StorageType.DATETIME
    k = ColumnKind
    schema = Schema(
        {
            "account": Table(
                "account",
                [
                    Column("account_id", i, k.ID, False),
                    Column("branch", i, k.INTEGER),
                    Column("opened", d, k.DATETIME),
                    Column("region", s, k.CATEGORICAL),
                    Column("transactions", i, k.INTEGER),
                ],
                ("account_id",),
            ),
            "trans": Table(
                "trans",
                [
                    Column("trans_id", i, k.ID, False),
                    Column("account_id", i, k.ID),
                    Column("at", d, k.DATETIME),
                    Column("amount", f, k.FLOAT),
                    Column("channel", i, k.INTEGER),
                    Column("fee_rate", f, k.FLOAT),
                    Column("amount_cents", f, k.FLOAT),
                    Column("channel_name", s, k.CATEGORICAL),
                    Column("balance", f, k.FLOAT),
                ],
                ("trans_id",),
            ),
        },
        [ForeignKey("trans", ("account_id",), "account", ("account_id",))],
    )
    db = Database.from_frames({"account": account, "trans": trans}, schema)
    planted = [
        "account.region",
        "account.transactions",
        "trans.amount_cents",
        "trans.channel_name|trans.channel",  # one determines the other: either way round
        "trans.at",
        "trans.balance",
    ]
    return db, planted


def measure(name: str, db: Database, planted: list[str] | None = None) -> dict:
    started = time.monotonic()
    found = discover(db)
    seconds = time.monotonic() - started
    budget = FIT_BUDGET.get(name, DEFAULT_BUDGET)
    kinds: dict[str, int] = {}
    for rule in found.rules:
        kinds[rule.kind] = kinds.get(rule.kind, 0) + 1
    out = {
        "rows": int(sum(db.num_rows(t) for t in db.schema.tables)),
        "tables": len(db.schema.tables),
        "seconds": round(seconds, 2),
        "seconds_per_kind": {k: round(v, 2) for k, v in found.seconds.items()},
        "candidates": found.candidates,
        "rules": kinds,
        "near_misses": len(found.near_misses),
        "fit_budget_seconds": budget,
        "share_of_fit": round(seconds / budget, 4),
        "within_15_percent": seconds <= SHARE * budget,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "found": [r.describe(db.schema) for r in found.rules],
    }
    if planted is not None:
        targets = {f"{r.table}.{r.column}" for r in found.rules}
        out["planted_found"] = {p: any(t in targets for t in p.split("|")) for p in planted}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the drawn transactions table")
    args = parser.parse_args()
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in [n for n in args.datasets.split(",") if n]:
        dataset = DATASETS[name]
        try:
            db = dataset.load()
        except Exception as exc:  # a benchmark database that is not here (shared data, an extra)
            print(f"{name}: skipped ({type(exc).__name__}: {exc})")
            continue
        results[name] = measure(name, db)
        print(name, json.dumps({k: v for k, v in results[name].items() if k != "found"}))
    if args.rows:
        db, planted = million_rows(args.rows)
        key = f"transactions_{args.rows}"
        results[key] = measure(key, db, planted)
        print(key, json.dumps({k: v for k, v in results[key].items() if k != "found"}))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
