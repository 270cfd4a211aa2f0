"""MOSTLY AI's open-source SDK (TabularARGN, local mode, CPU) as a benchmark peer.

MOSTLY AI wants what HMA wants, one-column keys and no self-references, so it is given the same view
of the schema (:func:`dbtwin.bench.hma.hma_view`: composite keys joined into one column and split
back after sampling, self-references dropped and sampled as NULL). On top of that it takes at most
one *context* foreign key per table (the child is generated as a sequence per parent row); the
others are matched afterwards by extra models. Each table's context is its key to its largest parent,
when that parent has enough rows for MOSTLY AI's validation split (a parent of 8 rows gives a
validation set of one sequence, on which its training fails), and when it closes no cycle of context
keys.

MOSTLY AI runs in an environment of its own (it pins packages dbtwin does not need, and PyPI's
torchvision, which it pulls, fails to import beside the CPU build of torch): ``scripts/setup-mostly.sh``
makes ``.venv-mostly``; ``DBTWIN_MOSTLY_PYTHON`` names another interpreter. The worker script
:mod:`dbtwin.bench.mostly_worker` is run by that interpreter on Parquet files, with a wall-clock
limit that covers its table models *and* its foreign-key models (which have no time cap of their own).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dbtwin.bench.hma import HmaView, hma_view, restore
from dbtwin.database import Database
from dbtwin.schema.model import ForeignKey, StorageType

#: A context parent needs this many rows: MOSTLY AI splits the parent's sequences for validation.
MIN_CONTEXT_ROWS = 50
WORKER = Path(__file__).with_name("mostly_worker.py")


class MostlyUnavailableError(RuntimeError):
    """The MOSTLY AI environment is not set up."""


@dataclass
class MostlyPlan:
    """The tables MOSTLY AI is given (its ``config["tables"]`` without the data) and the view behind them."""

    view: HmaView
    tables: list[dict]
    notes: list[str] = field(default_factory=list)


def mostly_plan(db: Database, minutes_per_table: float) -> MostlyPlan:
    """The MOSTLY AI configuration of ``db`` (see the module's description)."""
    view = hma_view(db)
    schema = view.schema
    rows = {t: len(f) for t, f in view.frames.items()}
    context: dict[str, ForeignKey] = {}  # child -> its context key

    def closes_cycle(child: str, parent: str) -> bool:
        node = parent
        while node in context:
            node = context[node].parent
            if node == child:
                return True
        return node == child

    notes = list(view.notes)
    for table in schema.table_names:
        keys = [fk for fk in schema.foreign_keys if fk.child == table]
        for fk in sorted(keys, key=lambda fk: -rows[fk.parent]):
            if rows[fk.parent] < MIN_CONTEXT_ROWS:
                notes.append(
                    f"{fk}: not a context key (its parent has {rows[fk.parent]} rows, fewer than {MIN_CONTEXT_ROWS})"
                )
                break
            if not closes_cycle(table, fk.parent):
                context[table] = fk
                break
    tables = []
    for name, t in schema.tables.items():
        entry: dict = {
            "name": name,
            "tabular_model_configuration": {"max_training_time": minutes_per_table, "enable_model_report": False},
        }
        if t.primary_key:
            entry["primary_key"] = t.primary_key[0]
        fks = [
            {"column": fk.columns[0], "referenced_table": fk.parent, "is_context": fk is context.get(name)}
            for fk in schema.foreign_keys
            if fk.child == name
        ]
        if fks:
            entry["foreign_keys"] = fks
        tables.append(entry)
    return MostlyPlan(view, tables, notes)


def mostly_python() -> Path:
    """The interpreter of the MOSTLY AI environment."""
    path = Path(os.environ.get("DBTWIN_MOSTLY_PYTHON", ".venv-mostly/bin/python"))
    if not path.exists():
        raise MostlyUnavailableError(
            f"MOSTLY AI is not set up ({path} is missing): run scripts/setup-mostly.sh or set DBTWIN_MOSTLY_PYTHON"
        )
    return path


def fit_and_sample_mostly(
    db: Database, seed: int, max_minutes: float, timeout: float, threads: int
) -> tuple[Database, float, list[str]]:
    """MOSTLY AI's twin of ``db`` and the seconds it took (training and generation together; the SDK
    does not separate them for the foreign-key models). Raises ``TimeoutError`` past ``timeout`` seconds."""
    python = mostly_python()
    plan = mostly_plan(db, max(max_minutes / len(db.schema.table_names), 0.1))
    with tempfile.TemporaryDirectory(prefix="dbtwin-mostly-") as tmp:
        work = Path(tmp)
        (work / "in").mkdir()
        for i, entry in enumerate(plan.tables):
            plan.view.frames[entry["name"]].to_parquet(work / "in" / f"{i}.parquet", index=False)
        (work / "plan.json").write_text(json.dumps({"tables": plan.tables, "seed": seed}))
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        started = time.monotonic()
        # its own process group, so that a timeout stops the processes MOSTLY AI starts as well
        worker = subprocess.Popen(
            [str(python), str(WORKER), str(work)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            start_new_session=True,
        )
        try:
            stdout, stderr = worker.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.communicate()
            raise TimeoutError(f"MOSTLY AI ran past the time limit of {timeout:.0f} s") from None
        finally:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
        seconds = time.monotonic() - started
        if worker.returncode != 0:
            tail = (stderr or stdout).strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"MOSTLY AI failed (exit code {worker.returncode}): {tail[0][:500]}")
        sampled = {entry["name"]: pd.read_parquet(work / "out" / f"{i}.parquet") for i, entry in enumerate(plan.tables)}
    return restore(plan.view, renumbered(plan, sampled)), seconds, plan.notes


def renumbered(plan: MostlyPlan, sampled: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """MOSTLY AI's sample with its generated keys (text such as ``mostly1b-1d63-...``) replaced by
    row numbers where the real key is an integer, and every foreign key mapped the same way (a value
    that names no parent row becomes NULL)."""
    schema = plan.view.schema
    frames = {t: f.copy() for t, f in sampled.items()}
    mapping: dict[str, pd.Series] = {}
    for name, table in schema.tables.items():
        if len(table.primary_key) != 1 or table.column(table.primary_key[0]).dtype != StorageType.INT64:
            continue
        key = table.primary_key[0]
        values = frames[name][key]
        mapping[name] = pd.Series(range(1, len(values) + 1), index=pd.Index(values), dtype="int64")
        frames[name][key] = mapping[name].to_numpy()
    for fk in schema.foreign_keys:
        if fk.parent in mapping:
            column = fk.columns[0]
            lookup = mapping[fk.parent][~mapping[fk.parent].index.duplicated()]
            frames[fk.child][column] = frames[fk.child][column].map(lookup).astype("Int64")
    return frames
