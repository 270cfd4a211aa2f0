"""Data-parallel training across processes: ``torchrun -m dbtwin fit`` on two CPU ranks (gloo) yields a
model that samples with integrity, the ranks keep the same weights at every step, and a world of one
changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from dbtwin.nn import distributed
from dbtwin.nn.distributed import World

REPO = Path(__file__).resolve().parents[2]


def _torchrun(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_a_world_of_one_passes_values_through():
    one = World()
    assert one.is_main and not one.is_distributed
    assert one.any(True) and not one.any(False)
    assert one.mean({"loss": 2.5}) == {"loss": 2.5}
    assert one.total(7) == 7 and one.gather({"a": 1}) == [{"a": 1}]
    assert distributed.world() == one  # no process group outside torchrun
    model = torch.nn.Linear(2, 2)
    assert distributed.wrap(model, one) is model


def test_a_launcher_without_a_meeting_point_is_refused(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    monkeypatch.setenv("RANK", "0")
    from dbtwin.errors import OptionError

    with pytest.raises(OptionError, match="MASTER_ADDR"):
        distributed.join("cpu")


RANKS_AGREE = textwrap.dedent(
    """
    import json, sys
    import torch
    import torch.distributed as dist
    from dbtwin import datasets
    from dbtwin.nn import distributed
    from dbtwin.synthesizer import Synthesizer

    here = distributed.join("cpu")
    on_device = sys.argv[2] == "device"
    synth = Synthesizer(train_steps=12, random_state=3, progress=False, device="cpu", device_batches=on_device)
    synth.fit(datasets.load("chinook"))
    flat = torch.cat([p.detach().flatten() for p in synth.model_.parameters()])
    every = [torch.zeros_like(flat) for _ in range(here.size)]
    dist.all_gather(every, flat)
    if here.is_main:
        state = synth.train_state_
        out = {"same": all(torch.equal(every[0], w) for w in every), "steps": state.step,
               "rows": state.rows, "history": state.history, "size": here.size}
        open(sys.argv[1], "w").write(json.dumps(out))
    distributed.leave()
    """
)


@pytest.mark.parametrize("batches", ["numpy", "device"])
def test_ranks_train_the_same_weights_on_their_own_rows(tmp_path, batches):
    """Each rank its own seed rows, batches built by NumPy or by torch on the device (here the CPU)."""
    script = tmp_path / "agree.py"
    script.write_text(RANKS_AGREE)
    done = _torchrun(str(script), str(tmp_path / "out.json"), batches, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads((tmp_path / "out.json").read_text())
    assert out["size"] == 2 and out["steps"] == 12
    assert out["same"], "the ranks' weights drifted apart"
    # each rank drew its share of the batch (256 seed rows by default, 128 a rank), counted over both
    assert out["rows"] >= 12 * 256
    assert out["history"] and all(h["val_loss"] == h["val_loss"] for h in out["history"])


@pytest.mark.slow
def test_torchrun_fit_and_sharded_sample_match_one_process(tmp_path):
    """A model fitted by two ranks samples with integrity; two ranks sampling shards give the twin one
    process gives: the same rows per table (the structure is drawn alike) and column shapes alike."""
    from dbtwin import datasets
    from dbtwin.evaluate.fidelity import column_shapes
    from dbtwin.sources import read
    from dbtwin.synthesizer import Synthesizer
    from dbtwin.validate import find_problems

    done = _torchrun("-m", "dbtwin", "fit", "chinook", "--out", "model", "--steps", "30", "--seed", "0", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("model saved to") == 1  # rank 0 alone reports and writes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no checkpoint left, nothing else written
    done = _torchrun("-m", "dbtwin", "sample", "model", "--out", "shards.sqlite", "--seed", "0", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("sampled") == 1
    synth = Synthesizer.load(tmp_path / "model")
    assert synth.train_state_.step == 30
    one, shards = synth.sample(1.0, random_state=0), read(str(tmp_path / "shards.sqlite"))
    for twin in (one, shards):
        assert not [p for p in find_problems(twin) if p.severity == "error"]
    assert {t: len(f) for t, f in shards.tables.items()} == {t: len(f) for t, f in one.tables.items()}
    real = datasets.load("chinook")
    scores = [sum(column_shapes(real, twin).values()) / len(column_shapes(real, twin)) for twin in (one, shards)]
    assert abs(scores[0] - scores[1]) < 0.03, scores
    _two_ranks_draw_the_shards_one_process_draws(tmp_path)


def _two_ranks_draw_the_shards_one_process_draws(tmp_path):
    """Two ranks draw the shards of a sample in parallel (rank 1 the second while rank 0 draws the
    third): the very twin one process draws in the same shards from the same seed, and no spool is left."""
    from dbtwin.sources import read
    from dbtwin.validate import find_problems
    from tests.conftest import assert_same_database

    args = ["sample", "model", "--scale", "8", "--shards", "3", "--seed", "4"]  # shards of 1,000 rows and more
    done = _torchrun("-m", "dbtwin", *args, "--out", "ranks.sqlite", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("sampled") == 1 and "(3 shards)" in done.stdout
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    one = subprocess.run([sys.executable, "-m", "dbtwin", *args, "--out", "one.sqlite"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert one.returncode == 0, one.stderr[-3000:]
    ranks, alone = read(str(tmp_path / "ranks.sqlite")), read(str(tmp_path / "one.sqlite"))
    assert not [p for p in find_problems(ranks) if p.severity == "error"]
    assert ranks.num_rows("playlist_track") == 8 * 8_715  # split in three
    assert_same_database(ranks, alone)
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".dbtwin-shards-")]
