"""The one typed config: checked when made, the same after a JSON round trip, set by flat names, the
source of every default (the trainer's, the sampler's, the command line's), the checkpoint's digest."""

from __future__ import annotations

import dataclasses
import inspect
import json

import pytest

from dbtwin.config import FLAT_NAMES, SynthesizerConfig, TrainingConfig
from dbtwin.errors import OptionError
from dbtwin.synthesizer import Synthesizer
from dbtwin.synthesizer.generation import denoise_graph
from dbtwin.synthesizer.run_settings import TrainConfig
from tests.test_cli_safety import assert_clean_failure, invoke, small_sqlite


def test_a_config_round_trips_through_json_equal():
    config = SynthesizerConfig(random_state=7).replace(
        structure="degree",
        num_hops=1,
        max_minutes=2.5,
        budget="time",
        epsilon=None,
        orphans="null",
        device="cpu",
        prefetch=True,
    )
    again = SynthesizerConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config and again.fingerprint() == config.fingerprint()
    assert SynthesizerConfig.from_dict({}) == SynthesizerConfig()  # missing sections take their defaults


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"structure": "magic"}, "structure: must be one of sbm, degree, real, not 'magic'"),
        ({"num_hops": -1}, "num_hops: must be a whole number from 0 to 8"),
        ({"train_steps": 0}, "train_steps: must be a whole number from 1"),
        ({"sample_steps": 10**9}, "sample_steps: must be a whole number from 1 to 10,000"),
        ({"memory_gb": 0}, "memory_gb: must be a number of GiB above 0"),
        ({"memory_gb": float("inf")}, "memory_gb: must be a number of GiB above 0"),
        ({"learning_rate": float("nan")}, "learning_rate: must be a number above 0"),
        ({"relations": "yes"}, "relations: must be true or false"),
        ({"prefetch": "yes"}, "prefetch: must be true or false"),
        ({"epsilon": 0}, "epsilon: must be a finite number above 0"),
        ({"delta": 1}, "delta: must lie strictly between 0 and 1"),
        ({"epsilon": 1, "structure": "real"}, "structure: 'real' copies the real links"),
        ({"budget": "time"}, "budget: 'time' needs max_minutes"),
        ({"colour": "red"}, "colour: is no option of the synthesizer"),
    ],
)
def test_wrong_options_are_refused_by_name_when_made(options, fragment):
    with pytest.raises(OptionError, match=fragment.replace("(", r"\(")):
        Synthesizer(**options)


def test_unknown_sections_and_options_in_a_file_are_refused():
    with pytest.raises(OptionError, match="bogus: is no section of the config"):
        SynthesizerConfig.from_dict({"bogus": {}})
    with pytest.raises(OptionError, match=r"training\.stepz: is no option of 'training'"):
        SynthesizerConfig.from_dict({"training": {"stepz": 3}})


def test_flat_names_read_and_set_the_config():
    synth = Synthesizer(num_hops=1, sample_steps=9)
    assert synth.num_hops == 1 == synth.config.denoiser.num_hops and synth.sample_steps == 9
    synth.sample_steps = 20  # the benchmark sets it between samples
    assert synth.config.sampling.steps == 20
    with pytest.raises(OptionError, match="sample_steps"):
        synth.sample_steps = 0
    assert set(SynthesizerConfig().flat()) == set(FLAT_NAMES)
    with pytest.raises(AttributeError):
        _ = synth.model_


def test_every_default_is_the_configs():
    """fanout, steps and the rest were 5 / 8 / 8 and 2000 / 1500 / 1000 in three places."""
    defaults = TrainingConfig()
    run = TrainConfig()
    for f in dataclasses.fields(TrainConfig):
        if hasattr(defaults, f.name):
            assert getattr(run, f.name) == getattr(defaults, f.name), f.name
    assert inspect.signature(denoise_graph).parameters["fanout"].default == defaults.fanout
    settings = TrainConfig.from_settings(TrainingConfig(fanout=3, patience=9), 40, None)
    assert (settings.fanout, settings.patience, settings.steps) == (3, 9, 40)


def test_the_checkpoint_digest_follows_the_config_and_not_the_device(company):
    from dbtwin.synthesizer.fingerprint import fit_fingerprint

    a = fit_fingerprint(company, Synthesizer(random_state=1).config)
    assert a == fit_fingerprint(company, Synthesizer(random_state=1, device="cpu", max_minutes=3).config)
    assert a == fit_fingerprint(company, Synthesizer(random_state=1, prefetch=True).config)  # same batches
    assert a != fit_fingerprint(company, Synthesizer(random_state=2).config)


def test_a_saved_model_keeps_its_config(company, tmp_path):
    synth = Synthesizer(train_steps=2, sample_steps=2, hidden=8, batch_size=16, random_state=4, progress=False)
    synth.fit(company).save(tmp_path / "m")
    saved = json.loads((tmp_path / "m" / "config.json").read_text())
    assert SynthesizerConfig.from_dict(saved["config"]) == synth.config and "params" not in saved
    assert Synthesizer.load(tmp_path / "m").config == synth.config


def test_fit_takes_a_config_file_with_options_over_it(tmp_path):
    src = small_sqlite(tmp_path / "src.sqlite")
    config = SynthesizerConfig().replace(train_steps=3, sample_steps=2, hidden=8, num_hops=1)
    (tmp_path / "c.json").write_text(json.dumps(config.to_dict()))
    result = invoke("fit", src, "--out", tmp_path / "m", "--config", tmp_path / "c.json", "--hops", "0")
    assert result.exit_code == 0, result.output
    fitted = Synthesizer.load(tmp_path / "m").config
    assert fitted == config.replace(num_hops=0)
    again = invoke("fit", src, "--out", tmp_path / "m2", "--config", tmp_path / "m" / "config.json")
    assert again.exit_code == 0, again.output  # a model's own config.json: fit again alike
    assert Synthesizer.load(tmp_path / "m2").config == fitted
    (tmp_path / "bad.json").write_text(json.dumps({"training": {"steps": -3}}))
    assert_clean_failure(
        invoke("fit", src, "--out", tmp_path / "m3", "--config", tmp_path / "bad.json"),
        "--config: '",
        "train_steps: must be a whole number",
    )
