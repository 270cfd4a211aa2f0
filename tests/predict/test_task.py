"""Declared tasks: examples from the SQL query, the split by time, JSON round trip, clear errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dbtwin.errors import SchemaError
from dbtwin.predict import EntityTask
from dbtwin.predict.tasks import BUNDLED, load_task

from .conftest import CHINOOK_CHURN


def test_examples_match_the_invoices(chinook, chinook_task):
    ex = chinook_task.examples(chinook)
    assert len(ex) > 1000 and set(np.unique(ex.labels)) == {0.0, 1.0}
    invoices = chinook["invoice"]
    keys = chinook["customer"]["customer_id"].to_numpy()
    for i in np.random.default_rng(0).choice(len(ex), 50, replace=False):
        moment = pd.Timestamp(ex.times[i])
        mine = invoices[invoices["customer_id"] == keys[ex.entity_rows[i]]]["invoice_date"]
        bought = ((mine > moment) & (mine <= moment + pd.Timedelta(days=90))).any()
        assert ex.labels[i] == float(bought)


def test_windows_never_cross_a_cut_off(chinook, chinook_task):
    ex = chinook_task.examples(chinook)
    val, test = np.datetime64("2010-06-01"), np.datetime64("2011-01-01")
    window = np.timedelta64(90, "D")
    assert (ex.subset("train").times + window <= val).all()
    assert ((ex.subset("val").times >= val) & (ex.subset("val").times + window <= test)).all()
    assert (ex.subset("test").times >= test).all()
    assert all(s["examples"] > 0 for s in ex.summary().values())


def test_json_round_trip(tmp_path, chinook_task):
    path = tmp_path / "task.json"
    path.write_text(json.dumps(chinook_task.to_dict()))
    assert EntityTask.load(path) == chinook_task


def test_bundled_tasks_load():
    for name in BUNDLED:
        task = load_task(name)
        assert task.name == name and task.query


def test_errors_name_what_is_wrong(chinook, chinook_task):
    with pytest.raises(SchemaError, match=r"'playlist_track'.*one-column primary key"):
        EntityTask.from_dict({**CHINOOK_CHURN, "entity_table": "playlist_track"}).examples(chinook)
    with pytest.raises(SchemaError, match="unknown entity table 'clients'"):
        EntityTask.from_dict({**CHINOOK_CHURN, "entity_table": "clients"}).examples(chinook)
    with pytest.raises(ValueError, match="missing"):
        EntityTask.from_dict({**CHINOOK_CHURN, "query": "SELECT 1 AS entity"}).examples(chinook)
    with pytest.raises(ValueError, match="query failed"):
        EntityTask.from_dict({**CHINOOK_CHURN, "query": "SELECT * FROM nowhere"}).examples(chinook)
    bad = "SELECT customer_id + 1000 AS entity, TIMESTAMP '2008-01-01' AS timestamp, 1 AS label FROM customer"
    with pytest.raises(ValueError, match=r"not in 'customer\.customer_id'"):
        EntityTask.from_dict({**CHINOOK_CHURN, "query": bad}).examples(chinook)
    with pytest.raises(SchemaError, match=r"'customer\.shoe_size'"):
        EntityTask.from_dict({**CHINOOK_CHURN, "drop_columns": {"customer": ["shoe_size"]}}).examples(chinook)
    with pytest.raises(ValueError, match="unknown task field"):
        EntityTask.from_dict({**CHINOOK_CHURN, "window": 3})
    with pytest.raises(ValueError, match="before test_timestamp"):
        EntityTask.from_dict({**CHINOOK_CHURN, "val_timestamp": "2012-01-01"})


def test_dropping_more_columns_keeps_each_once():
    task = EntityTask.from_dict({**CHINOOK_CHURN, "drop_columns": {"customer": ["email"]}})
    more = task.dropping({"customer": ["email", "phone"], "invoice": ["total"]})
    assert more.drop_columns == {"customer": ["email", "phone"], "invoice": ["total"]}
    assert task.drop_columns == {"customer": ["email"]}  # the original is unchanged
