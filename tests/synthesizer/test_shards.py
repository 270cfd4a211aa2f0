"""Sampling in shards: the union of the shards is one valid sample (every key unique, every foreign
key resolving, the real row counts at scale 1), small tables and tables whose keys could repeat are
drawn once and shared, every destination gets the same rows, and what cannot be split is refused by
name before any work."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from dbtwin import read, write
from dbtwin.cli import app
from dbtwin.errors import OptionError
from dbtwin.synthesizer import Synthesizer, shards
from dbtwin.synthesizer.memory import sample_bytes
from dbtwin.synthesizer.shards import plan_shards
from dbtwin.validate import find_problems
from tests.conftest import assert_same_database, ended_pid

QUICK = {"train_steps": 20, "sample_steps": 4, "hidden": 16, "batch_size": 64, "progress": False, "random_state": 0}


@pytest.fixture(scope="module")
def chinook_model(chinook):
    return Synthesizer(**QUICK).fit(chinook)


#: Chinook is small: split tables of at least 100 rows a shard
SMALL_SHARDS = 100


@pytest.fixture(scope="module")
def in_two(chinook_model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("spool")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(shards, "MIN_SHARD_ROWS", SMALL_SHARDS)
        return chinook_model.sample_shards(folder, scale=1.0, shards=2, random_state=3)


def test_the_shards_make_one_valid_sample_with_the_real_row_counts(chinook, chinook_model, in_two, tmp_path):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(shards, "MIN_SHARD_ROWS", SMALL_SHARDS)
        plan = plan_shards(chinook_model.stages_, 1.0, 2)
    # tables of fewer than 2 x 100 rows are drawn once, with their parents; the rest is split
    assert plan.shared == ["employee", "customer"]
    out = tmp_path / "twin.sqlite"
    write(in_two, str(out))
    twin = read(str(out))
    assert find_problems(twin) == []
    counts = {t: twin.num_rows(t) for t in twin.schema.table_names}
    # a playlist lists a track once: a shard holding half the tracks may not re-match a repeated pair (as
    # one sample does) and drops it, which the structure logs
    assert chinook.num_rows("playlist_track") - counts.pop("playlist_track") <= 5
    assert counts == {t: chinook.num_rows(t) for t in counts}
    for name in chinook_model.fixed_tables_:  # kept tables: their real rows, once
        assert_same_database(twin.subset([name]), chinook.subset([name]), check_kinds=False)
    # each shard drew its own half of the tracks, with keys counted on across shards
    assert sorted(twin["track"]["track_id"]) == list(range(1, chinook.num_rows("track") + 1))


def test_every_destination_gets_the_same_rows(in_two, tmp_path):
    write(in_two, str(tmp_path / "a.sqlite"))
    write(in_two, str(tmp_path / "b"), file_format="parquet")
    assert_same_database(read(str(tmp_path / "a.sqlite")), read(str(tmp_path / "b")), check_kinds=False)


def test_a_table_whose_key_could_repeat_across_shards_is_shared(chinook_model, monkeypatch):
    monkeypatch.setattr(shards, "MIN_SHARD_ROWS", 2_000)  # 3,503 tracks: too few to split in two
    plan = plan_shards(chinook_model.stages_, 1.0, 2)
    assert "track" in plan.shared
    # 8,715 rows, but its key (playlist_id, track_id) holds a kept and a shared table's keys: split, it could
    # repeat one
    assert "playlist_track" in plan.shared
    assert plan_shards(chinook_model.stages_, 1.0, 1).shared == []  # one shard shares nothing


def test_a_table_a_rule_sums_up_into_a_shared_parent_is_shared(chinook_model, monkeypatch):
    monkeypatch.setattr(shards, "MIN_SHARD_ROWS", 250)  # 412 invoices: shared
    plan = plan_shards(chinook_model.stages_, 1.0, 2)
    # invoice.total = sum(invoice_line.unit_price): split, the lines of the second shard would not be in it
    assert {"invoice", "invoice_line"} <= set(plan.shared)


def test_shards_are_a_sample_of_the_same_distribution(chinook_model, in_two, tmp_path):
    one = chinook_model.sample(random_state=3)
    both = read(_written(in_two, tmp_path))
    for column in ("milliseconds", "unit_price"):
        a, b = one["track"][column].astype(float), both["track"][column].astype(float)
        assert abs(np.median(a) - np.median(b)) <= 0.25 * a.std()


def test_what_cannot_be_split_is_refused_by_name(chinook, chinook_model, tmp_path):
    with pytest.raises(OptionError, match="shards: must be a whole number of 1 or more"):
        chinook_model.sample_shards(tmp_path / "s", shards=0)
    real = Synthesizer(**QUICK, structure="real").fit(chinook)
    with pytest.raises(OptionError, match="'real' structure copies the real links whole"):
        real.sample_shards(tmp_path / "s", shards=2)
    assert not (tmp_path / "s").exists()


def test_the_command_line_samples_in_shards_and_leaves_no_spool(chinook_model, tmp_path, monkeypatch):
    monkeypatch.setattr(shards, "MIN_SHARD_ROWS", SMALL_SHARDS)
    model = tmp_path / "model"
    chinook_model.save(model)
    out = tmp_path / "out" / "twin.sqlite"
    killed = _spool_of_a_killed_sample(out.parent)
    result = CliRunner().invoke(app, ["sample", str(model), "--out", str(out), "--shards", "2", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "(2 shards)" in result.output
    assert find_problems(read(str(out))) == []
    assert [p.name for p in out.parent.iterdir()] == ["twin.sqlite"]  # the spool beside it is gone
    said = "".join(result.output.split())  # the log wraps its lines
    assert f"removed{killed}:thespoolofasamplethatwaskilled" in said  # and the one a killed sample left
    for bad, message in (
        (["--shards", "0"], "--shards: must be a positive whole number"),
        (
            ["--shards", "2", "--given", str(out), "--keep", "customer"],
            "--shards: a sample around --given rows is drawn in one shard",
        ),
    ):
        result = CliRunner().invoke(app, ["sample", str(model), "--out", str(tmp_path / "x.sqlite"), *bad])
        assert result.exit_code == 2 and message in result.output, result.output


def _spool_of_a_killed_sample(parent):
    """A spool folder as a sample killed by SIGKILL leaves it: made by a process that has ended."""
    import json

    from dbtwin.io.abandoned import OWNER_FILE
    from dbtwin.io.shards import spool_folder

    folder = spool_folder(str(parent / "earlier.sqlite"))
    (folder / "0").mkdir()
    owner = json.loads((folder / OWNER_FILE).read_text())
    (folder / OWNER_FILE).write_text(json.dumps({**owner, "pid": ended_pid()}))
    return folder


def _written(sharded, tmp_path) -> str:
    out = tmp_path / "written"
    write(sharded, str(out))
    return str(out)


def test_a_sample_too_large_for_memory_is_refused_unless_its_shards_fit(chinook_model, monkeypatch):
    import dbtwin.synthesizer.model as model

    whole = sample_bytes(chinook_model.expected_rows(1.0), chinook_model.model_.hidden, None)
    monkeypatch.setattr(model, "physical_memory", lambda: whole - 1)
    with pytest.raises(OptionError, match=r"about 15,607 rows, .* sample it in \(more\) shards"):
        chinook_model.check_scale(1.0)
    monkeypatch.setattr(shards, "MIN_SHARD_ROWS", SMALL_SHARDS)
    assert shards.first_shard_rows(chinook_model.stages_, 1.0, 4) < 15_607 / 2
    chinook_model.check_scale(1.0, shards=4)  # its largest shard fits


def test_a_model_with_no_table_to_split_draws_one_shard(chinook_model, tmp_path, caplog):
    # at 1,000 rows a shard, every generated table of Chinook is shared: nothing is gained in two shards
    whole = chinook_model.sample_shards(tmp_path / "spool", scale=1.0, shards=2, random_state=0)
    assert whole.count == 1
    assert "no table can be split into 2 shards" in caplog.text
    assert find_problems(read(_written(whole, tmp_path))) == []


def test_held_rows_reach_the_denoiser_noised_to_each_steps_time(chinook, chinook_model, monkeypatch):
    """A later shard holds the shared tables' rows; the denoiser sees them as in training, noised to
    the step's time beside the noisy rows around them, not clean at time 0."""
    import torch

    from dbtwin.synthesizer.generation import denoise_graph

    model, seen = chinook_model.model_, []
    forward = model.forward_chunked

    def spy(x_num, x_cat, times, *rest):
        seen.append((x_num["track"].clone(), x_cat["track"].clone(), times["track"].clone()))
        return forward(x_num, x_cat, times, *rest)

    monkeypatch.setattr(model, "forward_chunked", spy)
    graph, picks = chinook_model.structure_.sample(1.0, np.random.default_rng(0))
    num, cat = chinook_model.stages_.encoders.encode("track", chinook["track"])
    fixed = chinook_model.fixed_features_
    denoise_graph(
        model, graph, {t: f[0] for t, f in fixed.items()}, {t: f[1] for t, f in fixed.items()},
        chinook_model.gaussian_, chinook_model.masked_, steps=2, generator=torch.Generator().manual_seed(0),
        progress=False, noised={"track": (num, cat)}, blocks=chinook_model.blocks_of(picks),
    )  # fmt: skip
    mask = torch.tensor(model.tables["track"].cardinalities)
    (first_num, first_cat, first_times), (second_num, second_cat, second_times) = seen
    assert (first_times == 1.0).all() and (second_times == 0.5).all()
    assert torch.corrcoef(torch.stack([first_num[:, 0], num[:, 0]]))[0, 1] < 0.2  # noise at t = 1
    assert torch.corrcoef(torch.stack([second_num[:, 0], num[:, 0]]))[0, 1] > 0.3  # half-way at t = 0.5
    assert (first_cat == mask).float().mean() > 0.95
    assert 0.3 < (second_cat == mask).float().mean() < 0.7
    shown = second_cat != mask
    assert (second_cat[shown] == cat[shown]).all()  # what is not masked is the held code


def test_a_terminated_sample_leaves_no_spool_and_no_destination(chinook_model, tmp_path):
    """SIGTERM (as torchrun sends the other ranks when one fails, or a scheduler at its time limit)
    ends a sample in shards as Ctrl-C does: the spool is removed and nothing is written."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    model = tmp_path / "model"
    chinook_model.save(model)
    src = Path(__file__).resolve().parents[2] / "src"
    command = [sys.executable, "-m", "dbtwin", "sample", str(model), "--out", "twin.sqlite", "--scale", "30"]
    env = {**os.environ, "PYTHONPATH": str(src)}
    run = subprocess.Popen([*command, "--shards", "3"], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".dbtwin-shards-*/0")) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # until the first shard is spooled
    assert run.poll() is None, "the sample ended before it could be stopped"
    run.send_signal(signal.SIGTERM)
    _out, err = run.communicate(timeout=120)
    assert run.returncode == 130, err[-2000:]
    assert "interrupted" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_a_spool_not_every_process_sees_is_refused_before_any_work(chinook_model, tmp_path, monkeypatch):
    """Ranks on several machines spool into the folder rank 0 made: where a rank cannot see it (no
    shared file system), the sample is refused by option before any shard is drawn."""
    import dbtwin.cli_sample as cli_sample

    model = tmp_path / "model"
    chinook_model.save(model)
    elsewhere = tmp_path / "on-another-machine"
    monkeypatch.setattr(cli_sample, "spool_folder", lambda _out: elsewhere)
    monkeypatch.setattr(Synthesizer, "sample_shards", lambda *a, **k: pytest.fail("drew shards"))
    out = tmp_path / "twin.sqlite"
    result = CliRunner().invoke(app, ["sample", str(model), "--out", str(out), "--shards", "2"])
    assert result.exit_code == 2, result.output
    assert "--shards: the spool folder rank 0 made" in result.output and "file system they share" in result.output
    assert not out.exists()


def test_a_sigterm_whose_exception_was_swallowed_still_writes_nothing(chinook_model, tmp_path, monkeypatch):
    """The SIGTERM handler's exception can be cleared unseen by C code that calls back into Python (an
    attribute lookup, a finaliser): the sample still ends, before writing, as Ctrl-C ends it."""
    import os
    import signal
    import time

    model = tmp_path / "model"
    chinook_model.save(model)
    drawn = Synthesizer.sample_shards

    def swallowed_then_drawn(*args, **kwargs):
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises here, and what called it drops the exception
        except KeyboardInterrupt:
            pass
        return drawn(*args, **kwargs)

    monkeypatch.setattr(Synthesizer, "sample_shards", swallowed_then_drawn)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["sample", str(model), "--out", "twin.sqlite", "--shards", "2"])
    assert result.exit_code == 130, result.output
    assert "interrupted" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
