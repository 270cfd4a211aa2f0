"""Residual heterogeneous message passing of the predictor's SAGE layers (the relational layer of
:mod:`dbtwin.nn.relational` is the other choice): each layer adds
``relu(norm(conv(h)))`` to the state of every table it reaches; tables it does not reach keep theirs."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from dbtwin.graph.row_graph import EdgeType


def residual_message_passing(
    h: dict[str, Tensor], edge_index: dict[EdgeType, Tensor], convs: nn.ModuleList, norms: nn.ModuleList
) -> dict[str, Tensor]:
    """Run every layer of ``convs`` (``HeteroConv``) with its per-table ``norms`` over the non-empty
    edge types whose both ends are in ``h``."""
    edges = {et: ei for et, ei in edge_index.items() if et[0] in h and et[2] in h and ei.numel()}
    if not edges:
        return h
    for conv, norm in zip(convs, norms, strict=True):
        out = conv(h, edges)
        h = {name: state + torch.relu(norm[name](out[name])) if name in out else state for name, state in h.items()}
    return h
