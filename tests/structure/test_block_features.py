"""The block model's rows, built a chunk at a time, are those of the whole matrix bit for bit: the
same standardised values (so the same blocks as before they were chunked), on tables larger than a
chunk as well as smaller ones."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from dbtwin.structure.block_features import CHUNK_ROWS, BlockFeatures


def _whole(own, linked, n):
    """The rows as one matrix, standardised with NumPy's whole-matrix mean and deviation."""
    columns = [c for a in own for c in a.reshape(n, -1).T.astype(np.float64)]
    for is_child, link, theirs, kb in linked:
        part = np.zeros((n, kb))
        if is_child:
            part[link.child_rows, theirs[link.parent_rows]] = 1.0
        else:
            np.add.at(part, (link.parent_rows, theirs[link.child_rows]), 1.0)
            part /= np.maximum(part.sum(axis=1, keepdims=True), 1.0)
        columns.extend(part.T)
    x = np.stack(columns, axis=1)
    return (x - x.mean(axis=0)) / np.maximum(x.std(axis=0), 1e-9)


@pytest.mark.parametrize("n", [CHUNK_ROWS * 2 + 123, 5_000])
@pytest.mark.parametrize("values", [0, 1, 6])
def test_chunks_are_the_whole_matrix_standardised(n, values):
    rng = np.random.default_rng(n + values)
    own = [np.log1p(rng.poisson(3.0, n).astype(np.float64))]
    if values:
        own.append((rng.standard_normal((n, values)) * np.exp(rng.uniform(-8, 8, values)) + 1e4).astype(np.float32))
    parents, others = rng.choice(n, n // 2, replace=False), rng.integers(0, 300, n // 2)
    as_child = SimpleNamespace(child_rows=parents, parent_rows=others)
    as_parent = SimpleNamespace(child_rows=rng.integers(0, 900, 2 * n), parent_rows=rng.integers(0, n, 2 * n))
    linked = [(True, as_child, rng.integers(0, 5, 300), 5), (False, as_parent, rng.integers(0, 3, 900), 3)]
    points = BlockFeatures(n, own, linked)
    points.standardise()
    expected = _whole(own, linked, n)
    assert np.array_equal(np.concatenate(list(points.chunks())), expected)
    picked = rng.choice(n, 1000, replace=False)
    assert np.array_equal(points.rows(picked), expected[picked])


def test_a_single_column_is_standardised_as_numpy_does():
    n = CHUNK_ROWS * 2 + 5
    column = np.random.default_rng(0).standard_normal(n) * 1e6 + 3.0
    points = BlockFeatures(n, [column], [])
    points.standardise()
    assert np.array_equal(points.rows(slice(None)), _whole([column], [], n))


def test_distinct_rows_are_counted_across_chunks():
    n = CHUNK_ROWS * 3
    column = np.zeros(n)
    column[-2] = 1.0  # two rows apart from the others, both in the last chunk
    column[-1] = 2.0
    points = BlockFeatures(n, [column, column * 2], [])
    points.standardise()
    assert points.distinct_rows(8) == 3 and points.distinct_rows(2) == 2
