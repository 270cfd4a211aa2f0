"""HeteroDenoiser: its config is what it was made with (not re-derived from layer shapes), its repr
shows its hyperparameters, reset_parameters draws fresh weights, and it runs on every device."""

from __future__ import annotations

import pytest
import torch

from dbtwin.nn import HeteroDenoiser, TableSpec
from dbtwin.nn.device import to_device, visible_devices

TABLES = {"parent": TableSpec(2, [3]), "child": TableSpec(1, [4, 2])}
EDGES = [("child", "fk", "parent"), ("parent", "rev_fk", "child")]


def _model(**options) -> HeteroDenoiser:
    torch.manual_seed(0)
    return HeteroDenoiser(TABLES, EDGES, hidden=8, num_layers=1, cat_dim=5, head_mult=2, **options)


def _inputs(device: str):
    torch.manual_seed(2)
    x_num = {"parent": torch.randn(3, 2), "child": torch.randn(5, 1)}
    x_cat = {
        "parent": torch.randint(0, 3, (3, 1)),
        "child": torch.stack([torch.randint(0, 4, (5,)), torch.randint(0, 2, (5,))], 1),
    }
    t = {"parent": torch.rand(3), "child": torch.rand(5)}
    edges = {
        EDGES[0]: torch.tensor([[0, 1, 2, 3, 4], [0, 0, 1, 2, 2]]),
        EDGES[1]: torch.tensor([[0, 0, 1, 2, 2], [0, 1, 2, 3, 4]]),
    }
    return to_device((x_num, x_cat, t, edges), torch.device(device))


def test_config_round_trips_as_made():
    model = _model()
    config = model.config()
    assert (config["cat_dim"], config["head_mult"], config["hidden"], config["num_layers"]) == (5, 2, 8, 1)
    again = HeteroDenoiser.from_config(config)
    assert again.config() == config
    assert HeteroDenoiser.from_config({**config, "aggr": "mean"}).config() == config  # models saved with 'aggr'


def test_known_flags_are_an_input_of_a_model_made_with_them():
    model = _model(known_inputs=True)
    assert HeteroDenoiser.from_config(model.config()).known_inputs
    old = {k: v for k, v in model.config().items() if k != "known_inputs"}
    assert not HeteroDenoiser.from_config(old).known_inputs  # models saved before the flags
    x_num, x_cat, t, edges = _inputs("cpu")
    known = {"parent": torch.tensor([[True, False]] * 3), "child": torch.ones(5, 1, dtype=torch.bool)}
    with torch.no_grad():
        none = model(x_num, x_cat, t, edges)
        flagged = model(x_num, x_cat, t, edges, known=known)
        zeros = model(x_num, x_cat, t, edges, known={k: torch.zeros_like(v) for k, v in known.items()})
    assert not torch.allclose(none["parent"][0], flagged["parent"][0])
    assert torch.equal(none["parent"][0], zeros["parent"][0])  # no flags: nothing known
    assert model.inputs[model.keys.table["parent"]].proj.in_features == 2 * 2 + 5  # numbers, flags, one code


def test_repr_shows_the_hyperparameters():
    text = repr(_model(degree_inputs=True))
    assert text.startswith("HeteroDenoiser(2 tables, 2 edge types, hidden=8, num_layers=1, cat_dim=5, head_mult=2")
    assert "degree_inputs=True" in text


def test_reset_parameters_draws_fresh_weights():
    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    torch.manual_seed(1)
    model.reset_parameters()
    after = model.state_dict()
    changed = [k for k in before if before[k].dtype.is_floating_point and not torch.equal(before[k], after[k])]
    assert len(changed) >= len([k for k in before if k.endswith("weight")]) // 2


@pytest.mark.parametrize("device", visible_devices())
def test_a_forward_pass_on_each_device_matches_the_cpu(device):
    model = _model()
    expected = model(*_inputs("cpu"))
    got = model.to(device)(*_inputs(device))
    x_num, x_cat, t, edges = _inputs(device)
    rows = {name: [torch.arange(len(x), device=device)] * x_cat[name].shape[1] for name, x in x_num.items()}
    chunked = model.forward_chunked(x_num, x_cat, t, model.pack({"parent": 3, "child": 5}, edges), rows, 2)
    for table, (eps, logits) in expected.items():
        for found in (got, chunked):  # one pass, and layer-wise chunks (sampling's path)
            assert torch.allclose(found[table][0].cpu(), eps, atol=1e-5)
            for a, b in zip(logits, found[table][1], strict=True):
                assert torch.allclose(b.cpu(), a, atol=1e-5)


@pytest.mark.parametrize("chunk_rows", [1, 2, 64])
def test_chunked_pass_gives_the_whole_pass(chunk_rows):
    """Layer-wise chunks give the noise and the logits (of the rows asked for, in their order) of one
    pass, with structure inputs and known flags."""
    model = _model(degree_inputs=True, known_inputs=True)
    x_num, x_cat, t, edges = _inputs("cpu")
    sizes = {"parent": 3, "child": 5}
    structure = model.structure_inputs(sizes, edges)
    known = {"parent": torch.tensor([[True, False]] * 3), "child": torch.zeros(5, 1, dtype=torch.bool)}
    rows = {"parent": [torch.tensor([2, 0])], "child": [torch.tensor([4, 1, 3]), torch.tensor([], dtype=torch.long)]}
    graph = model.pack(sizes, edges)
    with torch.no_grad():
        want = model(x_num, x_cat, t, edges, graph, logit_rows=rows, structure=structure, known=known)
    got = model.forward_chunked(x_num, x_cat, t, graph, rows, chunk_rows, structure=structure, known=known)
    for table, (eps, logits) in want.items():
        torch.testing.assert_close(got[table][0], eps, rtol=1e-5, atol=1e-5)
        assert [lg.shape for lg in got[table][1]] == [lg.shape for lg in logits]
        for a, b in zip(got[table][1], logits, strict=True):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
