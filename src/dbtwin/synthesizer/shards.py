"""Sampling in shards: a sample too large for memory drawn as ``shards`` smaller samples, one after
the other, each spooled (:class:`~dbtwin.io.shards.Spool`) before the next is drawn, so that memory
holds one shard whatever the scale.

Every row of a generated table first takes the template of a real row, for the whole sample at once
(each real row once at scale 1, as one sample does); the shards split those templates evenly, and
each shard is a whole sample of its share: its structure, its denoising over its own row graph, its
rules and checks. Under torchrun the ranks draw the shards in parallel, each on its own, into one
spool; a shard is the same whichever rank draws it. Kept tables are in every shard (written once).
A table is drawn whole in the first shard and held as it is by the others (shared, with its
generated parents) where splitting it would break something: fewer than :data:`MIN_SHARD_ROWS`
rows a shard, a primary key that could repeat across shards (each shard's surrogate keys lie in its
own part of them; a key holding a split parent's key cannot repeat), or a rule reading its rows
across shards. The spool checks keys across shards too. What one shard cannot see is the rest: a
row's neighbourhood is the rows of its shard.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dbtwin.config import SynthesizerConfig
from dbtwin.errors import OptionError
from dbtwin.io.shards import Sharded, Spool
from dbtwin.nn import distributed
from dbtwin.nn.device import trim_heap
from dbtwin.progress import rss_mb
from dbtwin.relations.rules import Aggregate, Numbering, Running
from dbtwin.structure.links import draw_picks, picked_rows
from dbtwin.synthesizer.keys import ShardKeys, surrogate_key
from dbtwin.synthesizer.sampling import draw_sample
from dbtwin.synthesizer.stages import Stages

log = logging.getLogger(__name__)

#: The fewest rows of a table in a shard: a table with fewer is drawn whole in the first shard
#: and shared by the others.
MIN_SHARD_ROWS = 1_000


def sample_in_shards(
    stages: Stages,
    config: SynthesizerConfig,
    directory: Path,
    scale: float,
    shards: int,
    seed: int | None,
    progress: bool = True,
) -> Sharded | None:
    """A sample at ``scale`` drawn in ``shards`` shards, spooled in ``directory`` (new or empty). Under
    torchrun the ranks draw the shards in parallel (shard ``i`` by rank ``i`` modulo their number, all
    spooling into ``directory``, which they must share) and rank 0 gets the whole (None on the others):
    the same shards one process draws from the same seed."""
    here = distributed.world()
    plan = plan_shards(stages, scale, shards)
    if shards > 1 and set(plan.sizes) <= set(plan.shared):
        log.warning("no table can be split into %d shards (every one is shared): drawn in one", shards)
        shards, plan = 1, plan_shards(stages, scale, 1)
    root = np.random.SeedSequence(here.from_main(np.random.SeedSequence(seed).entropy))  # one seed on every rank
    picks_seeds, *shard_seeds = root.spawn(shards + 1)
    rng = np.random.default_rng(picks_seeds)
    drawn = {t: draw_picks(n, scale, rng) for t, n in plan.sizes.items()}
    split = {t: np.array_split(p, shards) for t, p in drawn.items() if t not in plan.shared}
    if plan.shared:
        log.info("drawn whole in the first shard and held by the others: %s", ", ".join(plan.shared))
    spool = Spool(directory, stages.schema, [*stages.fixed_tables, *plan.shared])
    above = set(stages.schema.with_parents(plan.shared))  # the shared tables and the kept ones they reference
    held = [t for t in stages.schema.table_names if t in above]
    mine = [i for i in range(shards) if i % here.size == here.rank]
    progress = progress and here.is_main  # one voice
    with distributed.alone():  # each shard drawn by one rank alone
        if mine[:1] == [0]:
            _draw_shard(stages, config, scale, shards, 0, shard_seeds[0], split, drawn, None, spool, progress)
    shared = None
    if held:  # the others wait for the first shard: it holds the shared rows
        here.from_main(None)
        shared = spool.read(0, held)
    with distributed.alone():
        for i in mine:
            if i:
                _draw_shard(stages, config, scale, shards, i, shard_seeds[i], split, drawn, shared, spool, progress)
    every = here.to_main(spool.parts())
    if every is None:
        return None
    for parts in every[1:]:
        spool.merge(parts)
    return spool.sharded()


def _draw_shard(stages, config, scale, shards, i, seeds, split, drawn, shared, spool, progress) -> None:
    """Shard ``i``: its share ``split`` of the templates (all ``drawn`` of a shared table), its
    surrogate keys in its part of them, around the ``shared`` rows of the first; spooled."""
    log.info("shard %d of %d (resident memory %s MB)", i + 1, shards, f"{rss_mb():,.0f}")
    picks = {t: parts[i] for t, parts in split.items()} | {t: p for t, p in drawn.items() if t not in split}
    keys = ShardKeys(i, shards, {t: sum(len(p) for p in parts[:i]) for t, parts in split.items()})
    held = list(shared.tables) if shared is not None else None
    db = draw_sample(stages, config, scale / shards, seeds, progress, shared, held, picks, keys, True)
    spool.add(db, i)
    del db, picks  # before the next shard is drawn, not after: memory holds one shard
    trim_heap()


@dataclass
class ShardPlan:
    """The real row counts of the generated tables (``sizes``), and those of them drawn whole in the
    first shard and held as they are by the others (``shared``: tables too small to split, with
    their generated parents)."""

    sizes: dict[str, int]
    shared: list[str]


def plan_shards(stages: Stages, scale: float, shards: int) -> ShardPlan:
    """How a sample at ``scale`` splits into ``shards``: a generated table with fewer than
    :data:`MIN_SHARD_ROWS` rows a shard, whose primary key could repeat across shards, or whose rows
    a rule reads across shards, is shared, with its generated parents."""
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise OptionError("shards", f"must be a whole number of 1 or more, not {shards!r}")
    sizes = getattr(stages.structure.model, "sizes_", None)
    if sizes is None or stages.structure.model.name == "real":
        raise OptionError("shards", "the 'real' structure copies the real links whole: it cannot split them")
    schema, kept = stages.schema, set(stages.fixed_tables)
    generated = {t: n for t, n in sizes.items() if t not in kept}
    rules = stages.relations.rules
    shared: set[str] = set()
    while shards > 1:
        grown = {
            t
            for t, n in generated.items()
            if t not in shared
            and (
                picked_rows(n, scale) < MIN_SHARD_ROWS * shards
                or not _keys_split(schema, t, kept | shared)
                or not _rules_split(schema, rules, t, kept | shared)
            )
        }
        if not grown:
            break
        shared |= set(schema.with_parents(sorted(grown))) - kept
    return ShardPlan(generated, [t for t in schema.table_names if t in shared])


def first_shard_rows(stages: Stages, scale: float, shards: int) -> int:
    """About the rows of the largest shard of a sample at ``scale`` in ``shards``: the first, which
    holds the kept and shared tables and its share of the rest."""
    plan = plan_shards(stages, scale, shards)
    sizes = getattr(stages.structure.model, "sizes_", {})
    rows = sum(n for t, n in sizes.items() if t not in plan.sizes)  # kept tables keep their size
    return rows + sum(
        picked_rows(n, scale) if t in plan.shared else -(-picked_rows(n, scale) // shards)
        for t, n in plan.sizes.items()
    )


def _rules_split(schema, rules, table: str, whole: set[str]) -> bool:
    """Whether the rules over ``table``'s rows hold in every shard alone, its rows split: none of them
    sums its rows up into a parent in ``whole`` (drawn once, it could not see later shards' rows),
    and every numbering or running sum over its rows groups them by a split parent (not in ``whole``)."""
    for rule in rules:
        if isinstance(rule, Aggregate) and schema.foreign_key(rule.foreign_key).child == table:
            if rule.table in whole:
                return False
        elif isinstance(rule, Numbering | Running) and rule.table == table:
            parents = [
                fk for fk in schema.foreign_keys_of(table) if fk.parent not in whole and not fk.is_self_reference
            ]
            if not any(set(fk.columns) <= set(rule.group) for fk in parents):
                return False
    return True


def _keys_split(schema, table: str, whole: set[str]) -> bool:
    """Whether ``table``'s primary keys cannot repeat across shards: it has none, a surrogate key
    (counted on across shards), or one holding the whole key of a split parent (one not in ``whole``)."""
    pk = schema.table(table).primary_key
    if not pk or surrogate_key(schema, table):
        return True
    return any(
        fk.parent not in whole and not fk.is_self_reference and set(fk.columns) <= set(pk)
        for fk in schema.foreign_keys_of(table)
    )


__all__ = ["MIN_SHARD_ROWS", "ShardPlan", "first_shard_rows", "plan_shards", "sample_in_shards"]
