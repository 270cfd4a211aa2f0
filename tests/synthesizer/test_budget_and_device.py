"""The training budget is a number of steps chosen from the data, so that a seed gives the same model on
a quiet and on a busy machine; a time cap that cuts it short is reported; the denoiser trains and samples
on every device torch sees."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import dbtwin.synthesizer.run_settings as training
from dbtwin.errors import OptionError
from dbtwin.nn.device import visible_devices
from dbtwin.synthesizer import Synthesizer
from dbtwin.synthesizer.run_settings import MAX_STEPS, MIN_STEPS, planned_steps
from dbtwin.validate import find_problems

SMALL = {"sample_steps": 3, "hidden": 16, "batch_size": 32, "progress": False}


def _weights(synth: Synthesizer) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu() for k, v in synth.model_.state_dict().items()}


def test_planned_steps_grow_with_the_rows_within_bounds():
    assert planned_steps(10, 256) == MIN_STEPS
    assert planned_steps(10**9, 256) == MAX_STEPS
    assert MIN_STEPS < planned_steps(40_000, 256) < MAX_STEPS
    assert planned_steps(40_000, 256) % 100 == 0
    assert planned_steps(40_000, 128) > planned_steps(40_000, 256)


def test_the_default_budget_is_steps_and_the_same_seed_gives_the_same_model_on_a_busy_machine(company, monkeypatch):
    monkeypatch.setattr(training, "MIN_STEPS", 30)  # the planned budget of the tiny database: 30 steps
    quiet = Synthesizer(random_state=3, **SMALL).fit(company)
    assert quiet.train_state_.step <= 30 and not quiet.train_state_.cut_short
    burners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"], stdout=subprocess.DEVNULL) for _ in range(3)
    ]
    try:
        busy = Synthesizer(random_state=3, **SMALL).fit(company)
    finally:
        for burner in burners:
            burner.kill()
    assert busy.train_state_.step == quiet.train_state_.step
    a, b = _weights(quiet), _weights(busy)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_time_cap_that_cuts_training_short_says_so(company, monkeypatch, caplog):
    monkeypatch.setattr(training, "MIN_STEPS", 10**6)  # more steps than a 0.01-minute cap allows
    monkeypatch.setattr(training, "MAX_STEPS", 10**6)
    with caplog.at_level("WARNING", logger="dbtwin.synthesizer.training"):
        synth = Synthesizer(max_minutes=0.01, random_state=0, **SMALL).fit(company)
    state = synth.train_state_
    assert state.cut_short and 0 < state.step < 10**6
    assert f"reached at step {state.step} of the 1000000 planned" in state.stopped
    assert "less trained than the same fit on a faster or quieter machine" in caplog.text


def test_a_time_budget_trains_for_the_time(company):
    synth = Synthesizer(max_minutes=0.02, budget="time", random_state=0, **SMALL).fit(company)
    assert synth.train_state_.stopped in ("time budget of 0.02 minutes used",) or "early stopping" in (
        synth.train_state_.stopped
    )
    assert not synth.train_state_.cut_short
    with pytest.raises(OptionError, match="budget: 'time' needs max_minutes"):
        Synthesizer(budget="time", **SMALL)  # refused when made, before any data is read
    with pytest.raises(OptionError, match="budget: must be one of steps, time, not 'minutes'"):
        Synthesizer(budget="minutes", **SMALL)


@pytest.mark.parametrize("device", visible_devices())
def test_fit_and_sample_on_each_device_keep_integrity_and_save_for_the_cpu(company, device, tmp_path):
    synth = Synthesizer(train_steps=6, random_state=1, device=device, **SMALL).fit(company)
    assert next(synth.model_.parameters()).device.type == torch.device(device).type
    twin = synth.sample(random_state=2)
    assert not [p for p in find_problems(twin) if p.severity == "error"]
    synth.save(tmp_path / "m")
    loaded = Synthesizer.load(tmp_path / "m")  # weights saved from any device load on the CPU
    loaded.device = "cpu"
    again = loaded.sample(random_state=2)
    assert again.schema.table_names == twin.schema.table_names
    for table in twin.schema.table_names:
        assert len(again[table]) == len(twin[table])


def test_cpu_and_each_device_draw_the_same_structure_and_close_values(company):
    """Random draws stay on the CPU: devices differ by floating point only."""
    devices = visible_devices()
    if len(devices) == 1:
        pytest.skip("only the CPU here")
    synth = Synthesizer(train_steps=6, random_state=1, device="cpu", **SMALL).fit(company)
    base = synth.sample(random_state=2)
    for device in devices[1:]:
        synth.device = device
        other = synth.sample(random_state=2)
        for table in base.schema.table_names:
            assert len(other[table]) == len(base[table])


def test_a_device_torch_does_not_see_is_refused_before_reading_the_data(company):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(OptionError, match="device: 'cuda' asks for a CUDA GPU, but torch sees none here"):
        Synthesizer(device="cuda", **SMALL).fit(company)
