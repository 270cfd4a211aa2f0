"""Relational message passing: the same result as per-edge-type mean aggregation, and a number of
operations that does not grow with the number of edge types."""

from __future__ import annotations

import pytest
import torch
from torch.profiler import ProfilerActivity, profile

from dbtwin.nn.relational import RelationalMessagePassing


def _edges(n_src: int, n_dst: int, count: int, generator: torch.Generator) -> torch.Tensor:
    return torch.stack(
        [torch.randint(n_src, (count,), generator=generator), torch.randint(n_dst, (count,), generator=generator)]
    )


def _reference_layer(layer, h: dict, edges: dict, mp: RelationalMessagePassing) -> dict:
    """One layer computed edge type by edge type, with explicit means (as HeteroConv(SAGEConv) does)."""
    d = layer.hidden
    out = {}
    for table, state in h.items():
        t = mp.table_ids[table]
        pre = state @ layer.own[t] + layer.bias[t]
        slots = mp.slots[table]
        if slots:
            weight = layer.neighbour[t].view(slots, d, d)
            for et, ei in edges.items():
                if et[2] != table:
                    continue
                mean = torch.zeros(state.shape[0], d)
                count = torch.zeros(state.shape[0])
                mean.index_add_(0, ei[1], h[et[0]][ei[0]])
                count.index_add_(0, ei[1], torch.ones(ei.shape[1]))
                mean = mean / count.clamp(min=1)[:, None]
                pre = pre + mean @ weight[mp.incoming[et]]
                if layer.use_max:
                    top = torch.stack(
                        [
                            h[et[0]][ei[0][ei[1] == row]].max(0).values if (ei[1] == row).any() else torch.zeros(d)
                            for row in range(state.shape[0])
                        ]
                    )
                    pre = pre + top @ layer.neighbour_max[t].view(slots, d, d)[mp.incoming[et]]
        normed = torch.nn.functional.layer_norm(pre, (d,)) * layer.scale[t] + layer.shift[t]
        out[table] = state + torch.relu(normed)
    return out


@pytest.mark.parametrize("aggr", ["mean", ("mean", "max")])
def test_matches_per_edge_type_means(aggr):
    g = torch.Generator().manual_seed(0)
    sizes = {"a": 7, "b": 11, "c": 5}
    edge_types = [("a", "r0", "b"), ("b", "r0_rev", "a"), ("b", "r1", "c"), ("c", "r1_rev", "b"), ("a", "r2", "b")]
    edges = {et: _edges(sizes[et[0]], sizes[et[2]], 17, g) for et in edge_types}
    mp = RelationalMessagePassing(list(sizes), edge_types, hidden=8, num_layers=2, aggr=aggr)
    with torch.no_grad():
        for p in mp.parameters():
            p.normal_(generator=g)
    h = {t: torch.randn(n, 8, generator=g, requires_grad=True) for t, n in sizes.items()}
    got = mp.forward_dict(h, edges)
    want = h
    for layer in mp.layers:
        want = _reference_layer(layer, want, edges, mp)
    for t in sizes:
        torch.testing.assert_close(got[t], want[t], rtol=1e-4, atol=1e-4)
    with torch.no_grad():  # sampling's path: in place, the same states
        fast = mp.forward_dict(h, edges)
    for t in sizes:
        torch.testing.assert_close(fast[t], got[t], rtol=1e-5, atol=1e-5)
    # a -> b and c -> b are moved (their source has fewer rows), b -> a and b -> c gathered: gradients agree too
    graph = mp.pack(sizes, edges)
    assert [len(ids) for _, ids in graph.moves] == [2, 1] and [len(k) for k in graph.gathered] == [1, 0, 1]
    weights = torch.randn(sum(sizes.values()), 8, generator=g)
    got_grad = torch.autograd.grad((torch.cat(list(got.values())) * weights).sum(), list(h.values()))
    want_grad = torch.autograd.grad((torch.cat(list(want.values())) * weights).sum(), list(h.values()))
    for a, b in zip(got_grad, want_grad, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    assert mp.slots == {"a": 1, "b": 3, "c": 1}  # b has two edge types from a: each its own weights


def test_rows_without_edges_and_missing_edge_types():
    mp = RelationalMessagePassing(["a", "b"], [("a", "r", "b"), ("b", "r_rev", "a")], hidden=4, num_layers=1)
    h = {"a": torch.randn(3, 4), "b": torch.randn(2, 4)}
    same = mp.forward_dict(h, {})  # no edges at all: states unchanged
    assert all(torch.equal(same[t], h[t]) for t in h)
    one = mp.forward_dict(h, {("a", "r", "b"): torch.tensor([[0], [1]])})  # an edge type absent from the batch
    assert one["a"].shape == (3, 4) and one["b"].shape == (2, 4)
    assert torch.isfinite(one["b"]).all()


def _operator_count(num_edge_types: int, aggr="mean", destination_rows: int = 40) -> int:
    """Operators run by one forward and backward pass over two tables joined by ``num_edge_types``
    (gathered when the destination has fewer rows than the source's 50, else moved)."""
    g = torch.Generator().manual_seed(1)
    edge_types = [("a", f"r{i}", "b") for i in range(num_edge_types)]
    mp = RelationalMessagePassing(["a", "b"], edge_types, hidden=16, num_layers=2, aggr=aggr)
    h = {"a": torch.randn(50, 16), "b": torch.randn(destination_rows, 16)}
    edges = {et: _edges(50, destination_rows, 30, g) for et in edge_types}
    graph = mp.pack({"a": 50, "b": destination_rows}, edges)
    stacked = graph.stack(h).requires_grad_(True)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        mp(stacked, graph).sum().backward()
    return sum(e.count for e in prof.key_averages())


def test_operations_do_not_grow_with_edge_types():
    assert _operator_count(2) == _operator_count(24)
    assert _operator_count(2, ("mean", "max")) == _operator_count(24, ("mean", "max"))
    assert _operator_count(2, destination_rows=400) == _operator_count(24, destination_rows=400)


def test_max_gradient_reaches_the_largest_neighbour_only():
    mp = RelationalMessagePassing(["a", "b"], [("a", "r", "b")], hidden=2, num_layers=1, aggr=("mean", "max"))
    h = torch.tensor([[1.0, -1.0], [3.0, -2.0], [0.0, 0.0]], requires_grad=True)  # a0, a1, b0
    graph = mp.pack({"a": 2, "b": 1}, {("a", "r", "b"): torch.tensor([[0, 1], [0, 0]])})
    with torch.no_grad():
        for p in mp.parameters():
            p.zero_()
        mp.layers[0].neighbour_max[1].copy_(torch.eye(2))  # b's state: the max of its neighbours, nothing else
        mp.layers[0].scale.fill_(1.0)
    out = mp(h, graph)
    out[2].sum().backward()
    # column 0's max comes from a1 (3 > 1), column 1's from a0 (-1 > -2)
    assert h.grad[0, 0] == 0 and h.grad[1, 1] == 0 and h.grad[1, 0] != 0 and h.grad[0, 1] != 0


def test_unknown_aggregation_is_refused():
    with pytest.raises(ValueError, match="aggr"):
        RelationalMessagePassing(["a"], [], hidden=2, num_layers=1, aggr="sum")


def test_degrees_count_every_incoming_edge_per_edge_type():
    edge_types = [("a", "r", "b"), ("b", "r_rev", "a"), ("a", "s", "b")]
    mp = RelationalMessagePassing(["a", "b"], edge_types, hidden=4, num_layers=1)
    edges = {
        ("a", "r", "b"): torch.tensor([[0, 1, 2, 2], [0, 0, 0, 1]]),  # b0 has 3 children by r, b1 one, b2 none
        ("b", "r_rev", "a"): torch.tensor([[0, 0, 0, 1], [0, 1, 2, 2]]),
        ("a", "s", "b"): torch.tensor([[1], [2]]),
    }
    deg = mp.degrees({"a": 4, "b": 3}, edges)
    assert deg["b"].shape == (3, 2) and deg["a"].shape == (4, 1)
    r, s = mp.incoming[("a", "r", "b")], mp.incoming[("a", "s", "b")]
    assert torch.allclose(deg["b"][:, r].expm1(), torch.tensor([3.0, 1.0, 0.0]))
    assert torch.allclose(deg["b"][:, s].expm1(), torch.tensor([0.0, 0.0, 1.0]))
    assert torch.allclose(deg["a"][:, 0].expm1(), torch.tensor([1.0, 1.0, 2.0, 0.0]))  # a3: no edge at all


def test_denoiser_with_degree_inputs_sees_how_many_neighbours_a_row_has():
    """A mean over neighbours is the same for one child or ten; with degree inputs the output differs."""
    from dbtwin.nn import HeteroDenoiser, TableSpec

    tables = {"p": TableSpec(1), "c": TableSpec(1)}
    edge_types = [("c", "fk", "p"), ("p", "rev_fk", "c")]
    edges = {("c", "fk", "p"): torch.tensor([[0, 1, 2, 3, 4], [0, 1, 1, 1, 1]])}
    edges[("p", "rev_fk", "c")] = edges[("c", "fk", "p")].flip(0)
    x_num = {"p": torch.zeros(2, 1), "c": torch.zeros(5, 1)}
    x_cat = {"p": torch.zeros(2, 0, dtype=torch.long), "c": torch.zeros(5, 0, dtype=torch.long)}
    t = {"p": torch.full((2,), 0.5), "c": torch.full((5,), 0.5)}
    for with_degrees in (False, True):
        torch.manual_seed(0)
        model = HeteroDenoiser(tables, edge_types, hidden=8, num_layers=1, degree_inputs=with_degrees)
        eps, _ = model(x_num, x_cat, t, edges, structure=model.structure_inputs({"p": 2, "c": 5}, edges))["p"]
        assert torch.allclose(eps[0], eps[1]) != with_degrees
        assert HeteroDenoiser.from_config(model.config()).degree_inputs == with_degrees


@pytest.mark.parametrize("chunk_rows", [1, 4, 100])
def test_layer_wise_chunks_give_the_whole_pass(chunk_rows):
    """Layer-wise inference (each layer for a few rows at a time, moved and gathered edge types both)
    gives the states of one pass over the whole graph."""
    g = torch.Generator().manual_seed(3)
    sizes = {"a": 7, "b": 11, "c": 5, "lonely": 3}
    edge_types = [("a", "r0", "b"), ("b", "r0_rev", "a"), ("b", "r1", "c"), ("c", "r1_rev", "b"), ("a", "r2", "b")]
    edges = {et: _edges(sizes[et[0]], sizes[et[2]], 17, g) for et in edge_types}
    mp = RelationalMessagePassing(list(sizes), edge_types, hidden=8, num_layers=3)
    with torch.no_grad():
        for p in mp.parameters():
            p.normal_(generator=g)
    graph = mp.pack(sizes, edges)
    assert graph.edge_source is None  # mean only: no edge pairs packed
    h = torch.randn(sum(sizes.values()), 8, generator=g)
    with torch.no_grad():
        want = mp(h, graph)
    got = mp.forward_chunked(h.clone(), graph, chunk_rows)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert torch.equal(graph.split(got)["lonely"], graph.split(h)["lonely"])  # no edge arrives: unchanged


def test_layer_wise_chunks_refuse_max_aggregation():
    mp = RelationalMessagePassing(["a", "b"], [("a", "r", "b")], hidden=4, num_layers=1, aggr=("mean", "max"))
    graph = mp.pack({"a": 2, "b": 2}, {("a", "r", "b"): torch.tensor([[0, 1], [1, 0]])})
    with pytest.raises(ValueError, match="max aggregation"):
        mp.forward_chunked(torch.randn(4, 4), graph, 1)
