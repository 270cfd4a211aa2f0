"""Relations as the fit log, the saved model, ``dbtwin inspect`` and ``dbtwin evaluate`` show them."""

from __future__ import annotations

import logging
from typing import Any

from dbtwin.database import Database
from dbtwin.encode.rare import Protection
from dbtwin.relations.compute import Kept, keeping
from dbtwin.relations.discover import KINDS, Discovery, discover
from dbtwin.relations.rule_json import rule_from_dict
from dbtwin.relations.rules import Rule
from dbtwin.schema.model import Schema

log = logging.getLogger(__name__)


def fit_relations(db: Database, enabled: bool, protection: Protection, random_state: int | None) -> Discovery:
    """The rules a synthesizer keeps: those the metadata declares and (unless it or ``enabled`` says
    not to) those discovered; each one and the search's cost are logged."""
    if not enabled:
        return Discovery()
    settings = db.schema.relations
    declared = [rule_from_dict(d, db.schema) for d in settings.declared]
    found = discover(
        db,
        declared=declared,
        off=_patterns(settings.off),
        near=_patterns(settings.near),
        kinds=KINDS if settings.discover else (),
        protection=protection,
        random_state=0 if random_state is None else random_state,
    )
    for rule in found.rules:
        log.info("relation (%s): %s", rule.kind, rule.describe(db.schema))
    for rule, kept in found.near_rules:
        log.warning(
            "relation kept as the metadata asks, though %d of %d real rows break it: %s (%s)",
            kept.rows - kept.kept,
            kept.rows,
            rule.describe(db.schema),
            "; ".join(kept.breaking),
        )
    closest = sorted(found.near_misses, key=lambda m: m[1].rows - m[1].kept)
    for i, (rule, kept) in enumerate(closest):
        (log.info if i < 5 else log.debug)(
            "almost a relation, not kept: %s (broken by %d of %d rows: %s)",
            rule.describe(db.schema),
            kept.rows - kept.kept,
            kept.rows,
            "; ".join(kept.breaking),
        )
    cost = ", ".join(f"{k} {found.candidates[k]} in {s:.2f} s" for k, s in found.seconds.items())
    log.info("relations: %d kept; candidates checked: %s", len(found.rules), cost or "none (discovery off)")
    return found


def _patterns(objects: list[dict]) -> set[tuple[str | None, str | None, str | None]]:
    return {(o.get("kind"), o.get("table"), o.get("column")) for o in objects}


def rule_summary(rule: Rule, schema: Schema, kept: Kept | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": rule.kind, "table": rule.table, "column": rule.column, "rule": rule.describe(schema)}
    if rule.holes:
        out["holes"] = True  # kept where both sides are known
    if rule.near:
        out["near"] = True  # kept on every synthetic row though a few real rows break it
    if kept is not None:
        out.update(rows=kept.rows, kept=kept.kept, share=None if kept.share is None else round(kept.share, 6))
        if kept.breaking:
            out["breaking"] = list(kept.breaking)
    return out


def relations_to_dict(found: Discovery, schema: Schema) -> dict[str, Any]:
    """The saved form: the rules (their JSON form), near misses and the search's cost."""
    return {
        "rules": [r.to_dict() for r in found.rules],
        "near_misses": [rule_summary(r, schema, k) for r, k in found.near_misses],
        "near_rules": [rule_summary(r, schema, k) for r, k in found.near_rules],
        "seconds": {k: round(s, 3) for k, s in found.seconds.items()},
        "candidates": found.candidates,
    }


def relations_from_dict(data: dict[str, Any], schema: Schema) -> Discovery:
    return Discovery(
        rules=[rule_from_dict(r, schema) for r in data.get("rules", [])],
        seconds=dict(data.get("seconds", {})),
        candidates=dict(data.get("candidates", {})),
    )


def summarize_relations(db: Database, protection: Protection | None = None) -> dict[str, Any]:
    """What ``dbtwin inspect`` shows: the rules found, the near misses and the cost."""
    found = fit_relations(db, True, protection or Protection(), 0)
    return {
        "rules": [rule_summary(r, db.schema) for r in found.rules],
        "near_rules": [rule_summary(r, db.schema, k) for r, k in found.near_rules],
        "near_misses": [rule_summary(r, db.schema, k) for r, k in found.near_misses],
        "seconds": round(sum(found.seconds.values()), 3),
    }


def relations_kept(real: Database, synthetic: Database) -> dict[str, Any]:
    """Per rule found in ``real``, the share of ``synthetic``'s rows that keep it; ``score`` is the
    lowest share (1.0 when every rule holds on every row)."""
    found = discover(real)
    rules = [rule_summary(r, real.schema, keeping(synthetic, r, holes=r.holes)) for r in found.rules]
    shares = [r["share"] for r in rules if r["share"] is not None]
    broken = sum(r["rows"] - r["kept"] for r in rules)
    return {"score": min(shares) if shares else None, "rules": rules, "rows_breaking": int(broken)}
