"""The rows of one table as the block model's k-means sees them, standardised, built a chunk of rows
at a time: no matrix of the whole table is ever held, whatever its size (TPC-H's 6M-row `lineitem`
had taken two float64 copies of 39 columns, 3.7 GB).

A row's columns are its own (log-degrees, whether it has a parent, its encoded values), then per
foreign key a one-hot of its parent's block (as a child) or the block mix of its children (as a
parent). Means and deviations are summed a chunk at a time in the order NumPy sums a whole matrix's
columns (row after row), so the standardised rows are those of the whole matrix, bit for bit.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

#: Rows a chunk: a multiple of scikit-learn's k-means chunk (256 rows), so that a chunk's labels are
#: computed as they are in one call over every row.
CHUNK_ROWS = 65_536


class BlockFeatures:
    """The ``n`` rows of a table: its ``own`` columns (1-D or 2-D, row-aligned) and its ``linked``
    blocks (per foreign key: whether the table is its child, its links, the blocks at the other end
    and how many there are)."""

    def __init__(self, n: int, own: list[np.ndarray], linked: list[tuple[bool, Any, np.ndarray, int]]) -> None:
        self.n, self.own = n, [a.reshape(n, -1) for a in own]
        self.parts: list[tuple[bool, np.ndarray, int]] = []
        for is_child, link, theirs, kb in linked:
            if is_child:  # each row's parent's block, -1 without one
                block = np.full(n, -1, dtype=np.int64)
                block[link.child_rows] = theirs[link.parent_rows]
                self.parts.append((True, block, kb))
            else:  # each row's children per block
                counts = np.zeros((n, kb))
                np.add.at(counts, (link.parent_rows, theirs[link.child_rows]), 1.0)
                self.parts.append((False, counts, kb))
        self.width = sum(a.shape[1] for a in self.own) + sum(kb for *_, kb in self.parts)
        self.mean = np.zeros(self.width)
        self.deviation = np.ones(self.width)
        self._one_chunk: np.ndarray | None = None  # every row standardised, where they make one chunk

    def raw(self, rows: slice | np.ndarray) -> np.ndarray:
        """The ``rows`` as float64 columns, before standardising."""
        m = len(range(self.n)[rows]) if isinstance(rows, slice) else len(rows)
        x = np.zeros((m, self.width))
        j = 0
        for a in self.own:
            x[:, j : j + a.shape[1]] = a[rows]
            j += a.shape[1]
        for is_child, values, kb in self.parts:
            part = x[:, j : j + kb]
            if is_child:
                block = values[rows]
                has = np.flatnonzero(block >= 0)
                part[has, block[has]] = 1.0
            else:
                part[:] = values[rows]
                part /= np.maximum(part.sum(axis=1, keepdims=True), 1.0)
            j += kb
        return x

    def standardise(self) -> None:
        """Learn each column's mean and deviation (a deviation under 1e-9 taken as 1e-9)."""
        if self.width < 2 or self.n <= CHUNK_ROWS:  # summed along one column NumPy sums pairwise
            x = self.raw(slice(None))
            self.mean, self.deviation = x.mean(axis=0), np.maximum(x.std(axis=0), 1e-9)
            if self.n <= CHUNK_ROWS:
                self._one_chunk = self._standardised(x)
            return
        self.mean = _summed(self.raw(s) for s in self._chunks()) / self.n
        deviation = np.sqrt(_summed(np.square(self.raw(s) - self.mean) for s in self._chunks()) / self.n)
        self.deviation = np.maximum(deviation, 1e-9)

    def rows(self, rows: slice | np.ndarray) -> np.ndarray:
        """The ``rows``, standardised (not to be written to)."""
        if self._one_chunk is not None:
            return self._one_chunk[rows]
        return self._standardised(self.raw(rows))

    def chunks(self) -> Iterator[np.ndarray]:
        """Every row, standardised, a chunk at a time (not to be written to)."""
        for rows in self._chunks():
            yield self.rows(rows)

    def _standardised(self, x: np.ndarray) -> np.ndarray:
        x -= self.mean
        x /= self.deviation
        return x

    def distinct_rows(self, at_most: int) -> int:
        """How many distinct rows there are, counted up to ``at_most``."""
        seen = np.zeros((0, self.width))
        for chunk in self.chunks():
            for start in range(0, len(chunk), 4_096):  # most tables have enough in their first rows
                seen = np.unique(np.concatenate([seen, chunk[start : start + 4_096]]), axis=0)
                if len(seen) >= at_most:
                    return at_most
        return max(1, len(seen))

    def _chunks(self) -> Iterator[slice]:
        for start in range(0, self.n, CHUNK_ROWS):
            yield slice(start, min(start + CHUNK_ROWS, self.n))


def _summed(chunks: Iterator[np.ndarray]) -> np.ndarray:
    """The column sums of the rows of ``chunks``, added row after row as NumPy adds a matrix's columns
    (each chunk's sum starts from the sum so far)."""
    total = None
    for chunk in chunks:
        total = np.add.reduce(chunk if total is None else np.concatenate([total[None], chunk]), axis=0)
    assert total is not None
    return total


__all__ = ["CHUNK_ROWS", "BlockFeatures"]
