"""The structure model's statistics released with Gaussian noise: per foreign key, the histogram of
children per parent (degrees clipped at ``max_degree``) and the number of children whose key is NULL.

Each parent row's degree and each child row's NULL-or-not are then drawn again from the noised
histograms, so the released templates hold no real row's own value; which row gets which is random.
Removing one row that no other row references changes, per foreign key it holds, its parent's
degree (two bins of one histogram, by one each) and the NULL count (one), and its own zero degree
in each histogram of the keys pointing at its table: :func:`sensitivity` is the L2 norm of that
change, the largest over tables.
"""

from __future__ import annotations

import math

import numpy as np

from dbtwin.schema.model import Schema
from dbtwin.structure.templates import Templates

MAX_DEGREE = 64


def sensitivity(schema: Schema) -> float:
    """The L2 sensitivity of all released histograms together to one row (the worst table's)."""
    worst = 0
    for table in schema.table_names:
        out = len(schema.foreign_keys_of(table))
        into = len(schema.foreign_keys_to(table))
        worst = max(worst, 3 * out + into)
    return math.sqrt(max(worst, 1))


def noised_templates(
    templates: Templates, schema: Schema, sigma: float, rng: np.random.Generator, max_degree: int = MAX_DEGREE
) -> Templates:
    """Templates whose degrees and NULL links are drawn from histograms noised with ``N(0, σ²)``."""
    parent_degree, child_target = {}, {}
    for fk in schema.foreign_keys:
        degrees = np.minimum(templates.parent_degree[fk.name], max_degree)
        counts = np.bincount(degrees, minlength=max_degree + 1).astype(np.float64)
        parent_degree[fk.name] = _draw(counts + rng.normal(0, sigma, counts.shape), len(degrees), rng)
        target = templates.child_target[fk.name]
        table = schema.table(fk.child)
        if (target >= 0).all() or any(not table.column(c).nullable or c in table.primary_key for c in fk.columns):
            # the key may not be NULL, or never is: nothing to release (values copied through it may
            # be declared NOT NULL; whether a key holds any NULL is taken as part of the schema)
            null = np.zeros(len(target), dtype=bool)
        else:
            nulls = np.array([(target < 0).sum(), (target >= 0).sum()], dtype=np.float64)
            null = _draw(nulls + rng.normal(0, sigma, 2), len(target), rng) == 0
        child_target[fk.name] = np.where(null, -1, 0).astype(np.int64)
    blocks = {t: np.zeros_like(b) for t, b in templates.blocks.items()}
    return Templates(blocks, child_target, parent_degree, templates.unique_links, templates.fixed, templates.kept_links)


def _draw(noisy: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` bin indices drawn from a noised histogram (negative counts at zero)."""
    weights = np.clip(noisy, 0, None)
    if weights.sum() <= 0:
        weights = np.ones_like(weights)
    return rng.choice(len(weights), size=n, p=weights / weights.sum()).astype(np.int64)
