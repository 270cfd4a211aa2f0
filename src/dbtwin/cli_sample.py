"""The drawing and writing behind ``dbtwin sample`` (:mod:`dbtwin.cli`): one sample, or one in shards
spooled beside the destination and written a shard at a time, the spool removed whatever happens."""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from typing import Any

from dbtwin import cli_support as check
from dbtwin.database import Database
from dbtwin.io.shards import Sharded, spool_folder
from dbtwin.progress import Phase
from dbtwin.sources import write


def draw_and_write(
    synth: Any,
    out: str,
    scale: float,
    seed: int | None,
    shards: int,
    given: tuple[Database | None, Sequence[str]],
    writes: bool,
    **write_options: Any,
) -> tuple[Database | Sharded, float]:
    """The sample (around the ``given`` rows of the tables named, or in ``shards``) and the seconds it
    took to draw; written to ``out`` with ``write_options`` where this process ``writes``."""
    source, names = given
    started = time.monotonic()
    spool = spool_folder(out) if shards > 1 else None
    try:
        with check.cli_names():
            db = (
                synth.sample_shards(spool, scale, shards, random_state=seed)
                if spool
                else synth.sample(scale=scale, random_state=seed, given=source, given_tables=list(names) or None)
            )
        seconds = time.monotonic() - started
        if writes:
            with Phase("writing", db.total_rows):
                write(db, out, **write_options)
    finally:
        if spool:
            shutil.rmtree(spool, ignore_errors=True)
    return db, seconds


__all__ = ["draw_and_write"]
