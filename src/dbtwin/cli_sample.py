"""The drawing and writing behind ``dbtwin sample`` (:mod:`dbtwin.cli`): one sample, or one in shards
spooled beside the destination and written a shard at a time, the spool removed whatever happens
(an error, Ctrl-C, or a SIGTERM such as torchrun sends the other ranks when one fails). Under torchrun
rank 0 makes the spool, every rank draws its shards into it, and rank 0 writes and removes it."""

from __future__ import annotations

import shutil
import signal
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dbtwin import cli_support as check
from dbtwin.database import Database
from dbtwin.errors import OptionError
from dbtwin.io.shards import Sharded, spool_folder
from dbtwin.nn import distributed
from dbtwin.progress import Phase
from dbtwin.sources import write


def draw_and_write(
    synth: Any,
    out: str,
    scale: float,
    seed: int | None,
    shards: int,
    given: tuple[Database | None, Sequence[str]],
    **write_options: Any,
) -> tuple[Database | Sharded | None, float]:
    """The sample (around the ``given`` rows of the tables named, or in ``shards``) and the seconds it
    took to draw; written to ``out`` with ``write_options`` by rank 0 (the others get None in shards)."""
    source, names = given
    started = time.monotonic()
    here = distributed.world()
    with _removed_on_sigterm() as stop:
        spool = _spool(out, here) if shards > 1 else None
        try:
            if spool and here.any(not spool.is_dir()):  # before any work: each rank spools its shards there
                raise OptionError(
                    "--shards",
                    f"the spool folder rank 0 made ({spool}) is not seen by every process: processes on several "
                    "machines need the destination on a file system they share",
                )
            with check.cli_names():
                db = (
                    synth.sample_shards(spool, scale, shards, random_state=seed)
                    if spool
                    else synth.sample(scale=scale, random_state=seed, given=source, given_tables=list(names) or None)
                )
            seconds = time.monotonic() - started
            stop.check()  # a SIGTERM whose exception library code swallowed still writes nothing
            if here.is_main:
                with Phase("writing", db.total_rows):
                    write(db, out, **write_options)
        finally:
            if spool and here.is_main:
                shutil.rmtree(spool, ignore_errors=True)
    return db, seconds


def _spool(out: str, here: distributed.World) -> Path:
    """The spool's folder: made by rank 0, the same path on every rank."""
    return Path(here.from_main(str(spool_folder(out)) if here.is_main else None))


class _Termination:
    """Whether a SIGTERM came. Its handler raises KeyboardInterrupt wherever Python happens to be, and
    C code that calls back into Python (an attribute lookup, a finaliser) may clear that exception
    unseen: :meth:`check` raises it again at a point where it cannot be lost."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def handler(self, signum: int, _frame: object) -> None:
        self.signum = signum
        raise KeyboardInterrupt(f"signal {signum}")

    def check(self) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt(f"signal {self.signum}")


@contextmanager
def _removed_on_sigterm() -> Iterator[_Termination]:
    """Within it, SIGTERM ends the process as Ctrl-C does: through the ``finally`` blocks."""
    stop = _Termination()
    try:
        before = signal.signal(signal.SIGTERM, stop.handler)
    except ValueError:  # not the main thread: signals stay as they are
        yield stop
        return
    try:
        yield stop
    finally:
        signal.signal(signal.SIGTERM, before)


__all__ = ["draw_and_write"]
