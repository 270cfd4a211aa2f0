"""Benchmarks: dbtwin, its ablations and SDV's HMASynthesizer on real databases, side by side.

``run_benchmark`` fits and samples every method on every dataset and seed (each fit in its own
process, so time limits hold and peak memory is per run), evaluates each sample against the
training split with a hold-out, and writes one JSON file per run; ``write_report`` turns the runs
into ``docs/benchmarks.md`` with tables and plots. ``dbtwin bench`` runs both.
"""

from dbtwin.bench.methods import METHODS
from dbtwin.bench.runner import BenchConfig, run_benchmark
from dbtwin.bench.suite import DATASETS, BenchDataset

__all__ = ["DATASETS", "METHODS", "BenchConfig", "BenchDataset", "run_benchmark"]
