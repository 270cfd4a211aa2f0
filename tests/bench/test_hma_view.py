"""The view of a schema given to HMA, and the way back: with HMA's own sample replaced by the
view's frames, restoring must give back the real database (self-references aside)."""

from __future__ import annotations

import pandas as pd

from dbtwin import datasets
from dbtwin.bench.hma import KEY, hma_view, restore
from dbtwin.schema.sdv import schema_to_sdv
from tests.conftest import assert_same_database


def test_bakeoff_round_trip():
    db = datasets.load("bakeoff")
    view = hma_view(db)
    # one-column keys only, for SDV
    assert all(len(t.primary_key) <= 1 for t in view.schema.tables.values())
    assert all(len(fk.columns) == 1 for fk in view.schema.foreign_keys)
    assert view.schema.table("episodes").primary_key == (KEY,)
    assert "series" not in view.frames["challenges"].columns  # restored from the parents
    metadata, notes = schema_to_sdv(view.schema, drop_unsupported=True)
    assert not notes and len(metadata["relationships"]) == len(db.schema.foreign_keys)
    assert not any(
        isinstance(s.dtype, pd.api.extensions.ExtensionDtype)
        for f in view.frames.values()
        for s in (f[c] for c in f.columns)
        if pd.api.types.is_numeric_dtype(s.dtype)
    )
    back = restore(view, view.frames)
    assert_same_database(db, back)


def test_chinook_self_reference_dropped(chinook):
    view = hma_view(chinook)
    assert any("self-reference dropped" in n for n in view.notes)
    assert "reports_to" not in view.frames["employee"].columns
    back = restore(view, view.frames)
    assert back["employee"]["reports_to"].isna().all()
    for name in chinook.schema.table_names:
        if name != "employee":
            pd.testing.assert_frame_equal(back[name], chinook[name])


def test_flights_key_shared_with_a_composite_key(flights_jan):
    """flights.origin is its own key to airports and part of (origin, time_hour) -> weather: HMA
    keeps seeing it, and the way back gives the real rows."""
    from dbtwin.validate import resolve_orphans

    db, _ = resolve_orphans(flights_jan, "drop")
    view = hma_view(db)
    assert "origin" in view.frames["flights"].columns and "time_hour" not in view.frames["flights"].columns
    assert_same_database(db, restore(view, view.frames))
