"""The one training loop on a small regression it must learn: budget, moving average, schedule, early
stopping in either direction, the time cap, checkpoints and resuming, on every device torch sees."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from torch import nn

from dbtwin.nn.device import visible_devices
from dbtwin.nn.loop import CheckpointError, LoopConfig, StepOutcome, TrainingLoop

WEIGHTS = torch.tensor([1.0, -2.0, 0.5])


class Regression:
    """y = x·w learnt by a linear layer; ``scores`` (if given) are the validations returned in turn."""

    def __init__(self, model: nn.Module, scores: list[float] | None = None, pause: float = 0.0) -> None:
        generator = torch.Generator().manual_seed(0)
        self.x = torch.randn(512, 3, generator=generator)
        self.y = self.x @ WEIGHTS
        self.model, self.rng, self.pause = model, np.random.default_rng(0), pause
        self.scores = iter(scores) if scores is not None else None

    def _error(self, model: nn.Module, rows: torch.Tensor) -> torch.Tensor:
        device = next(model.parameters()).device
        return (model(self.x[rows].to(device)).squeeze(-1) - self.y[rows].to(device)).pow(2).mean()

    def step(self) -> StepOutcome:
        time.sleep(self.pause)
        rows = torch.from_numpy(self.rng.choice(512, 32))
        loss = self._error(self.model, rows)
        self.model.zero_grad(set_to_none=True)
        loss.backward()
        return StepOutcome(loss.item(), 32, 64)

    def validate(self, model: nn.Module) -> dict[str, float]:
        if self.scores is not None:
            return {"val_loss": next(self.scores)}
        with torch.no_grad():
            return {"val_loss": float(self._error(model, torch.arange(512)))}

    def state_dict(self) -> dict:
        return {"rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]


def make_loop(device="cpu", scores=None, pause=0.0, lr=0.05, **config) -> TrainingLoop:
    torch.manual_seed(0)
    model = nn.Linear(3, 1, bias=False).to(device)
    objective = Regression(model, scores, pause)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    settings = {"steps": 300, "ema_decay": 0.9, "eval_every": 50, "patience": 100, **config}
    return TrainingLoop(model, objective, optimizer, LoopConfig(**settings))


@pytest.mark.parametrize("device", visible_devices())
def test_learns_the_regression_and_keeps_the_best_average(device):
    loop = make_loop(device)
    state = loop.run(progress=False)
    assert state.step == 300 and state.stopped == "300 steps done"
    assert [row["step"] for row in state.history] == [50, 100, 150, 200, 250, 300]
    assert state.rows == 300 * 32 and state.nodes == 300 * 64
    learnt = loop.average.weight.detach().cpu().flatten()
    assert torch.allclose(learnt, WEIGHTS, atol=0.05)
    assert loop.average is not loop.model and not any(p.requires_grad for p in loop.average.parameters())
    assert state.best_score == min(row["val_loss"] for row in state.history)


def test_needs_a_budget():
    with pytest.raises(ValueError, match="needs a budget"):
        make_loop(steps=None)


def test_early_stopping_keeps_the_best_weights_in_either_direction():
    falling = make_loop(scores=[1.0, 0.5, 0.6, 0.7, 0.8], patience=3)
    state = falling.run(progress=False)
    assert state.stopped == "early stopping: the held-out loss stopped improving"
    assert state.step == 250 and state.best_step == 100 and state.best_score == 0.5
    rising = make_loop(scores=[0.5, 0.7, 0.6, 0.6, 0.9, 0.9], patience=2, lower_is_better=False)
    state = rising.run(progress=False)
    assert state.step == 200 and state.best_step == 100 and state.best_score == 0.7


def test_the_kept_average_is_the_best_evaluated_one():
    # a loop that stops at its second evaluation keeps the first one's average, not the last weights
    reference = make_loop(steps=50, lr_schedule="constant")
    reference.run(progress=False)
    loop = make_loop(scores=[0.1, 0.9], patience=1, lr_schedule="constant")
    loop.run(progress=False)
    assert torch.equal(loop.average.weight, reference.average.weight)


def test_not_a_number_never_counts_and_without_early_stopping_the_last_weights_are_kept():
    loop = make_loop(scores=[math.nan] * 6, patience=2)
    assert loop.run(progress=False).step == 100 and loop.state.best_score is None
    last = make_loop(scores=[0.1, 0.9, 0.9, 0.9, 0.9, 0.9], patience=1, early_stopping=False)
    state = last.run(progress=False)
    assert state.step == 300 and state.best_score is None and last.best_weights is None


def test_learning_rate_decays_linearly_or_stays():
    linear = make_loop(steps=100)
    linear.run(progress=False)
    assert linear.optimizer.param_groups[0]["lr"] == pytest.approx(0.005)
    constant = make_loop(steps=100, lr_schedule="constant")
    constant.run(progress=False)
    assert constant.optimizer.param_groups[0]["lr"] == 0.05


def test_no_average_validates_and_keeps_the_raw_weights():
    loop = make_loop(ema_decay=0.0)
    assert loop.average is loop.model
    loop.run(progress=False)
    assert torch.allclose(loop.model.weight.detach().flatten(), WEIGHTS, atol=0.05)


def test_a_time_cap_that_cuts_the_steps_is_reported_and_the_last_steps_evaluated():
    loop = make_loop(steps=100_000, max_minutes=0.01, pause=0.02)
    state = loop.run(progress=False)
    assert state.cut_short and 0 < state.step < 100_000
    assert f"reached at step {state.step} of the 100000 planned" in state.stopped
    assert state.history[-1]["step"] == state.step  # the steps after the last evaluation were scored
    by_time = make_loop(steps=None, max_minutes=0.01, pause=0.02)
    assert by_time.run(progress=False).stopped == "time budget of 0.01 minutes used"
    assert not by_time.state.cut_short and by_time.progress() == 1.0


def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path):
    straight = make_loop(checkpoint_every=100)
    straight.run(progress=False)
    checkpoint = tmp_path / "run" / "checkpoint.pt"

    class CrashError(Exception):
        pass

    crashing = make_loop(checkpoint_every=100)
    real = crashing._checkpoint

    def checkpoint_then_crash(path, fingerprint):
        real(path, fingerprint)
        if crashing.state.step == 200:
            raise CrashError

    crashing._checkpoint = checkpoint_then_crash
    with pytest.raises(CrashError):
        crashing.run(checkpoint, fingerprint="a", progress=False)
    with pytest.raises(CheckpointError, match="holds the checkpoint of another fit"):
        make_loop(checkpoint_every=100).run(checkpoint, fingerprint="b", progress=False)
    resumed = make_loop(checkpoint_every=100)
    state = resumed.run(checkpoint, fingerprint="a", progress=False)
    assert state.step == 300 and not checkpoint.exists()
    assert torch.equal(resumed.average.weight, straight.average.weight)
    assert [r["step"] for r in state.history] == [r["step"] for r in straight.state.history]


def test_an_unreadable_checkpoint_is_refused(tmp_path):
    checkpoint = tmp_path / "checkpoint.pt"
    checkpoint.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot be read"):
        make_loop().run(checkpoint, progress=False)
