"""Validation of a database against its schema, and the orphan-foreign-key policy.

Every problem names its table and, where there is one, its column. :func:`find_problems` lists them
all; :func:`check` raises :class:`DataValidationError` when any is an error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd

from dbtwin.database import ORPHAN_REF, Database, hashable_keys
from dbtwin.errors import DataValidationError, Problem
from dbtwin.schema.model import ForeignKey, Table

log = logging.getLogger(__name__)

OrphanPolicy = Literal["error", "null", "drop", "keep"]
ORPHAN_POLICIES: tuple[str, ...] = ("error", "null", "drop", "keep")


@dataclass
class OrphanReport:
    """What :func:`resolve_orphans` found and did, per foreign key."""

    policy: str
    orphans: dict[str, int] = field(default_factory=dict)
    actions: list[str] = field(default_factory=list)


def find_problems(db: Database, include_orphans: bool = True) -> list[Problem]:
    """Every problem in ``db``: keys, NULL rules, empty tables, orphans, cycles that cannot be broken."""
    problems: list[Problem] = []
    for name, table in db.schema.tables.items():
        frame = db[name]
        if len(frame) == 0:
            problems.append(Problem("empty_table", name, None, f"table '{name}' has no rows"))
            continue
        problems += _null_problems(name, table, frame)
        problems += _key_problems(name, table, frame)
    if include_orphans:
        problems += _orphan_problems(db)
    return problems + _cycle_problems(db)


def _null_problems(name: str, table: Table, frame: pd.DataFrame) -> list[Problem]:
    """NULLs in NOT NULL columns and in primary-key columns."""
    problems = []
    for col in table.columns:
        if not col.nullable and col.name not in table.primary_key:
            nulls = int(frame[col.name].isna().sum())
            if nulls:
                message = f"column '{name}.{col.name}' is declared NOT NULL but holds {nulls} NULL(s)"
                problems.append(Problem("null_in_not_null", name, col.name, message, nulls))
    for col in table.primary_key:
        nulls = int(frame[col].isna().sum())
        if nulls:
            message = f"primary key column '{name}.{col}' holds {nulls} NULL(s)"
            problems.append(Problem("null_primary_key", name, col, message, nulls))
    return problems


def _key_problems(name: str, table: Table, frame: pd.DataFrame) -> list[Problem]:
    """Duplicate primary-key values."""
    if not table.primary_key:
        return []
    pk = list(table.primary_key)
    dup = hashable_keys(frame[pk])[0].duplicated(pk, keep="first")
    n_dup = int(dup.sum())
    if not n_dup:
        return []
    examples = frame.loc[dup, pk].head(3).to_dict("records")
    message = f"primary key ({', '.join(pk)}) of table '{name}' has {n_dup} duplicate value(s), e.g. {examples}"
    return [Problem("duplicate_primary_key", name, pk[0], message, n_dup)]


def _orphan_problems(db: Database) -> list[Problem]:
    """Foreign-key values with no parent row."""
    problems = []
    for fk, count, examples in orphan_counts(db):
        if count:
            message = (
                f"{count} row(s) of '{fk.child}' have {fk.child}({', '.join(fk.columns)}) values not found "
                f"in '{fk.parent}' ({', '.join(fk.parent_columns)}), e.g. {examples}"
            )
            problems.append(Problem("orphan_foreign_key", fk.child, ", ".join(fk.columns), message, count))
    return problems


def _cycle_problems(db: Database) -> list[Problem]:
    """Cycles of foreign keys: a warning where a nullable key breaks one, an error where none does."""
    schema, problems = db.schema, []
    for cycle in schema.cycles():
        fks = [
            fk for fk in schema.foreign_keys if fk.child in cycle and fk.parent in cycle and not fk.is_self_reference
        ]
        breakable = [fk for fk in fks if _fk_nullable(db, fk)]
        text = " -> ".join(cycle)
        if breakable:
            message = (
                f"tables {text} reference each other in a cycle; writers break it through the nullable "
                f"foreign key {breakable[0]}"
            )
            problems.append(Problem("fk_cycle", cycle[0], None, message, severity="warning"))
        else:
            message = (
                f"tables {text} reference each other in a cycle of NOT NULL foreign keys ("
                + "; ".join(str(fk) for fk in fks)
                + "): such rows can be neither inserted nor generated; make one of them nullable"
            )
            problems.append(Problem("fk_cycle", cycle[0], fks[0].columns[0] if fks else None, message))
    return problems


def check(db: Database, orphans: OrphanPolicy = "error") -> None:
    """Raise :class:`DataValidationError` listing every error-level problem.

    With ``orphans`` other than ``"error"``, orphan foreign keys are not reported here: resolve them
    with :func:`resolve_orphans` first.
    """
    errors = [p for p in find_problems(db, include_orphans=orphans == "error") if p.severity == "error"]
    if errors:
        raise DataValidationError(errors)


def orphan_counts(db: Database) -> list[tuple[ForeignKey, int, list[object]]]:
    """For every foreign key: the number of orphan child rows and up to three orphan values."""
    result = []
    for fk in db.schema.foreign_keys:
        pos = db.parent_positions(fk)
        orphan = pos == ORPHAN_REF
        count = int(orphan.sum())
        examples: list[object] = []
        if count:
            sample = db[fk.child].loc[orphan, list(fk.columns)].drop_duplicates().head(3)
            examples = [r[0] if len(r) == 1 else tuple(r) for r in sample.itertuples(index=False)]
        result.append((fk, count, examples))
    return result


def resolve_orphans(db: Database, policy: OrphanPolicy) -> tuple[Database, OrphanReport]:
    """Apply the orphan policy and report what was done.

    * ``"error"``: raise :class:`DataValidationError` if any foreign key has orphans;
    * ``"null"``: set the orphan foreign keys to NULL (columns that also belong to the primary key or to
      another foreign key are kept, since SQL ignores a composite key with any NULL part);
    * ``"drop"``: drop the orphan rows, and then rows orphaned by that, until none is left;
    * ``"keep"``: change nothing (only count).
    """
    if policy not in ORPHAN_POLICIES:
        raise ValueError(f"orphan policy must be one of {ORPHAN_POLICIES}, not {policy!r}")
    report = OrphanReport(policy)
    counts = orphan_counts(db)
    for fk, count, _ in counts:
        report.orphans[fk.name] = count
    if policy == "keep" or not any(c for _, c, _ in counts):
        return db, report
    if policy == "error":
        check(db, orphans="error")
    out = db.copy()
    if policy == "null":
        for fk, count, _ in counts:
            if not count:
                continue
            shared = _shared_columns(out, fk)
            targets = [c for c in fk.columns if c not in shared]
            if not targets:
                raise DataValidationError(
                    [
                        Problem(
                            "orphan_foreign_key",
                            fk.child,
                            fk.columns[0],
                            f"{count} orphan row(s) of foreign key {fk} cannot be set to NULL: every column of it "
                            "is also part of the primary key or another foreign key; use the 'drop' policy",
                            count,
                        )
                    ]
                )
            orphan = out.parent_positions(fk) == ORPHAN_REF
            frame = out.tables[fk.child]
            for col in targets:
                frame.loc[orphan, col] = None
                table = out.schema.tables[fk.child]
                table.columns = [replace(c, nullable=True) if c.name == col else c for c in table.columns]
            report.actions.append(f"{fk}: set {', '.join(targets)} to NULL in {count} row(s)")
    else:  # drop: the orphans found first, then rows orphaned by those drops, until none is left
        rounds = 0
        while True:
            masks = [(fk, out.parent_positions(fk) == ORPHAN_REF) for fk in out.schema.foreign_keys]
            doomed: dict[str, np.ndarray] = {}
            for fk, orphan in masks:
                n = int(orphan.sum())
                if n:
                    cause = "orphans" if rounds == 0 else "orphaned by earlier drops"
                    report.actions.append(f"{fk}: dropped {n} row(s) of '{fk.child}' ({cause})")
                    doomed[fk.child] = doomed.get(fk.child, np.zeros(len(orphan), bool)) | orphan
            if not doomed:
                break
            for table, mask in doomed.items():
                out.tables[table] = out.tables[table].loc[~mask].reset_index(drop=True)
            rounds += 1
    for action in report.actions:
        log.info(action)
    return out, report


def _shared_columns(db: Database, fk: ForeignKey) -> set[str]:
    shared = set(db.schema.table(fk.child).primary_key)
    for other in db.schema.foreign_keys_of(fk.child):
        if other.name != fk.name:
            shared.update(other.columns)
    return shared


def _fk_nullable(db: Database, fk: ForeignKey) -> bool:
    table = db.schema.table(fk.child)
    return any(table.column(c).nullable and c not in table.primary_key for c in fk.columns)
