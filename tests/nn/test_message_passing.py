"""The predictor's residual message passing: tables reached get relu(norm(conv)) added, others keep
their state, empty or dangling edge types change nothing."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch_geometric.nn import HeteroConv, SAGEConv

from dbtwin.nn.device import visible_devices
from dbtwin.nn.message_passing import residual_message_passing

EDGE = ("child", "fk", "parent")


def layers(hidden: int = 4, num_layers: int = 2):
    torch.manual_seed(0)
    convs = nn.ModuleList(HeteroConv({EDGE: SAGEConv((hidden, hidden), hidden)}) for _ in range(num_layers))
    norms = nn.ModuleList(
        nn.ModuleDict({t: nn.LayerNorm(hidden) for t in ("child", "parent")}) for _ in range(num_layers)
    )
    return convs, norms


@pytest.mark.parametrize("device", visible_devices())
def test_reached_tables_gain_a_residual_and_the_others_keep_their_state(device):
    convs, norms = layers()
    convs, norms = convs.to(device), norms.to(device)
    h = {"child": torch.randn(3, 4, device=device), "parent": torch.randn(2, 4, device=device)}
    edges = {EDGE: torch.tensor([[0, 1, 2], [0, 0, 1]], device=device)}
    out = residual_message_passing(h, edges, convs, norms)
    assert torch.equal(out["child"], h["child"])  # no edge type ends at the child table
    one = h["parent"] + torch.relu(norms[0]["parent"](convs[0](h, edges)["parent"]))
    state = {"child": h["child"], "parent": one}
    two = one + torch.relu(norms[1]["parent"](convs[1](state, edges)["parent"]))
    assert torch.allclose(out["parent"], two, atol=1e-6)
    assert out["parent"].device.type == torch.device(device).type


def test_empty_or_dangling_edges_change_nothing():
    convs, norms = layers()
    h = {"child": torch.randn(3, 4), "parent": torch.randn(2, 4)}
    for edges in ({}, {EDGE: torch.zeros(2, 0, dtype=torch.long)}, {("child", "fk", "gone"): torch.tensor([[0], [0]])}):
        assert residual_message_passing(h, edges, convs, norms) is h
