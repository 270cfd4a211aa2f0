"""The sampling passes' memory budget: what it is by default, and the rows a pass may hold in it."""

from __future__ import annotations

from dbtwin.nn.device import freed_memory_reused, physical_memory
from dbtwin.synthesizer.memory import (
    BYTES_OUTSIDE_PASSES,
    GRAPH_BYTES_PER_HIDDEN,
    MIN_CHUNK_ROWS,
    PASS_BYTES_PER_HIDDEN,
    chunk_rows,
    pass_budget,
    pass_rows,
    sample_bytes,
)


def test_the_budget_is_the_given_gib_or_a_quarter_of_the_machine():
    assert pass_budget(1.5) == int(1.5 * 2**30)
    assert pass_budget(None) == physical_memory() // 4 or pass_budget(None) == 4 * 2**30


def test_rows_a_pass_may_hold_follow_the_budget_and_width():
    assert pass_rows(1_000 * PASS_BYTES_PER_HIDDEN * 64, 64) == 1_000
    assert pass_rows(1_000 * PASS_BYTES_PER_HIDDEN * 64, 128) == 500
    assert pass_rows(1, 64) == 1  # never less than one row


def test_layer_wise_chunks_take_what_the_state_matrices_leave():
    per_row = (PASS_BYTES_PER_HIDDEN - GRAPH_BYTES_PER_HIDDEN) * 64
    whole = 100_000 * GRAPH_BYTES_PER_HIDDEN * 64
    assert chunk_rows(100_000, 100_000 * PASS_BYTES_PER_HIDDEN * 64, 64) == 100_000  # the whole pass fits: one chunk
    assert chunk_rows(100_000, whole + 5_000 * per_row, 64) == 5_000
    assert chunk_rows(100_000, whole + (MIN_CHUNK_ROWS - 1) * per_row, 64) == 0  # too small: batches instead
    assert chunk_rows(100_000, whole // 2, 64) == 0  # the state matrices alone do not fit
    assert chunk_rows(10, 10 * PASS_BYTES_PER_HIDDEN * 64, 64) == 10  # a graph smaller than a chunk


def test_a_sample_needs_its_rows_and_at_most_the_budget_for_its_passes():
    small = sample_bytes(1_000, 64, 1.0)  # one pass over every row fits the budget
    assert small == 1_000 * (BYTES_OUTSIDE_PASSES + PASS_BYTES_PER_HIDDEN * 64)
    large = sample_bytes(10_000_000, 64, 2.0)  # passes bounded by the budget
    assert large == 10_000_000 * BYTES_OUTSIDE_PASSES + 2 * 2**30


def test_freed_memory_reused_leaves_tensors_intact_and_nests():
    import torch

    with freed_memory_reused(), freed_memory_reused():  # the inner block does nothing
        big = torch.ones(10_000_000)
        del big
        again = torch.arange(10_000_000, dtype=torch.float32)
        assert float(again[-1]) == 9_999_999.0
