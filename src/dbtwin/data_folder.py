"""Where the benchmark databases beyond the bundled ones are read from (GRDM's F1 tables, Berka,
rel-f1): a folder never copied into the project, found here by the benchmark and by the tasks that run
on those databases."""

from __future__ import annotations

import os
from pathlib import Path


def bench_data_folder() -> Path | None:
    """The benchmark data folder: ``DBTWIN_BENCH_DATA``, else ``shared/data`` beside the project's
    root (found from the working directory or from this package's source tree)."""
    named = os.environ.get("DBTWIN_BENCH_DATA")
    if named:
        return Path(named) if Path(named).is_dir() else None
    for root in (Path.cwd(), Path(__file__).resolve().parents[2]):
        folder = root.parent / "shared" / "data"
        if folder.is_dir():
            return folder
    return None


__all__ = ["bench_data_folder"]
