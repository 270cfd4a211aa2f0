"""A summary of a database for people and scripts: what ``dbtwin inspect`` shows.

The JSON form is a stable interface::

    {"tables": {NAME: {"rows": N, "primary_key": [..], "columns": {COL: KIND}, ...}},
     "foreign_keys": [{"child": T, "columns": [..], "parent": T, "parent_columns": [..], "orphans": N, ...}],
     "depth": D, "relations": {"rules": [{"kind": K, "table": T, "column": C, "rule": TEXT}, ..],
                               "near_misses": [..], "seconds": S},
     "semantic": {TABLE: {COL: TYPE}}, "lookup_tables": {T: WHY}, "dimension_tables": [T, ..], ...}

Keys may be added in later versions; the ones above keep their meaning.
"""

from __future__ import annotations

from typing import Any

from dbtwin.database import NULL_REF, ORPHAN_REF, Database
from dbtwin.encode.rare import Protection
from dbtwin.relations.report import summarize_relations
from dbtwin.semantic.plan import semantic_types
from dbtwin.synthesizer.kept import lookup_tables
from dbtwin.validate import find_problems


def summarize(db: Database) -> dict[str, Any]:
    """Tables (rows, keys, column kinds, missing-value rates), foreign keys (orphans, NULLs), depth,
    cycles, every validation problem, the exact relations the rows keep (:mod:`dbtwin.relations`),
    the semantic type of each string column and the lookup tables a twin keeps as they are, with why."""
    tables: dict[str, Any] = {}
    for name, table in db.schema.tables.items():
        frame = db[name]
        n = len(frame)
        tables[name] = {
            "rows": n,
            "primary_key": list(table.primary_key),
            "columns": {c.name: c.kind.value for c in table.columns},
            "dtypes": {c.name: c.dtype.value for c in table.columns},
            "time_column": table.time_column,
            "missing": {c.name: round(float(frame[c.name].isna().mean()), 6) if n else 0.0 for c in table.columns},
        }
    problems = [p for p in find_problems(db) if p.severity == "error"]
    lookups = lookup_tables(db) if not problems else {}
    fks = []
    for fk in db.schema.foreign_keys:
        pos = db.parent_positions(fk)
        fks.append(
            {
                "name": fk.name,
                "child": fk.child,
                "columns": list(fk.columns),
                "parent": fk.parent,
                "parent_columns": list(fk.parent_columns),
                "orphans": int((pos == ORPHAN_REF).sum()),
                "nulls": int((pos == NULL_REF).sum()),
                "self_reference": fk.is_self_reference,
            }
        )
    return {
        "tables": tables,
        "foreign_keys": fks,
        "depth": db.schema.depth(),
        "cycles": db.schema.cycles(),
        "problems": [
            {"code": p.code, "severity": p.severity, "table": p.table, "column": p.column, "message": p.message}
            for p in find_problems(db, include_orphans=False)
        ],
        "relations": summarize_relations(db, Protection(exempt=tuple(lookups)))
        if not problems
        else {"rules": [], "near_rules": [], "near_misses": [], "seconds": 0.0},
        "semantic": {t: {c: s.value for c, s in cols.items()} for t, cols in semantic_types(db.schema, db).items()},
        "lookup_tables": lookups,
        "dimension_tables": list(lookups),  # the name of earlier versions, kept for scripts that read it
    }
