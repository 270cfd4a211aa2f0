"""The torch sampler against the NumPy one: the same subgraphs without caps, valid ones with caps,
on every device torch sees."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dbtwin.graph import KHopSampler, RowGraph, SubgraphTooLargeError
from dbtwin.graph.device_sampler import DeviceKHopSampler
from dbtwin.nn.device import visible_devices

from .search import bfs

DEVICES = visible_devices()


@pytest.fixture(scope="module")
def graph(chinook):
    return RowGraph.from_database(chinook)


def _seeds(graph: RowGraph, per_table: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {t: rng.choice(n, size=per_table) for t, n in graph.num_nodes.items() if n}


def _on(seeds: dict[str, np.ndarray], device: str) -> dict[str, torch.Tensor]:
    return {t: torch.from_numpy(r).to(device) for t, r in seeds.items()}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("hops", [0, 1, 2, 3])
def test_without_caps_the_same_subgraph_as_numpys(graph, device, hops):
    seeds = _seeds(graph, 7, hops)  # repeated rows too: each seed its own copy
    want = KHopSampler(graph, num_hops=hops).sample(seeds, random_state=0)
    got = DeviceKHopSampler(graph, num_hops=hops, device=device).sample(_on(seeds, device))
    assert got.num_seeds == want.num_seeds == sum(map(len, seeds.values()))
    for field in ("nodes", "batch", "hop", "seed_local"):
        mine, theirs = getattr(got, field), getattr(want, field)
        assert mine.keys() == theirs.keys(), field
        for t in theirs:
            assert mine[t].device.type == torch.device(device).type
            assert mine[t].cpu().numpy().tolist() == theirs[t].tolist(), (field, t)
    assert got.edge_index.keys() == want.edge_index.keys()
    for et, ei in want.edge_index.items():
        assert got.edge_index[et].cpu().numpy().tolist() == ei.tolist(), et


@pytest.mark.parametrize("device", DEVICES)
def test_with_caps_each_seed_a_capped_part_of_its_neighbourhood(graph, device):
    seeds = {"customer": np.arange(20), "artist": np.array([0, 89, 21])}
    generator = torch.Generator(device).manual_seed(0)
    sub = DeviceKHopSampler(graph, num_hops=2, max_neighbors=3, device=device).sample(_on(seeds, device), generator)
    seed_list = [("customer", r) for r in range(20)] + [("artist", 0), ("artist", 89), ("artist", 21)]
    nodes = {t: v.cpu().numpy() for t, v in sub.nodes.items()}
    batch = {t: v.cpu().numpy() for t, v in sub.batch.items()}
    for sid, (table, row) in enumerate(seed_list):
        got = {(t, int(r)) for t in nodes for r, b in zip(nodes[t], batch[t], strict=True) if b == sid}
        assert (table, row) in got and got <= bfs(graph, table, row, 2)
    for (src, rel, dst), ei in sub.edge_index.items():  # every edge a real link within one seed's copy
        ei = ei.cpu().numpy()
        assert (batch[src][ei[0]] == batch[dst][ei[1]]).all()
        real = set(zip(*graph.edge_index((src, rel, dst)).tolist(), strict=True))
        assert set(zip(nodes[src][ei[0]].tolist(), nodes[dst][ei[1]].tolist(), strict=True)) <= real
    # an artist's albums are capped at 3 per seed; artist 21 has more than 3 albums
    albums = nodes["album"][batch["album"] == 22]
    assert graph.csr(("artist", "rev_artist_id", "album")).degree(np.array([21]))[0] > 3
    assert 1 <= len(albums) <= 3


@pytest.mark.parametrize("device", DEVICES)
def test_caps_draw_as_numpys_in_distribution_and_repeat_with_the_generator(graph, device):
    sampler = DeviceKHopSampler(graph, num_hops=2, max_neighbors=5, device=device)
    numpy_sampler = KHopSampler(graph, num_hops=2, max_neighbors=5)
    sizes = {"torch": [], "numpy": []}
    generator = torch.Generator(device).manual_seed(1)
    for s in range(20):
        seeds = _seeds(graph, 30, s)
        sizes["torch"].append(sampler.sample(_on(seeds, device), generator).hop["track"].bincount(minlength=3).cpu())
        sizes["numpy"].append(torch.from_numpy(np.bincount(numpy_sampler.sample(seeds, s).hop["track"], minlength=3)))
    mine, theirs = torch.stack(sizes["torch"]).double().mean(0), torch.stack(sizes["numpy"]).double().mean(0)
    assert theirs[2] > 500 and torch.allclose(mine, theirs, rtol=0.05), (mine, theirs)
    seeds = _on(_seeds(graph, 30, 0), device)
    a = sampler.sample(seeds, torch.Generator(device).manual_seed(7))
    b = sampler.sample(seeds, torch.Generator(device).manual_seed(7))
    c = sampler.sample(seeds, torch.Generator(device).manual_seed(8))
    assert all(torch.equal(a.nodes[t], b.nodes[t]) for t in a.nodes)
    assert any(len(a.nodes[t]) != len(c.nodes[t]) or not torch.equal(a.nodes[t], c.nodes[t]) for t in a.nodes)


@pytest.mark.parametrize("device", DEVICES)
def test_refuses_a_hop_too_large_before_gathering_it(graph, device):
    sampler = DeviceKHopSampler(graph, num_hops=2, device=device, max_nodes=1_000)
    with pytest.raises(SubgraphTooLargeError, match="max_nodes=1,000"):
        sampler.sample({"genre": torch.tensor([0], device=device)})
