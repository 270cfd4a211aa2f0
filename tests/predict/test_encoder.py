"""The row encoder: quantile bins of numbers, and an encoding fitted on the past only (rows known
before the validation period), so that later values fall into the outer bins training saw."""

from __future__ import annotations

import numpy as np
import pytest

from dbtwin import Database
from dbtwin.predict import EntityTask
from dbtwin.predict.encoder import RowEncoder, quantile_edges
from dbtwin.predict.times import calendar_columns, known_before, row_times


def test_quantile_edges():
    assert quantile_edges(np.array([0.0, 1.0, 1.0, 0.0]), 16) == []  # two values: the number says it all
    assert quantile_edges(np.arange(5.0), 0) == []
    assert quantile_edges(np.array([1.0, 2.0, 4.0]), 16) == [1.5, 3.0]  # one bin per value
    skewed = np.r_[np.zeros(900), np.arange(1.0, 101.0)]
    edges = quantile_edges(skewed, 8)
    assert edges[0] == 0.5 and len(edges) == 7 and edges == sorted(set(edges))  # the zeros alone, then the tail
    codes = np.searchsorted(edges, np.arange(1.0, 101.0), side="right")
    assert np.bincount(codes)[1:].min() >= 10 and (codes >= 1).all()  # the tail split about evenly


def test_bins_single_out_each_hour_of_real_flights(flights_jan):
    encoder = RowEncoder(use_text=False, num_bins=32).fit(flights_jan)
    enc = encoder.tables["flights"]
    inputs = encoder.transform_table(flights_jan, "flights")
    assert len(enc.binned) == len(enc.bin_edges) and "hour" in enc.binned and "dep_delay" in enc.binned
    assert "year" not in enc.binned  # one value in January
    j = len(enc.categorical) + enc.binned.index("hour")
    hours = flights_jan["flights"]["hour"].to_numpy()
    codes = inputs.codes[:, j]
    assert len(np.unique(hours)) == len(np.unique(codes))  # 19 hours, 19 bins
    assert all(len(np.unique(codes[hours == h])) == 1 for h in np.unique(hours))
    assert (inputs.codes <= np.asarray(enc.cardinalities)).all() and inputs.codes.min() >= 0
    # missing delays (cancelled flights) get code 0
    k = len(enc.categorical) + enc.binned.index("dep_delay")
    assert (codes := inputs.codes[:, k])[flights_jan["flights"]["dep_delay"].isna().to_numpy()].max() == 0
    assert codes.min() == 0 and codes.max() == enc.cardinalities[k]


def test_encoding_fitted_on_the_past_clips_the_future(flights_jan):
    times = row_times(flights_jan)
    known = known_before(times, "2013-01-16")
    assert 0 < known["flights"].mean() < 1 and "planes" not in known  # planes are static
    encoder = RowEncoder(use_text=False, num_bins=32).fit(flights_jan, rows=known)
    enc = encoder.tables["flights"]
    inputs = encoder.transform_table(flights_jan, "flights")
    day = flights_jan["flights"]["day"].to_numpy()
    later = day >= 16
    assert enc.highs[enc.numeric.index("day")] == 15
    column = inputs.numeric[:, enc.numeric.index("day")]
    np.testing.assert_allclose(column[later], column[day == 15][0])  # a later day looks like the last one seen
    codes = inputs.codes[:, len(enc.categorical) + enc.binned.index("day")]
    assert (
        set(codes[later])
        == {codes[day == 15][0]}
        == {enc.cardinalities[len(enc.categorical) + enc.binned.index("day")]}
    )
    everything = RowEncoder(use_text=False, num_bins=32).fit(flights_jan)
    assert everything.tables["flights"].highs[enc.numeric.index("day")] == 31
    with pytest.raises(ValueError, match="table 'flights'"):
        RowEncoder(use_text=False).fit(flights_jan, rows={"flights": known["flights"][:10]})


def test_encoding_round_trips_through_json(flights_jan):
    encoder = RowEncoder(use_text=False, num_bins=16).fit(
        flights_jan, rows=known_before(row_times(flights_jan), "2013-01-20")
    )
    again = RowEncoder.from_dict(encoder.to_dict())
    for table in ("flights", "planes", "weather"):
        one, two = encoder.transform_table(flights_jan, table), again.transform_table(flights_jan, table)
        np.testing.assert_array_equal(one.numeric, two.numeric)
        np.testing.assert_array_equal(one.codes, two.codes)


def test_calendar_columns_of_timed_tables(flights_jan, chinook):
    found = calendar_columns(flights_jan, row_times(flights_jan))
    assert found == {"flights": ["year", "month"], "weather": ["year", "month"]}  # day and hour cycle
    assert calendar_columns(chinook, row_times(chinook)) == {"employee": ["hire_date"], "invoice": ["invoice_date"]}
    # a column that only mostly follows the time is kept
    frames = {t: flights_jan[t].copy() for t in flights_jan.schema.table_names}
    frames["flights"].loc[frames["flights"].index[::50], "month"] = 2
    shifted = Database.from_frames(frames, flights_jan.schema)
    assert calendar_columns(shifted, row_times(shifted))["flights"] == ["year"]


def test_fit_task_leaves_out_dropped_and_calendar_columns(chinook, chinook_task):
    encoder = RowEncoder(use_text=False, num_bins=8).fit_task(chinook, chinook_task)
    assert "invoice_date" not in encoder.tables["invoice"].numeric
    assert "total" in encoder.tables["invoice"].numeric
    # statistics come from the invoices before the validation period only
    invoices = chinook["invoice"]
    early = invoices["total"][invoices["invoice_date"] < chinook_task.val_timestamp]
    assert encoder.tables["invoice"].highs[encoder.tables["invoice"].numeric.index("total")] == early.max()
    dropped = EntityTask.from_dict({**chinook_task.to_dict(), "drop_columns": {"invoice": ["total"]}})
    assert "total" not in RowEncoder(use_text=False).fit_task(chinook, dropped).tables["invoice"].numeric
