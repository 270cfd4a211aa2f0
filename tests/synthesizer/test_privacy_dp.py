"""Differential privacy: the accountant against known figures, the budget's split, per-row clipping,
noised structure templates, and DP fits end to end on Chinook (saved, loaded, reported)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dbtwin.diffusion import GaussianScheduler, MaskedScheduler
from dbtwin.errors import OptionError
from dbtwin.nn import HeteroDenoiser, TableSpec
from dbtwin.privacy.accountant import calibrate, epsilon_of, subsampled_gaussian_rdp
from dbtwin.privacy.budget import PrivacyBudget
from dbtwin.privacy.dp_sgd import DPConfig, PrivateStep
from dbtwin.privacy.structure_noise import noised_templates, sensitivity
from dbtwin.structure import structure_model
from dbtwin.synthesizer import Synthesizer


def test_accountant_matches_the_published_figures():
    # Abadi et al. (2016): q = 0.01, sigma = 4, 10,000 steps, delta = 1e-5 gives epsilon about 1.26 with
    # the moments accountant; the tighter RDP conversion gives a little less
    eps = epsilon_of(10_000 * subsampled_gaussian_rdp(0.01, 4.0), 1e-5)
    assert 0.9 < eps < 1.26
    assert epsilon_of(20_000 * subsampled_gaussian_rdp(0.01, 4.0), 1e-5) > eps  # more steps, more spent
    assert epsilon_of(10_000 * subsampled_gaussian_rdp(0.02, 4.0), 1e-5) > eps  # bigger batches too
    sigma = calibrate(2.0, 1e-5, lambda s: 1_000 * subsampled_gaussian_rdp(0.01, s))
    assert epsilon_of(1_000 * subsampled_gaussian_rdp(0.01, sigma), 1e-5) == pytest.approx(2.0, abs=1e-3)


def test_budget_spends_epsilon_over_the_planned_steps_and_less_before():
    budget = PrivacyBudget.plan(3.0, 1e-5, steps=500, sampling_rate=0.02, sensitivity=2.0)
    assert budget.spent(500) == pytest.approx(3.0, abs=1e-3)
    assert budget.spent(100) < budget.spent(500)
    assert budget.spent(0) <= 0.1 * 3.0 + 1e-6  # the structure's histograms: a tenth of the budget
    assert PrivacyBudget.plan(1.0, 1e-5, 500, 0.02, 2.0).noise_multiplier > budget.noise_multiplier


def test_private_step_clips_every_row(chinook):
    synth = Synthesizer(train_steps=1, num_hops=0, degree_inputs=False, block_inputs=False, progress=False)
    synth.fit(chinook)
    num, cat = synth.stages_.encoders.features(chinook)
    specs = {t: TableSpec(e.num_numeric, e.cardinalities) for t, e in synth.encoders_.items()}
    model = HeteroDenoiser(specs, [], hidden=16, num_layers=0)
    tables = [t for t, s in specs.items() if s.has_features and t not in synth.fixed_tables_]
    step = PrivateStep(model, num, cat, tables, GaussianScheduler(), MaskedScheduler(), DPConfig(0.05, 0.0, clip=0.5))
    _, rows = step(np.random.default_rng(0), torch.Generator().manual_seed(0))
    total = torch.sqrt(sum(p.grad.pow(2).sum() for p in model.parameters()))
    # no noise: the summed clipped gradients over the expected batch are at most clip * rows / expected
    assert rows > 0 and float(total) <= 0.5 * rows / step.expected + 1e-5
    with pytest.raises(ValueError, match="models each row alone"):
        PrivateStep(
            HeteroDenoiser(specs, [], num_layers=1),
            num,
            cat,
            tables,
            GaussianScheduler(),
            MaskedScheduler(),
            DPConfig(0.1, 1.0),
        )


def test_noised_templates_respect_not_null_keys(chinook):
    structure = structure_model("degree").fit(chinook, random_state=0)
    noised = noised_templates(structure.templates_, chinook.schema, sigma=50.0, rng=np.random.default_rng(0))
    for fk in chinook.schema.foreign_keys:
        table = chinook.schema.table(fk.child)
        assert len(noised.parent_degree[fk.name]) == chinook.num_rows(fk.parent)
        never_null = (structure.templates_.child_target[fk.name] >= 0).all()
        if never_null or any(not table.column(c).nullable for c in fk.columns):
            assert (noised.child_target[fk.name] >= 0).all(), fk.name
    assert sensitivity(chinook.schema) >= np.sqrt(3)


@pytest.fixture(scope="module")
def private(chinook):
    return Synthesizer(train_steps=40, epsilon=3.0, random_state=0, progress=False).fit(chinook)


def test_dp_fit_reports_and_saves_its_guarantee(chinook, private, tmp_path):
    dp = private.privacy_
    assert dp["epsilon"] == 3.0 and 0 < dp["epsilon_spent"] <= 3.0 + 1e-6 and dp["steps_done"] == 40
    assert dp["delta"] <= 1e-5 and dp["noise_multiplier"] > 0 and dp["not_covered"]
    assert private.model_.num_layers == 0 and not private.model_.degree_inputs
    assert private.structure_.name == "degree"
    private.save(tmp_path / "m")
    loaded = Synthesizer.load(tmp_path / "m")
    assert loaded.privacy_ == dp
    twin = loaded.sample(random_state=1)  # sample() refuses a twin whose keys do not resolve
    assert twin.num_rows("invoice_line") > 0
    assert Synthesizer(train_steps=5, progress=False).fit(chinook).privacy_ is None


def test_bad_epsilon_is_refused(chinook):
    with pytest.raises(OptionError, match="epsilon"):
        Synthesizer(train_steps=2, epsilon=0.0, progress=False).fit(chinook)
    with pytest.raises(OptionError, match="delta"):
        Synthesizer(train_steps=2, epsilon=1.0, delta=2.0, progress=False).fit(chinook)


def test_cli_fits_with_epsilon_and_refuses_a_bad_one(tmp_path):
    from tests.test_cli_safety import assert_clean_failure, invoke

    result = invoke("fit", "chinook", "--out", tmp_path / "m", "--steps", 5, "--epsilon", 10)
    assert result.exit_code == 0, result.output
    assert "differential privacy" in result.output and "-DP per row" in result.output
    assert_clean_failure(invoke("fit", "chinook", "--out", tmp_path / "n", "--epsilon", -1), "--epsilon")
    assert_clean_failure(invoke("fit", "chinook", "--out", tmp_path / "n", "--epsilon", 1, "--delta", 3), "--delta")
