"""Entity tasks, declared rather than coded (RelBench's formulation).

A task names an entity table, a prediction window and a SQL query over the database that yields one
row per example: ``entity`` (the entity's primary-key value), ``timestamp`` (the moment the
prediction is made) and ``label`` (what happens in the window after it). The query runs in DuckDB
with every table of the database registered under its own name, plus a table ``timestamps`` with one
column ``timestamp``: the moments at which examples are made. ``{window_days}`` in the query text is
replaced by the window.

Examples are split by time: training examples whose window closes by ``val_timestamp``, validation
examples made from ``val_timestamp`` on whose window closes by ``test_timestamp``, test examples made
from ``test_timestamp`` on. A model for an example at time *t* may only see rows whose time is at or
before *t* (:mod:`dbtwin.predict.times` says when each row became known).

A task is stored as JSON::

    {"name": "plane-delay", "entity_table": "planes", "task_type": "binary",
     "window_days": 7, "timestamps": {"start": "2013-01-01", "end": "2013-12-24", "every_days": 7},
     "val_timestamp": "2013-10-01", "test_timestamp": "2013-11-15",
     "row_times": {}, "query": "SELECT ..."}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dbtwin.database import Database
from dbtwin.errors import InvalidFileError, SchemaError
from dbtwin.jsonfile import read_json


class TaskType(StrEnum):
    BINARY = "binary"
    REGRESSION = "regression"
    MULTICLASS = "multiclass"


SPLITS = ("train", "val", "test")


@dataclass
class EntityTask:
    """A prediction task over the rows of ``entity_table``.

    Attributes:
        name: a short name (file names, reports).
        entity_table: the table whose rows are predicted for; it needs a one-column primary key.
        task_type: binary classification, regression or multiclass classification.
        query: DuckDB SQL giving ``entity``, ``timestamp`` and ``label`` (see the module docstring).
        window_days: length of the prediction window after each timestamp.
        timestamps: ``start``, ``end`` (ISO dates) and ``every_days`` or ``freq`` (a pandas frequency
            such as ``"YS"``, every 1 January): the moments examples are made. Or ``every_days`` and
            ``eval_count`` alone, RelBench's schedule (:meth:`EntityTask.split_grids`): training moments
            step back from ``val_timestamp`` to the database's first row time, validation and test
            moments step forward from their cut-offs, ``eval_count`` of each at most.
        val_timestamp: first moment of the validation period.
        test_timestamp: first moment of the test period.
        row_times: per table, a SQL expression over its columns giving the moment each row became
            known (for example ``make_date(yearID, 12, 31)`` for season statistics); tables not
            named use their schema time column, and tables with neither are static (always visible).
        drop_columns: per table, columns the model must not see because a static row holds them
            from the future (a player's last game, a death date).
        description: what the task predicts, in words.
        cut_at_test: compute training and validation labels on the database cut at
            ``test_timestamp`` (every timed row after it left out), test labels on the whole database,
            as RelBench does: a query that looks past its window cannot see the test period.
    """

    name: str
    entity_table: str
    task_type: TaskType
    query: str
    window_days: float
    timestamps: dict[str, Any]
    val_timestamp: str
    test_timestamp: str
    row_times: dict[str, str] = field(default_factory=dict)
    drop_columns: dict[str, list[str]] = field(default_factory=dict)
    description: str = ""
    cut_at_test: bool = False

    def __post_init__(self) -> None:
        self.task_type = TaskType(self.task_type)
        if self.relative:
            extra = sorted(set(self.timestamps) - {"every_days", "eval_count"})
            if extra or "every_days" not in self.timestamps:
                raise ValueError(f"task '{self.name}': timestamps with 'eval_count' takes 'every_days' and no {extra}")
            count = self.timestamps["eval_count"]
            if not isinstance(count, int) or isinstance(count, bool) or count < 1:
                raise ValueError(f"task '{self.name}': 'eval_count' must be a whole number of at least 1")
        else:
            for key in ("start", "end"):
                if key not in self.timestamps:
                    raise ValueError(f"task '{self.name}': timestamps needs '{key}'")
        if ("every_days" in self.timestamps) == ("freq" in self.timestamps):
            raise ValueError(f"task '{self.name}': timestamps needs one of 'every_days' and 'freq'")
        if "every_days" in self.timestamps and not float(self.timestamps["every_days"]) > 0:
            raise ValueError(f"task '{self.name}': 'every_days' must be above 0")
        if pd.Timestamp(self.val_timestamp) >= pd.Timestamp(self.test_timestamp):
            raise ValueError(f"task '{self.name}': val_timestamp must come before test_timestamp")

    # ------------------------------------------------------------------ JSON
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EntityTask:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown task field(s) {unknown}; known: {sorted(known)}")
        return cls(**data)

    @classmethod
    def load(cls, path: str | Path) -> EntityTask:
        """A task from its JSON file; anything malformed is an :class:`InvalidFileError` naming the file."""
        data = read_json(path, "task file")
        if not isinstance(data, dict):
            raise InvalidFileError(f"task file '{path}' must hold a JSON object")
        try:
            return cls.from_dict(data)
        except (TypeError, ValueError, KeyError) as exc:
            raise InvalidFileError(f"task file '{path}': {exc}") from None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["task_type"] = self.task_type.value
        return data

    def dropping(self, columns: Mapping[str, Sequence[str]]) -> EntityTask:
        """A copy of this task that also drops ``columns`` (per table), each column named once."""
        drop = {table: list(names) for table, names in self.drop_columns.items()}
        for table, names in columns.items():
            kept = drop.setdefault(table, [])
            kept.extend(name for name in names if name not in kept)
        return replace(self, drop_columns=drop)

    # ------------------------------------------------------------------ examples
    @property
    def relative(self) -> bool:
        """Whether the moments follow RelBench's schedule around the cut-offs (``eval_count``)."""
        return "eval_count" in self.timestamps

    def timestamp_grid(self) -> pd.DatetimeIndex:
        """The moments of a fixed schedule (``start`` to ``end``)."""
        if self.relative:
            raise ValueError(f"task '{self.name}': its moments depend on the database (see split_grids)")
        if "freq" in self.timestamps:  # a pandas frequency: "YS" (each 1 January), "MS", "7D"
            step = self.timestamps["freq"]
        else:
            step = pd.Timedelta(days=float(self.timestamps["every_days"]))
        return pd.date_range(pd.Timestamp(self.timestamps["start"]), pd.Timestamp(self.timestamps["end"]), freq=step)

    def split_grids(self, first: pd.Timestamp, last: pd.Timestamp) -> dict[str, pd.DatetimeIndex]:
        """RelBench's moments per split, for a database whose row times run from ``first`` to ``last``:
        training moments from ``val_timestamp`` minus the window back to ``first``, in steps of the
        window; validation moments from ``val_timestamp`` and test moments from ``test_timestamp``
        forward, ``eval_count`` at most, each window closing by the next cut-off (the test ones by
        ``last``)."""
        window = pd.Timedelta(days=float(self.timestamps["every_days"]))
        count = int(self.timestamps["eval_count"])
        val, test = pd.Timestamp(self.val_timestamp), pd.Timestamp(self.test_timestamp)
        return {
            "train": pd.date_range(val - window, first, freq=-window),
            "val": pd.date_range(val, min(val + (count - 1) * window, test - window), freq=window),
            "test": pd.date_range(test, min(test + (count - 1) * window, last - window), freq=window),
        }

    def check(self, db: Database) -> None:
        """Raise a :class:`SchemaError` naming the table at fault if the task does not fit ``db``."""
        if self.entity_table not in db.schema.tables:
            raise SchemaError(
                f"task '{self.name}': unknown entity table '{self.entity_table}'", table=self.entity_table
            )
        pk = db.schema.table(self.entity_table).primary_key
        if len(pk) != 1:
            raise SchemaError(
                f"task '{self.name}': entity table '{self.entity_table}' needs a one-column primary key, "
                f"has {list(pk)}",
                table=self.entity_table,
            )
        for table in self.row_times:
            if table not in db.schema.tables:
                raise SchemaError(f"task '{self.name}': row_times names unknown table '{table}'", table=table)
        for table, columns in self.drop_columns.items():
            if table not in db.schema.tables:
                raise SchemaError(f"task '{self.name}': drop_columns names unknown table '{table}'", table=table)
            for col in columns:
                if not db.schema.table(table).has_column(col):
                    raise SchemaError(
                        f"task '{self.name}': drop_columns names unknown column '{table}.{col}'",
                        table=table,
                        column=col,
                    )

    def examples(self, db: Database) -> TaskExamples:
        """Run the task's query on ``db``: examples with entity row positions, split by time."""
        from dbtwin.predict.times import row_times, rows_until, time_span

        self.check(db)
        if not self.relative and not self.cut_at_test:
            return TaskExamples.build(self, db, self._labels(db, self.timestamp_grid()))
        times = row_times(db, self.row_times)
        early = rows_until(db, times, self.test_timestamp) if self.cut_at_test else db
        if self.relative:  # the cut leaves the first row time as it is
            grids = self.split_grids(*time_span(times))
            before, after = grids["train"].append(grids["val"]), grids["test"]
        else:
            grid, test = self.timestamp_grid(), pd.Timestamp(self.test_timestamp)
            before, after = grid[grid < test], grid[grid >= test]
        frames = [self._labels(early, before), self._labels(db, after)]
        return TaskExamples.build(self, db, pd.concat([f for f in frames if len(f)] or frames[:1], ignore_index=True))

    def _labels(self, db: Database, moments: pd.DatetimeIndex) -> pd.DataFrame:
        """The query's rows on ``db`` for the examples made at ``moments``."""
        import duckdb

        con = duckdb.connect()
        try:
            for table in db.schema.table_names:
                con.register(table, db[table])
            con.register("timestamps", pd.DataFrame({"timestamp": moments.sort_values()}))
            sql = self.query.replace("{window_days}", _number(self.window_days))
            try:
                frame = con.execute(sql).df()
            except duckdb.Error as exc:
                raise ValueError(f"task '{self.name}': its query failed: {exc}") from exc
        finally:
            con.close()
        missing = {"entity", "timestamp", "label"} - set(frame.columns)
        if missing:
            raise ValueError(
                f"task '{self.name}': the query must return entity, timestamp and label; missing {missing}"
            )
        return frame


@dataclass
class TaskExamples:
    """The examples of a task on one database.

    Attributes:
        entity_rows: row position of each example's entity in the entity table.
        times: each example's timestamp (``datetime64[ns]``).
        labels: float labels (binary 0/1, regression values, multiclass class indices).
        split: "train", "val" or "test" per example.
        classes: for multiclass tasks, the label value of each class index.
    """

    entity_rows: np.ndarray
    times: np.ndarray
    labels: np.ndarray
    split: np.ndarray
    classes: list[Any] = field(default_factory=list)

    @classmethod
    def build(cls, task: EntityTask, db: Database, frame: pd.DataFrame) -> TaskExamples:
        pk = db.schema.table(task.entity_table).primary_key[0]
        keys = db[task.entity_table][pk]
        positions = pd.Series(np.arange(len(keys)), index=pd.Index(keys.to_numpy(dtype=object)))
        frame = frame.dropna(subset=["entity", "timestamp", "label"])
        rows = positions.reindex(pd.Index(frame["entity"].to_numpy(dtype=object))).to_numpy()
        unknown = np.isnan(rows)
        if unknown.any():
            sample = frame["entity"][unknown].iloc[:3].tolist()
            raise ValueError(
                f"task '{task.name}': {int(unknown.sum())} example(s) name entities that are not in "
                f"'{task.entity_table}.{pk}', e.g. {sample}"
            )
        times = pd.to_datetime(frame["timestamp"]).to_numpy(dtype="datetime64[ns]")
        classes: list[Any] = []
        if task.task_type == TaskType.MULTICLASS:
            codes, uniques = pd.factorize(frame["label"], sort=True)
            labels, classes = codes.astype(np.float64), list(uniques)
        else:
            labels = pd.to_numeric(frame["label"], errors="raise").to_numpy(dtype=np.float64)
            if task.task_type == TaskType.BINARY and not np.isin(labels, (0.0, 1.0)).all():
                raise ValueError(f"task '{task.name}': a binary task's labels must be 0 or 1")
        split = assign_split(task, times)
        keep = split != ""
        order = np.lexsort((rows[keep], times[keep]))
        return cls(
            rows[keep].astype(np.int64)[order],
            times[keep][order],
            labels[keep][order],
            split[keep][order],
            classes,
        )

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, split: str) -> TaskExamples:
        keep = self.split == split
        return TaskExamples(self.entity_rows[keep], self.times[keep], self.labels[keep], self.split[keep], self.classes)

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in SPLITS:
            part = self.subset(name)
            out[name] = {
                "examples": len(part),
                "label_mean": round(float(part.labels.mean()), 4) if len(part) else None,
            }
        return out


def assign_split(task: EntityTask, times: np.ndarray) -> np.ndarray:
    """'train', 'val', 'test' or '' (an example whose window crosses a cut-off) for each timestamp."""
    window = np.timedelta64(int(task.window_days * 86_400), "s")
    val = np.datetime64(pd.Timestamp(task.val_timestamp).to_datetime64(), "ns")
    test = np.datetime64(pd.Timestamp(task.test_timestamp).to_datetime64(), "ns")
    ends = times + window
    split = np.full(len(times), "", dtype=object)
    split[ends <= val] = "train"
    split[(times >= val) & (ends <= test)] = "val"
    split[times >= test] = "test"
    return split


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
