"""One sample: a structure drawn, every row denoised, then the denoised features decoded into rows,
keys filled, rules and the rare-value plan applied, the kept and given tables' real rows put in, the
result validated."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from dbtwin.config import SynthesizerConfig
from dbtwin.database import Database
from dbtwin.errors import DataValidationError
from dbtwin.graph import RowGraph
from dbtwin.graph.sequences import order_times
from dbtwin.progress import Phase
from dbtwin.synthesizer.given import Given, given_rows
from dbtwin.synthesizer.keys import ShardKeys
from dbtwin.synthesizer.stages import Stages
from dbtwin.validate import find_problems


def draw_sample(
    stages: Stages,
    config: SynthesizerConfig,
    scale: float,
    seeds: np.random.SeedSequence,
    progress: bool = True,
    given: Database | None = None,
    given_tables: Sequence[str] | None = None,
    picks: dict[str, np.ndarray] | None = None,
    keys: ShardKeys | None = None,
    given_noised: bool = False,
) -> Database:
    """A validated sample at ``scale`` drawn from ``seeds``; around the rows of ``given_tables`` of
    ``given`` (:mod:`dbtwin.synthesizer.given`; shown to the denoiser clean, or with ``given_noised``
    noised to each step's time as the rows around them are); of the real rows' templates ``picks`` and
    with surrogate keys in a shard's part of them (``keys``, :mod:`dbtwin.synthesizer.shards`)."""
    around = given_rows(given, given_tables, stages.schema, stages.fixed_tables) if given is not None else None
    rng = np.random.default_rng(seeds.spawn(1)[0])
    generator = torch.Generator().manual_seed(int(seeds.generate_state(1)[0]))
    with Phase("structure"):
        graph, blocks = stages.structure.sample(scale, rng, around.rows if around else None, picks)
    held = around.features(stages.encoders.encode) if around else {}
    noised = {t: f for t, f in held.items() if t not in stages.encoders.fixed} if given_noised else {}
    fixed = {**stages.encoders.fixed, **{t: f for t, f in held.items() if t not in noised}}
    x_num, x_cat = stages.features.generate(graph, fixed, config, generator, blocks, progress, noised=noised)
    return assemble(stages, graph, x_num, x_cat, rng, around, keys)


def assemble(
    stages: Stages,
    graph: RowGraph,
    x_num: dict[str, torch.Tensor],
    x_cat: dict[str, torch.Tensor],
    rng: np.random.Generator,
    given: Given | None = None,
    keys: ShardKeys | None = None,
) -> Database:
    """The sample of ``graph`` whose rows carry the denoised ``x_num``/``x_cat`` features; a kept or
    ``given`` table holds its real rows, and nothing is computed or replaced in them; surrogate keys
    in the shard's part of them (``keys``)."""
    with Phase("decoding, keys and rules", sum(graph.num_nodes.values())):
        return _assembled(stages, graph, x_num, x_cat, rng, given, keys)


def _assembled(stages, graph, x_num, x_cat, rng, given, keys) -> Database:
    real = {**stages.kept.frames, **(given.frames if given else {})}
    attributes: dict[str, pd.DataFrame] = {}
    for t in stages.encoders.encoders:
        if t in real:  # a kept or given table: its real rows, keys and all
            attributes[t] = real[t].copy()
            continue
        frame = stages.encoders.decode(t, x_num[t], x_cat[t], rng)
        stages.keys.fill_surrogate(t, frame, rng, keys)
        for seq in stages.features.sequences:
            if seq.table == t:
                order_times(frame, graph, seq)
        for column in stages.relations.derived_columns(t):
            frame[column] = None  # computed below, once every column it reads is final
        attributes[t] = frame
    db = graph.to_database(attributes, prepare=stages.keys.unique)
    stages.relations.apply(db, rng, skip=set(real))
    stages.values.apply(db, rng, skip=set(real))  # believable values for the rare ones, then their copies
    stages.relations.settle(db, skip=set(real))  # copies and dependencies of the values that replaced them
    for table, frame in real.items():  # kept and given rows exactly as they are, whatever ran above
        db.tables[table] = frame.copy()
    errors = [p for p in find_problems(db) if p.severity == "error"]
    if errors:
        raise DataValidationError(errors)
    return db
