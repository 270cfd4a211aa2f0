"""Positional module keys: names PyG's and torch's module containers refuse still map to modules."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.nn.module_dict import ModuleDict

from dbtwin.nn.keys import ModuleKeys

AWKWARD = ["cust___id", "order.items", "a#b", "plain"]


def test_awkward_names_get_positional_keys_in_order():
    edges = [("order.items", "fk.1", "cust___id"), ("a#b", "x___y", "order.items")]
    keys = ModuleKeys(AWKWARD, edges)
    assert keys.table == {"cust___id": "t0", "order.items": "t1", "a#b": "t2", "plain": "t3"}
    assert keys.edge[edges[0]] == ("t1", "r0", "t0") and keys.edge[edges[1]] == ("t2", "r1", "t1")
    with pytest.raises(KeyError):
        torch.nn.ModuleDict({"order.items": torch.nn.Linear(1, 1)})  # the names themselves are refused
    modules = ModuleDict({keys.table[t]: torch.nn.Linear(1, 1) for t in AWKWARD})
    assert set(modules.keys()) == {"t0", "t1", "t2", "t3"}
    assert repr(keys) == "ModuleKeys(4 tables, 2 edge types)"


def test_edges_are_re_keyed_and_unknown_edge_types_left_out():
    edges = [("order.items", "fk.1", "cust___id")]
    keys = ModuleKeys(AWKWARD, edges)
    ei = torch.tensor([[0], [0]])
    out = keys.edges_in({edges[0]: ei, ("plain", "other", "plain"): ei})
    assert list(out) == [("t1", "r0", "t0")] and out[("t1", "r0", "t0")] is ei
