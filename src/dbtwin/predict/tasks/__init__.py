"""Entity tasks that ship with dbtwin: each on an offline dataset (:mod:`dbtwin.datasets`), or on a
benchmark database given on the command line (RelBench's rel-f1 tasks; :data:`SHARED`)."""

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

#: task name -> the folder in the benchmark data folder (``../shared/data``) its database is read from
#: when none is given: RelBench's rel-f1 tasks, defined as RelBench defines them
SHARED: dict[str, str] = {
    "rel-f1-driver-dnf": "rel-f1",
    "rel-f1-driver-top3": "rel-f1",
    "rel-f1-driver-position": "rel-f1",
}

#: every task that ships with dbtwin
TASKS = (*BUNDLED, *SHARED)


def load_task(name: str) -> EntityTask:
    """A bundled task by name."""
    if name not in TASKS:
        raise KeyError(f"unknown task '{name}'; bundled tasks: {', '.join(TASKS)}")
    return EntityTask.load(str(files("dbtwin.predict") / "tasks" / f"{name}.json"))


def load_task_database(name: str) -> Database:
    """The database a bundled task runs on, orphans dropped (as the synthesizer would see it); a
    :data:`SHARED` task's from the benchmark data folder, where there is one."""
    from dbtwin import datasets
    from dbtwin.validate import resolve_orphans

    if name in SHARED:
        from dbtwin.data_folder import bench_data_folder
        from dbtwin.errors import DbtwinError
        from dbtwin.sources import read

        folder = bench_data_folder()
        if folder is None or not (folder / SHARED[name]).is_dir():
            raise DbtwinError(
                f"task '{name}' runs on {SHARED[name]}, which is not in the benchmark data folder: give it"
            )
        return read(folder / SHARED[name])

    dataset, options = BUNDLED[name]
    db, _ = resolve_orphans(datasets.load(dataset, **options), "drop")
    return db
