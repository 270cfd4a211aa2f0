"""Pair trends, as the papers compute them (SDMetrics' definitions, every pair scored):

* two continuous columns (integer, float, datetime): correlation similarity ``1 - |rho_S - rho_R| / 2``
  (Pearson, over rows where both values are present);
* otherwise: contingency similarity ``1 - 1/2 * sum |S_ab - R_ab|`` over the joint distribution, with
  continuous columns binned into 10 equal-width bins fitted on the real values, and missing values
  of categoricals as a category of their own.

``intra_table_trends`` scores the column pairs of each table; ``inter_table_trends`` scores, for every
downward foreign-key path of ``k`` hops (all keys, composite and self-referencing ones included), the
pairs (column of the top table, column of the bottom table) on the rows joined along the path.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from dbtwin.database import Database
from dbtwin.schema.model import ColumnKind, ForeignKey, Schema

CONTINUOUS = {ColumnKind.INTEGER, ColumnKind.FLOAT, ColumnKind.DATETIME}
SCORED = CONTINUOUS | {ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN}
BINS = 10


def scored_columns(schema: Schema, table: str) -> list[str]:
    """Columns that carry statistics: not keys, not ids, not free text."""
    keys = schema.key_columns(table)
    return [c.name for c in schema.table(table).columns if c.name not in keys and c.kind in SCORED]


def pair_similarity(
    real_a: pd.Series, real_b: pd.Series, syn_a: pd.Series, syn_b: pd.Series, a_cont: bool, b_cont: bool
) -> float:
    """Correlation or contingency similarity of one column pair."""
    if a_cont and b_cont:
        r, s = _pearson(real_a, real_b), _pearson(syn_a, syn_b)
        if np.isnan(r) or np.isnan(s):  # a constant column has no correlation: the pair is not scored
            return float("nan")
        return 1.0 - abs(s - r) / 2.0
    ra, sa = _discrete(real_a, syn_a, a_cont)
    rb, sb = _discrete(real_b, syn_b, b_cont)
    codes_a, _ = pd.factorize(pd.concat([ra, sa], ignore_index=True))
    codes_b, _ = pd.factorize(pd.concat([rb, sb], ignore_index=True))
    width = int(codes_b.max()) + 1
    joint = codes_a.astype(np.int64) * width + codes_b
    size = (int(codes_a.max()) + 1) * width
    n = len(ra)
    real = np.bincount(joint[:n], minlength=size) / max(n, 1)
    syn = np.bincount(joint[n:], minlength=size) / max(len(joint) - n, 1)
    return 1.0 - 0.5 * float(np.abs(real - syn).sum())


def intra_table_trends(real: Database, synthetic: Database) -> dict[str, float]:
    """Score per ``table.a|b`` for every pair of scored columns of a table."""
    scores = {}
    for name in real.schema.table_names:
        cols = scored_columns(real.schema, name)
        kinds = {c.name: c.kind for c in real.schema.table(name).columns}
        for a, b in combinations(cols, 2):
            score = pair_similarity(
                real[name][a],
                real[name][b],
                synthetic[name][a],
                synthetic[name][b],
                kinds[a] in CONTINUOUS,
                kinds[b] in CONTINUOUS,
            )
            if np.isfinite(score):
                scores[f"{name}.{a}|{b}"] = score
    return scores


def foreign_key_paths(schema: Schema, hops: int) -> list[list[ForeignKey]]:
    """Every downward chain of ``hops`` foreign keys: ``path[0]`` points at the top table and each
    next key points at the previous key's child."""
    paths: list[list[ForeignKey]] = [[fk] for fk in schema.foreign_keys]
    for _ in range(hops - 1):
        paths = [[*p, fk] for p in paths for fk in schema.foreign_keys_to(p[-1].child)]
    return paths


def path_name(path: list[ForeignKey]) -> str:
    return " <- ".join([path[0].parent] + [f"{fk.child}({', '.join(fk.columns)})" for fk in path])


def join_path(db: Database, path: list[ForeignKey], max_rows: int | None, rng: np.random.Generator) -> tuple:
    """Rows of the bottom table with the top-table row each reaches along ``path`` (unreachable rows
    are left out); at most ``max_rows`` rows, drawn at random."""
    top = np.arange(db.num_rows(path[-1].child))
    for fk in reversed(path):
        parent = db.parent_positions(fk)
        ok = top >= 0
        top = np.where(ok, parent[np.where(ok, top, 0)], -1)
    bottom = np.flatnonzero(top >= 0)
    top = top[bottom]
    if max_rows is not None and len(bottom) > max_rows:
        pick = np.sort(rng.choice(len(bottom), size=max_rows, replace=False))
        bottom, top = bottom[pick], top[pick]
    return top, bottom


def inter_table_trends(
    real: Database, synthetic: Database, hops: int, max_rows: int | None = 50_000, random_state: int = 0
) -> dict[str, float]:
    """Score per ``path: top.a|bottom.b`` for every downward path of ``hops`` keys."""
    rng = np.random.default_rng(random_state)
    scores = {}
    for path in foreign_key_paths(real.schema, hops):
        top_table, bottom_table = path[0].parent, path[-1].child
        top_cols = scored_columns(real.schema, top_table)
        bottom_cols = scored_columns(real.schema, bottom_table)
        if not top_cols or not bottom_cols:
            continue
        r_top, r_bottom = join_path(real, path, max_rows, rng)
        s_top, s_bottom = join_path(synthetic, path, max_rows, rng)
        if not len(r_top) or not len(s_top):
            continue
        tk = {c.name: c.kind for c in real.schema.table(top_table).columns}
        bk = {c.name: c.kind for c in real.schema.table(bottom_table).columns}
        name = path_name(path)
        for a in top_cols:
            ra = real[top_table][a].iloc[r_top].reset_index(drop=True)
            sa = synthetic[top_table][a].iloc[s_top].reset_index(drop=True)
            for b in bottom_cols:
                rb = real[bottom_table][b].iloc[r_bottom].reset_index(drop=True)
                sb = synthetic[bottom_table][b].iloc[s_bottom].reset_index(drop=True)
                score = pair_similarity(ra, rb, sa, sb, tk[a] in CONTINUOUS, bk[b] in CONTINUOUS)
                if np.isfinite(score):
                    scores[f"{name}: {top_table}.{a}|{bottom_table}.{b}"] = score
    return scores


def _numbers(series: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        out = series.astype("int64").astype(float)
        return out.where(series.notna())
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype(float)
    return pd.to_numeric(series, errors="coerce").astype(float)


def _pearson(a: pd.Series, b: pd.Series) -> float:
    x, y = _numbers(a), _numbers(b)
    ok = x.notna().to_numpy() & y.notna().to_numpy()
    x, y = x.to_numpy()[ok], y.to_numpy()[ok]
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def _discrete(real: pd.Series, syn: pd.Series, continuous: bool) -> tuple[pd.Series, pd.Series]:
    if not continuous:
        fill = lambda s: s.astype(object).where(s.notna(), "<NULL>").astype(str)  # noqa: E731
        return fill(real), fill(syn)
    r, s = _numbers(real), _numbers(syn)
    present = r.dropna()
    if present.empty:
        return r.isna().astype(str), s.isna().astype(str)
    origin = float(present.min())  # shifted, so large values (datetimes in ns) keep their precision
    r, s, present = r - origin, s - origin, present - origin
    edges = np.histogram_bin_edges(present.to_numpy(), bins=BINS)

    def binned(v: pd.Series) -> pd.Series:
        codes = np.clip(np.searchsorted(edges, v.to_numpy(), side="right") - 1, 0, BINS - 1).astype(object)
        codes[v.isna().to_numpy()] = "<NULL>"
        return pd.Series(codes, index=v.index).astype(str)

    return binned(r), binned(s)
