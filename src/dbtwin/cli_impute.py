"""``dbtwin impute``: fill the NULL cells of a database with a fitted model (registered by :mod:`dbtwin.cli`)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from dbtwin import cli_support as check
from dbtwin.cli_support import guard, text
from dbtwin.io.locations import display

console = Console()


def impute(
    source: Annotated[
        str, typer.Argument(help="The database with NULL cells (same forms as a source). Never written.")
    ],
    model: Annotated[Path, typer.Option("--model", help="A model directory written by `dbtwin fit`.")],
    out: Annotated[
        str, typer.Option("--out", help="Where the filled database goes: a SQLite file, a URL or a directory.")
    ],
    columns: Annotated[
        list[str] | None,
        typer.Option(
            "--columns",
            help="Fill only these columns' NULL cells, as table.column (comma-separated or repeated; "
            "default: every column the model generates or computes).",
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed.")] = None,
    draws: Annotated[
        int,
        typer.Option(
            "--draws",
            help="1: one draw per cell, keeping the values' spread. k > 1: each cell's best guess from k draws "
            "(the mean of numbers and dates, the most frequent value otherwise); k times the time.",
        ),
    ] = 1,
    rounds: Annotated[
        int | None,
        typer.Option(
            "--rounds",
            help="Times each reverse step denoises the numbers to fill, noised back between rounds (RePaint's "
            "resampling): they agree better with the known cells around them; each round costs one more pass "
            "(default: 3).",
        ),
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite what the destination holds.")] = False,
    file_format: Annotated[str, typer.Option("--format", help="Directory file format: parquet or csv.")] = "parquet",
) -> None:
    """Fill the NULL cells of a database with values drawn conditioned on every known cell of the row and
    of its neighbourhood; known cells, keys and row counts stay as they are."""
    from dbtwin.sources import preflight_destination, read, write
    from dbtwin.synthesizer import Synthesizer

    with guard():
        check.choice("--format", file_format, ("parquet", "csv"))
        check.seed(seed)
        check.positive("--draws", draws, integer=True)
        if rounds is not None:
            check.positive("--rounds", rounds, integer=True)
        names = check.listed(columns) or None
        preflight_destination(out, replace, protect=[model, source])
        synth = Synthesizer.load(model)
        db = read(source, tables=synth.schema_.table_names)
        started = time.monotonic()
        with check.cli_names():
            repaint = {} if rounds is None else {"rounds": rounds}
            filled = synth.impute(db, columns=names, random_state=seed, draws=draws, **repaint)
        seconds = time.monotonic() - started
        write(filled, out, replace=replace, file_format=file_format, protect=[model, source])  # type: ignore[arg-type]
    cells = sum(int(db[t].isna().sum().sum() - filled[t].isna().sum().sum()) for t in db.schema.table_names)
    console.print(
        f"filled {cells:,} NULL cells in {seconds:.1f} s; wrote {len(filled.tables)} tables to {text(display(out))}"
    )


__all__ = ["impute"]
