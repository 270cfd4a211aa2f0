"""Privacy against a hold-out set of real rows never shown to the generator.

Per table: the distance from each synthetic row to its closest record (DCR) among the training rows
and among the hold-out rows (a Gower-style distance: range-scaled absolute differences of continuous
columns plus mismatches of categorical ones, averaged over columns), the share of synthetic rows
closer to the training rows than to the hold-out rows (0.5 is ideal; towards 1 means memorisation;
training and hold-out rows are sub-sampled to the same number so the comparison is fair), and the
share of synthetic rows that are exact copies of a training row (checked against every row).

Two baselines say whether a number means a leak:

* the hold-out's own exact-copy rate: the share of real hold-out rows equal to some training row. A
  table whose few low-cardinality columns make any row equal to some real row has a high rate for
  the real data too; a twin leaks only above it. Both rates are also given weighted by rows.
* a membership-inference attack: an attacker who holds the twin and a real row guesses the row was
  in the training data when it lies close to some synthetic row. Its AUC over training rows against
  hold-out rows (the chance that a training row lies closer to the twin than a hold-out row, ties
  half) is 0.5 when the twin tells nothing about who was in the training data.

A table the twin holds whole, every training row and no other (a dimension table copied by design),
is listed in ``copied_tables`` and left out of the weighted rates: a copy of a list of genres is what
was asked for, not a leak. ``over_holdout`` lists the other tables whose copy rate exceeds the
hold-out's own by more than 0.01.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dbtwin.database import Database
from dbtwin.evaluate.features import numeric_column
from dbtwin.evaluate.trends import CONTINUOUS, scored_columns


def _encode(
    db: Database, table: str, cols: list[str], ranges: dict[str, tuple[float, float]], vocab: dict[str, dict[str, int]]
) -> tuple[np.ndarray, np.ndarray]:
    kinds = {c.name: c.kind for c in db.schema.table(table).columns}
    num, cat = [], []
    for col in cols:
        series = db[table][col]
        if kinds[col] in CONTINUOUS:
            lo, hi = ranges[col]
            values = (numeric_column(series) - lo) / (hi - lo if hi > lo else 1.0)
            num.append(values)
        else:
            cat.append(_strings(series).map(vocab[col]).fillna(-1).to_numpy(dtype=np.int64))
    n = len(db[table])
    return (np.stack(num, 1) if num else np.zeros((n, 0))), (np.stack(cat, 1) if cat else np.zeros((n, 0), np.int64))


def closest_distances(
    query: tuple[np.ndarray, np.ndarray], ref: tuple[np.ndarray, np.ndarray], chunk: int = 256
) -> np.ndarray:
    """Gower-style distance from each query row to its nearest reference row."""
    qn, qc = query
    rn, rc = ref
    width = qn.shape[1] + qc.shape[1]
    out = np.empty(len(qn) if len(qn) else len(qc))
    for start in range(0, len(out), chunk):
        stop = min(start + chunk, len(out))
        d = np.zeros((stop - start, len(rn) if len(rn) else len(rc)))
        if qn.shape[1]:
            a, b = qn[start:stop, None, :], rn[None, :, :]
            diff = np.minimum(np.abs(a - b), 1.0)
            both_missing = np.isnan(a) & np.isnan(b)
            d += np.where(both_missing, 0.0, np.where(np.isnan(diff), 1.0, diff)).sum(axis=2)
        if qc.shape[1]:
            d += (qc[start:stop, None, :] != rc[None, :, :]).sum(axis=2)
        out[start:stop] = d.min(axis=1) / max(width, 1)
    return out


def _strings(series: pd.Series) -> pd.Series:
    return series.astype(object).where(series.notna(), "<NULL>").astype(str)


def _row_keys(frame: pd.DataFrame) -> pd.Series:
    """Each row as one string (NULLs marked), for comparing rows across tables."""
    return frame.astype(object).where(frame.notna(), "<NULL>").astype(str).agg("\x1f".join, axis=1)


def _copy_rate(train: pd.DataFrame, synthetic: pd.DataFrame) -> float:
    """Share of synthetic rows equal, in every scored column, to some training row (all rows checked)."""
    return float(_row_keys(synthetic).isin(set(_row_keys(train))).mean()) if len(synthetic) else 0.0


def _same_rows(train: pd.DataFrame, synthetic: pd.DataFrame) -> bool:
    """Whether two tables hold the same rows, as many times each."""
    if len(train) != len(synthetic):
        return False
    return _row_keys(train).value_counts().to_dict() == _row_keys(synthetic).value_counts().to_dict()


def rare_values_shown(
    train: Database, synthetic: Database, min_count: int = 3, exempt: list[str] = ()
) -> dict[str, int]:
    """Per text, string-id or categorical column outside the keys and the ``exempt`` tables: how many
    synthetic rows show a value the training data holds fewer than ``min_count`` times."""
    from dbtwin.encode.rare import Protection, value_key

    protection = Protection(min_count, True, tuple(exempt))
    out = {}
    for table in train.schema.table_names:
        if table not in synthetic.tables:
            continue
        for col in train.schema.table(table).columns:
            if not protection.covers(train.schema, table, col.name):
                continue
            counts = train[table][col.name].dropna().map(value_key).value_counts()
            rare = set(counts.index[counts < min_count])
            if rare:
                hits = int(synthetic[table][col.name].dropna().map(value_key).isin(rare).sum())
                if hits:
                    out[f"{table}.{col.name}"] = hits
    return out


def _copied_whole(train: Database, synthetic: Database, table: str) -> bool:
    """Whether the twin holds ``table`` as the training data does, row for row (keys aside)."""
    keys = train.schema.key_columns(table)
    cols = [c for c in train.schema.table(table).column_names if c not in keys]
    return bool(cols) and _same_rows(train[table][cols], synthetic[table][cols])


def _closer_share(members: np.ndarray, outsiders: np.ndarray) -> float:
    """The chance that a member lies strictly closer than an outsider (ties count half): the AUC of
    guessing membership from closeness."""
    if not len(members) or not len(outsiders):
        return float("nan")
    ranks = pd.Series(np.r_[-members, -outsiders]).rank().to_numpy()
    n1, n0 = len(members), len(outsiders)
    return float((ranks[:n1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _weighted(details: dict[str, dict[str, Any]], key: str) -> float | None:
    """``key`` averaged over the tables not copied whole, weighted by each table's synthetic rows."""
    kept = [d for d in details.values() if not d["copied_whole"]]
    rows = sum(d["rows"] for d in kept)
    if not rows:
        return None
    return round(sum(d[key] * d["rows"] for d in kept) / rows, 6)


def _scales(dbs: tuple[Database, Database, Database], table: str, cols: list[str]) -> tuple[dict, dict]:
    """The distance's scales of ``table``'s columns: the training range of each continuous column, a code
    for each value of the others seen in any of the three databases (training, hold-out, twin)."""
    train = dbs[0]
    kinds = {c.name: c.kind for c in train.schema.table(table).columns}
    ranges, vocab = {}, {}
    for col in cols:
        if kinds[col] in CONTINUOUS:
            values = numeric_column(train[table][col])
            values = values[np.isfinite(values)]
            ranges[col] = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
        else:
            # every value of the three sets its own code: two values the training data lacks
            # (a generated city, a hold-out's own) are no more alike than any other two
            strings = pd.concat([_strings(d[table][col]) for d in dbs])
            vocab[col] = {v: i for i, v in enumerate(strings.unique())}
    return ranges, vocab


def _table_privacy(
    dbs: tuple[Database, Database, Database],
    table: str,
    cols: list[str],
    rng: np.random.Generator,
    max_rows: int,
    max_reference: int,
) -> dict[str, float]:
    """One table's distances to closest records, share closer to training, copy rates and
    membership-inference AUC (``dbs``: training, hold-out, twin)."""
    train, holdout, synthetic = dbs
    ranges, vocab = _scales(dbs, table, cols)
    syn = _encode(synthetic, table, cols, ranges, vocab)
    tr = _encode(train, table, cols, ranges, vocab)
    ho = _encode(holdout, table, cols, ranges, vocab)
    n_ref = min(len(train[table]), len(holdout[table]), max_reference)
    i_tr = rng.choice(len(train[table]), n_ref, replace=False)
    i_ho = rng.choice(len(holdout[table]), n_ref, replace=False)
    i_sy = rng.choice(len(synthetic[table]), min(len(synthetic[table]), max_rows), replace=False)
    q = (syn[0][i_sy], syn[1][i_sy])
    d_train = closest_distances(q, (tr[0][i_tr], tr[1][i_tr]))
    d_hold = closest_distances(q, (ho[0][i_ho], ho[1][i_ho]))
    closer = float(np.mean((d_train < d_hold) + 0.5 * (d_train == d_hold)))
    i_member = i_tr[: min(n_ref, max_rows)]
    i_outsider = i_ho[: min(n_ref, max_rows)]
    i_twin = rng.choice(len(synthetic[table]), min(len(synthetic[table]), max_reference), replace=False)
    twin = (syn[0][i_twin], syn[1][i_twin])  # every synthetic row (up to max_reference) the attacker holds
    attack = _closer_share(
        closest_distances((tr[0][i_member], tr[1][i_member]), twin),
        closest_distances((ho[0][i_outsider], ho[1][i_outsider]), twin),
    )
    copies = _copy_rate(train[table][cols], synthetic[table][cols])
    return {
        "dcr_train_median": round(float(np.median(d_train)), 6),
        "dcr_holdout_median": round(float(np.median(d_hold)), 6),
        "share_closer_to_train": round(closer, 6),
        "exact_copy_rate": round(copies, 6),
        "holdout_exact_copy_rate": round(_copy_rate(train[table][cols], holdout[table][cols]), 6),
        "membership_inference_auc": round(attack, 6),
    }


def privacy(
    train: Database,
    synthetic: Database,
    holdout: Database,
    max_rows: int = 2_000,
    max_reference: int = 20_000,
    random_state: int = 0,
    tables: list[str] | None = None,
) -> dict[str, Any]:
    """DCR, share closer to training than to hold-out, exact-copy rate of the twin and of the hold-out,
    membership-inference AUC, per table and overall (``membership_inference_auc`` the largest over
    tables; copy rates also weighted by rows) over ``tables`` (by default all; after an entity split,
    pass its split tables)."""
    rng = np.random.default_rng(random_state)
    copied_tables = [
        t for t in train.schema.table_names if t in synthetic.tables and _copied_whole(train, synthetic, t)
    ]
    details = {}
    for table in tables or train.schema.table_names:
        cols = scored_columns(train.schema, table)
        if not cols or not len(holdout[table]) or not len(synthetic[table]):
            continue
        details[table] = {
            "rows": len(synthetic[table]),
            "copied_whole": table in copied_tables,
            **_table_privacy((train, holdout, synthetic), table, cols, rng, max_rows, max_reference),
        }
    scored = {t: d for t, d in details.items() if not d["copied_whole"]}
    shown = rare_values_shown(train, synthetic, exempt=copied_tables)
    shares = [d["share_closer_to_train"] for d in scored.values()]
    copies = [d["exact_copy_rate"] for d in scored.values()]
    attacks = [d["membership_inference_auc"] for d in scored.values()]
    return {
        "copied_tables": copied_tables,
        "rare_values_shown": sum(shown.values()),
        "rare_values_shown_by_column": shown,
        "over_holdout": sorted(
            t for t, d in scored.items() if d["exact_copy_rate"] > d["holdout_exact_copy_rate"] + 0.01
        ),
        "share_closer_to_train": round(float(np.mean(shares)), 6) if shares else None,
        "exact_copy_rate": round(float(np.mean(copies)), 6) if copies else None,
        "exact_copy_rate_weighted": _weighted(details, "exact_copy_rate"),
        "holdout_exact_copy_rate_weighted": _weighted(details, "holdout_exact_copy_rate"),
        "membership_inference_auc": round(float(max(attacks)), 6) if attacks else None,
        "details": details,
        "settings": {
            "max_synthetic_rows": max_rows,
            "max_reference_rows": max_reference,
            "distance": "Gower (range-scaled L1 + mismatches)",
        },
    }
