"""The K-hop sampler against a plain breadth-first search, plus caps, determinism and seeds."""

from __future__ import annotations

import numpy as np
import pytest

from dbtwin.graph import KHopSampler, RowGraph, SubgraphTooLargeError

from .search import bfs


@pytest.fixture(scope="module")
def graph(chinook):
    return RowGraph.from_database(chinook)


@pytest.mark.parametrize("hops", [0, 1, 2, 3])
def test_matches_breadth_first_search(graph, hops):
    seeds = {"invoice": np.array([0, 17, 400]), "album": np.array([3])}
    sub = KHopSampler(graph, num_hops=hops).sample(seeds, random_state=0)
    assert sub.num_seeds == 4
    seed_list = [("invoice", 0), ("invoice", 17), ("invoice", 400), ("album", 3)]
    for sid, (table, row) in enumerate(seed_list):
        got = {(t, int(r)) for t in sub.nodes for r, b in zip(sub.nodes[t], sub.batch[t], strict=True) if b == sid}
        assert got == bfs(graph, table, row, hops)
        # each node's hop is its distance from the seed
        within = [bfs(graph, table, row, h) for h in range(hops + 1)]
        for t in sub.nodes:
            for r, b, h in zip(sub.nodes[t], sub.batch[t], sub.hop[t], strict=True):
                if b == sid:
                    assert h == min(d for d in range(hops + 1) if (t, int(r)) in within[d])
    # seeds map back to their rows and batches
    assert sub.nodes["invoice"][sub.seed_local["invoice"]].tolist() == [0, 17, 400]
    assert sub.batch["album"][sub.seed_local["album"]].tolist() == [3]


def test_edges_are_induced_and_local(graph, chinook):
    sub = KHopSampler(graph, num_hops=2).sample({"customer": [0, 1]}, random_state=1)
    for (src, rel, dst), ei in sub.edge_index.items():
        assert (sub.batch[src][ei[0]] == sub.batch[dst][ei[1]]).all()  # no edge across seed copies
        if rel.startswith("rev_"):
            continue
        fk, _ = graph.foreign_key_of((src, rel, dst))
        child = chinook[src].iloc[sub.nodes[src][ei[0]]]
        parent = chinook[dst].iloc[sub.nodes[dst][ei[1]]]
        assert (child[list(fk.columns)].to_numpy() == parent[list(fk.parent_columns)].to_numpy()).all()
        # induced: every child node whose parent is in the same copy has its edge
        lookup = set(zip(sub.batch[dst].tolist(), sub.nodes[dst].tolist(), strict=True))
        ppos = chinook.parent_positions(fk)[sub.nodes[src]]
        expected = sum((b, int(p)) in lookup for b, p in zip(sub.batch[src], ppos, strict=True) if p >= 0)
        assert ei.shape[1] == expected


def test_cap_limits_neighbours_and_is_deterministic(graph):
    sampler = KHopSampler(graph, num_hops=1, max_neighbors=3)
    a = sampler.sample({"genre": [0]}, random_state=7)  # Rock has 1,297 tracks
    b = sampler.sample({"genre": [0]}, random_state=7)
    assert 1 <= len(a.nodes["track"]) <= 3
    assert a.nodes["track"].tolist() == b.nodes["track"].tolist()
    variants = {tuple(sampler.sample({"genre": [0]}, random_state=s).nodes["track"]) for s in range(10)}
    assert len(variants) > 1
    # below the cap every neighbour is taken: media type 4 has 7 tracks
    few = KHopSampler(graph, num_hops=1, max_neighbors=10).sample({"media_type": [3]}, random_state=0)
    assert len(few.nodes["track"]) == 7


def test_merged_mode_unions_neighbourhoods(graph):
    merged = KHopSampler(graph, num_hops=1, disjoint=False).sample({"invoice": [0, 0, 1]})
    assert merged.num_seeds == 1 and (np.concatenate(list(merged.batch.values())) == 0).all()
    assert merged.nodes["invoice"].tolist() == [0, 1]


def test_hub_explosion_is_refused_before_allocating(graph):
    sampler = KHopSampler(graph, num_hops=2, max_nodes=5_000)
    with pytest.raises(
        SubgraphTooLargeError, match=r"along \('track', 'rev_track_id', 'playlist_track'\)|would gather"
    ):
        sampler.sample({"genre": np.arange(25)})
    assert KHopSampler(graph, num_hops=2, max_neighbors=3, max_nodes=5_000).sample({"genre": np.arange(25)}).num_nodes


def test_bad_arguments(graph):
    with pytest.raises(ValueError, match="2 entries for 3 hops"):
        KHopSampler(graph, num_hops=3, max_neighbors=[5, 5])
    with pytest.raises(IndexError, match="table 'genre'"):
        KHopSampler(graph, num_hops=1).sample({"genre": [25]})
