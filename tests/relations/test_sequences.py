"""Order in time: sequences found where the order matters, linked in the row graph, kept sorted in
samples; datetime parts derived from their datetime."""

from __future__ import annotations

import numpy as np

from dbtwin.database import Database
from dbtwin.evaluate.sequences import autocorrelation_gaps
from dbtwin.graph import RowGraph
from dbtwin.graph.sequences import Sequence, add_sequences, find_sequences, order_times, real_previous
from dbtwin.relations import Part, Ref, discover, keeping
from dbtwin.synthesizer import Synthesizer

WEATHER = Sequence("weather", "weather.origin->airports", "time_hour")


def test_found_where_order_matters(flights_jan, chinook):
    assert find_sequences(flights_jan) == [WEATHER]
    assert find_sequences(chinook) == []  # a customer's invoices: totals do not follow one another


def test_real_order_is_by_time_within_each_parent(flights_jan):
    rows, previous = real_previous(flights_jan, WEATHER)
    weather = flights_jan["weather"]
    assert (weather["origin"].to_numpy()[rows] == weather["origin"].to_numpy()[previous]).all()
    assert (weather["time_hour"].to_numpy()[rows] > weather["time_hour"].to_numpy()[previous]).all()
    assert len(rows) == len(weather) - weather["origin"].nunique()
    graph = add_sequences(RowGraph.from_database(flights_jan), [WEATHER], flights_jan)
    assert sum(et[0] == et[2] == "weather" for et in graph.edge_types()) == 2  # previous and its reverse


def test_times_are_sorted_into_the_order_drawn(flights_jan):
    graph = RowGraph.from_database(flights_jan)
    rng = np.random.default_rng(0)
    frame = flights_jan["weather"].copy()
    frame["time_hour"] = frame["time_hour"].to_numpy()[rng.permutation(len(frame))]
    before = frame.groupby("origin")["time_hour"].apply(sorted)
    order_times(frame, graph, WEATHER)
    add_sequences(graph, [WEATHER])
    rows, previous = graph.links[WEATHER.edge_name].child_rows, graph.links[WEATHER.edge_name].parent_rows
    assert (frame["time_hour"].to_numpy()[rows] >= frame["time_hour"].to_numpy()[previous]).all()
    assert frame.groupby("origin")["time_hour"].apply(sorted).equals(before)  # the same times, reordered


def test_sampled_weather_is_ordered_and_scored(flights_jan, tmp_path):
    synth = Synthesizer(train_steps=5, sample_steps=3, progress=False, random_state=0).fit(flights_jan)
    assert synth.sequences_ == [WEATHER]
    assert any(et[1] == "previous" for et in synth.model_.config()["edge_types"])
    synth.save(tmp_path / "model")
    fake = Synthesizer.load(tmp_path / "model").sample(1.0, random_state=1)
    scored = autocorrelation_gaps(flights_jan, fake)
    assert set(scored["details"]) >= {"weather.temp", "weather.pressure"}
    assert scored["score"] is not None and 0 <= scored["score"] <= 2
    assert autocorrelation_gaps(flights_jan, flights_jan)["score"] == 0.0
    for rule in synth.rules_:
        assert keeping(fake, rule, holes=rule.holes).holds, rule.describe(fake.schema)


def test_datetime_parts_with_a_time_zone(flights_jan):
    rules = discover(flights_jan).rules
    hour = Part("weather", "hour", Ref("time_hour"), "hour", -5)
    assert hour in rules
    # flights.time_hour belongs to the key to weather: the structure draws it, so nothing is derived from it
    assert not any(isinstance(r, Part) and r.table == "flights" and not r.source.path for r in rules)
    # the linked weather row's time gives a flight's day and hour, but not where a flight has no weather
    # row: those rules have holes, and the columns stay generated
    through = {r.column: r for r in rules if isinstance(r, Part) and r.table == "flights"}
    assert set(through) == {"day", "hour"} and all(r.holes and not r.derives for r in through.values())
    assert not keeping(flights_jan, through["hour"]).holds and keeping(flights_jan, through["hour"], holes=True).holds
    assert keeping(flights_jan, hour).holds
    tables = {t: f.copy() for t, f in flights_jan.tables.items()}
    tables["weather"].loc[10, "hour"] = (tables["weather"].loc[10, "hour"] + 1) % 24
    broken = Database.from_frames(tables, flights_jan.schema)
    assert hour not in discover(broken).rules
