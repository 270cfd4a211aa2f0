"""Entity tasks that ship with dbtwin, each on an offline dataset (:mod:`dbtwin.datasets`)."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from dbtwin.database import Database
from dbtwin.predict.task import EntityTask

#: task name -> (dataset name, options of the dataset's loader)
BUNDLED: dict[str, tuple[str, dict[str, Any]]] = {
    "lahman-allstar": ("lahman", {"since": 1990}),
    "lahman-team-wins": ("lahman", {"since": 1990}),
    "nycflights13-plane-delay": ("nycflights13", {}),
}


def load_task(name: str) -> EntityTask:
    """A bundled task by name."""
    if name not in BUNDLED:
        raise KeyError(f"unknown task '{name}'; bundled tasks: {', '.join(BUNDLED)}")
    return EntityTask.load(str(files("dbtwin.predict") / "tasks" / f"{name}.json"))


def load_task_database(name: str) -> Database:
    """The database a bundled task runs on, orphans dropped (as the synthesizer would see it)."""
    from dbtwin import datasets
    from dbtwin.validate import resolve_orphans

    dataset, options = BUNDLED[name]
    db, _ = resolve_orphans(datasets.load(dataset, **options), "drop")
    return db
