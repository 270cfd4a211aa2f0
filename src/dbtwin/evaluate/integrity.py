"""Diagnostics a dbtwin sample must pass: the real schema, unique keys, resolving foreign keys,
NULLs only where allowed (each count must be zero); and the tables the sample keeps as they are."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from dbtwin.database import Database
from dbtwin.evaluate.privacy import _same_rows
from dbtwin.validate import find_problems


def integrity(real: Database, synthetic: Database) -> dict[str, Any]:
    """Counts of FK violations, PK duplicates, NULLs in NOT NULL columns and schema mismatches."""
    problems = find_problems(synthetic)
    mismatches = []
    for name, table in real.schema.tables.items():
        if name not in synthetic.schema.tables:
            mismatches.append(f"table '{name}' is missing")
            continue
        other = synthetic.schema.table(name)
        if other.column_names != table.column_names:
            mismatches.append(f"table '{name}' has columns {other.column_names}, not {table.column_names}")
            continue
        for a, b in zip(table.columns, other.columns, strict=True):
            if (a.dtype, a.kind) != (b.dtype, b.kind):
                mismatches.append(
                    f"column '{name}.{a.name}' is {b.dtype.value}/{b.kind.value}, not {a.dtype.value}/{a.kind.value}"
                )
        if other.primary_key != table.primary_key:
            mismatches.append(f"table '{name}' has primary key {other.primary_key}, not {table.primary_key}")
    real_fks = {(f.child, f.columns, f.parent, f.parent_columns) for f in real.schema.foreign_keys}
    syn_fks = {(f.child, f.columns, f.parent, f.parent_columns) for f in synthetic.schema.foreign_keys}
    mismatches += [f"foreign key {fk} is missing" for fk in sorted(real_fks - syn_fks)]
    mismatches += [f"foreign key {fk} is not in the real schema" for fk in sorted(syn_fks - real_fks)]

    def count(code: str) -> int:
        return sum(p.count or 1 for p in problems if p.code == code)

    return {
        "fk_violations": count("orphan_foreign_key"),
        "pk_duplicates": count("duplicate_primary_key") + count("null_primary_key"),
        "nulls_in_not_null": count("null_in_not_null"),
        "schema_mismatches": len(mismatches),
        "details": [str(p) for p in problems] + mismatches,
        "kept_tables": kept_tables(real, synthetic),
    }


def kept_tables(real: Database, synthetic: Database) -> list[str]:
    """The tables the sample holds as the real database does, keys included, row for row (kept tables,
    not generated ones)."""
    return [
        name
        for name in real.schema.table_names
        if name in synthetic.tables
        and len(real[name])
        and list(synthetic[name].columns) == list(real[name].columns)
        and not _surely_differ(real[name], synthetic[name])
        and _same_rows(real[name], synthetic[name])
    ]


def _surely_differ(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """A quick look before the exact comparison: whether the rows' hashes already differ (False when
    the values cannot be hashed: the exact comparison decides)."""
    try:
        ha = np.sort(pd.util.hash_pandas_object(a, index=False).to_numpy())
        hb = np.sort(pd.util.hash_pandas_object(b, index=False).to_numpy())
    except (TypeError, ValueError):
        return False
    return not np.array_equal(ha, hb)
