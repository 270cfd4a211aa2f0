"""Single-table and structural fidelity scores of a synthetic database, in [0, 1] (1 = identical):

* ``column_shapes``: per attribute column, the KS complement (numeric, datetime) or the total-variation
  complement (categorical, boolean, text) of the real and synthetic marginals; missing values count as
  a category of their own for categoricals and are left out of the KS statistic.
* ``cardinality``: per foreign key, the KS complement of children-per-parent counts, zeros included.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import ks_2samp

from dbtwin.database import Database
from dbtwin.evaluate.features import numeric_column
from dbtwin.graph import RowGraph
from dbtwin.schema.model import ColumnKind

_CONTINUOUS = {ColumnKind.INTEGER, ColumnKind.FLOAT, ColumnKind.DATETIME}


def column_shapes(real: Database, synthetic: Database) -> dict[str, float]:
    """Score per ``table.column`` for every non-key column."""
    scores = {}
    for name, table in real.schema.tables.items():
        keys = real.schema.key_columns(name)
        for col in table.columns:
            if col.name in keys or col.kind in (ColumnKind.ID, ColumnKind.TEXT):
                continue
            a, b = real[name][col.name], synthetic[name][col.name]
            if col.kind in _CONTINUOUS:
                x, y = numeric_column(a.dropna()), numeric_column(b.dropna())
                x, y = x[~np.isnan(x)], y[~np.isnan(y)]  # NaN values (apart from NULL) left out too
                if len(x) and len(y):
                    scores[f"{name}.{col.name}"] = 1.0 - float(ks_2samp(x, y).statistic)
                else:
                    scores[f"{name}.{col.name}"] = float(len(x) == len(y))
            else:
                pa = a.astype(object).where(a.notna(), "<NULL>").astype(str).value_counts(normalize=True)
                pb = b.astype(object).where(b.notna(), "<NULL>").astype(str).value_counts(normalize=True)
                scores[f"{name}.{col.name}"] = 1.0 - 0.5 * float(pa.subtract(pb, fill_value=0).abs().sum())
    return scores


def cardinality(real: Database, synthetic: Database) -> dict[str, float]:
    """Score per foreign key name."""
    g_real, g_syn = RowGraph.from_database(real), RowGraph.from_database(synthetic)
    scores = {}
    for fk in real.schema.foreign_keys:
        a = np.bincount(g_real.links[fk.name].parent_rows, minlength=g_real.num_nodes[fk.parent])
        b = np.bincount(g_syn.links[fk.name].parent_rows, minlength=g_syn.num_nodes[fk.parent])
        scores[fk.name] = 1.0 - float(ks_2samp(a, b).statistic) if len(a) and len(b) else float(len(a) == len(b))
    return scores
