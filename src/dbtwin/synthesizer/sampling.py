"""The last part of sampling: the denoised features decoded into rows, keys filled, rules and the
rare-value plan applied, the kept and given tables' real rows put in, the result validated."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from dbtwin.database import Database
from dbtwin.errors import DataValidationError
from dbtwin.graph import RowGraph
from dbtwin.graph.sequences import order_times
from dbtwin.progress import Phase
from dbtwin.synthesizer.given import Given
from dbtwin.synthesizer.stages import Stages
from dbtwin.validate import find_problems


def assemble(
    stages: Stages,
    graph: RowGraph,
    x_num: dict[str, torch.Tensor],
    x_cat: dict[str, torch.Tensor],
    rng: np.random.Generator,
    given: Given | None = None,
) -> Database:
    """The sample of ``graph`` whose rows carry the denoised ``x_num``/``x_cat`` features; a kept or
    ``given`` table holds its real rows, and nothing is computed or replaced in them."""
    with Phase("decoding, keys and rules", sum(graph.num_nodes.values())):
        return _assembled(stages, graph, x_num, x_cat, rng, given)


def _assembled(stages, graph, x_num, x_cat, rng, given) -> Database:
    real = {**stages.kept.frames, **(given.frames if given else {})}
    attributes: dict[str, pd.DataFrame] = {}
    for t in stages.encoders.encoders:
        if t in real:  # a kept or given table: its real rows, keys and all
            attributes[t] = real[t].copy()
            continue
        frame = stages.encoders.decode(t, x_num[t], x_cat[t], rng)
        stages.keys.fill_surrogate(t, frame, rng)
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
