"""The synthesizer end to end: integrity at every scale, the real schema, writing to SQLite and
PostgreSQL, save/load, resume, determinism. Training is kept tiny: these tests check behaviour, the
benchmarks measure quality."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from dbtwin import read, write
from dbtwin.errors import DestinationNotEmptyError
from dbtwin.nn.device import visible_devices
from dbtwin.nn.loop import TrainingLoop
from dbtwin.synthesizer import NotFittedError, Synthesizer
from dbtwin.synthesizer.memory import PASS_BYTES_PER_HIDDEN
from dbtwin.synthesizer.training import CHECKPOINT, Trainer
from dbtwin.validate import find_problems

TINY = {"train_steps": 4, "sample_steps": 3, "hidden": 16, "batch_size": 32, "progress": False}


@pytest.fixture(scope="module")
def chinook_model(chinook):
    return Synthesizer(random_state=0, **TINY).fit(chinook)


@pytest.fixture(scope="module")
def flights_model(flights_jan):
    return Synthesizer(random_state=0, **TINY).fit(flights_jan)


def _assert_valid_twin(real, fake, scale):
    assert find_problems(fake) == []  # unique keys, every FK resolves, NOT NULL respected, no empty table
    for name, table in real.schema.tables.items():
        ftable = fake.schema.table(name)
        assert ftable.column_names == table.column_names
        assert [c.dtype for c in ftable.columns] == [c.dtype for c in table.columns]
        assert ftable.primary_key == table.primary_key
        for col in table.columns:
            if not real[name][col.name].isna().any():
                assert not fake[name][col.name].isna().any(), f"{name}.{col.name} got NULLs"


@pytest.mark.parametrize("scale", [0.5, 1.0, 2.0])
def test_chinook_twin_is_valid_at_every_scale(chinook, chinook_model, scale):
    fake = chinook_model.sample(scale=scale, random_state=1)
    _assert_valid_twin(chinook, fake, scale)
    assert fake.num_rows("invoice") == round(412 * scale)
    assert fake.num_rows("genre") == 25  # a dimension table keeps its rows
    assert set(fake["genre"]["name"]) == set(chinook["genre"]["name"])


@pytest.mark.parametrize("scale", [0.5, 1.0, 2.0])
def test_flights_twin_is_valid_at_every_scale(flights_jan, flights_model, scale):
    fake = flights_model.sample(scale=scale, random_state=2)
    _assert_valid_twin(flights_jan, fake, scale)
    assert not fake["weather"].duplicated(["origin", "time_hour"]).any()
    # the composite key and the plain key agree on the origin of every flight
    joined = fake["flights"].merge(fake["weather"], on=["origin", "time_hour"], how="left", indicator=True)
    assert (joined["_merge"] == "both").all()


def test_twins_are_written_to_sqlite_and_postgres(chinook, chinook_model, flights_model, tmp_path, postgres_url):
    fake = chinook_model.sample(scale=1.0, random_state=3)
    write(fake, tmp_path / "twin.sqlite")
    back = read(tmp_path / "twin.sqlite", metadata=fake.schema)
    assert back.total_rows == fake.total_rows and find_problems(back) == []
    flights = flights_model.sample(scale=0.5, random_state=3)
    write(flights, postgres_url)
    back = read(postgres_url)
    assert back.total_rows == flights.total_rows and find_problems(back) == []


def test_rare_text_is_not_copied(chinook, chinook_model):
    fake = chinook_model.sample(random_state=4)
    real_emails = set(chinook["customer"]["email"])
    assert not real_emails & set(fake["customer"]["email"])
    assert fake["customer"]["email"].str.contains("@").all()


def test_sampling_is_deterministic_and_seeds_differ(chinook_model):
    a = chinook_model.sample(random_state=7)
    b = chinook_model.sample(random_state=7)
    c = chinook_model.sample(random_state=8)
    for name in a.tables:
        pd.testing.assert_frame_equal(a[name], b[name])
    assert not a["track"]["milliseconds"].equals(c["track"]["milliseconds"])


def test_fit_is_deterministic(chinook):
    a = Synthesizer(random_state=5, **TINY).fit(chinook).sample(random_state=0)
    b = Synthesizer(random_state=5, **TINY).fit(chinook).sample(random_state=0)
    pd.testing.assert_frame_equal(a["invoice"], b["invoice"])


def test_block_structure_gives_the_denoiser_each_rows_block(chinook, tmp_path):
    """With the sbm structure, blocks group rows by their values as well as their links; the denoiser
    takes each row's block (a synthetic row its template's), and a saved model keeps them."""
    synth = Synthesizer(structure="sbm", random_state=0, **TINY).fit(chinook)
    blocks = synth.row_blocks_
    assert "track" in blocks and len(blocks["track"]) == chinook.num_rows("track") and blocks["track"].max() >= 1
    assert synth.model_.block_counts["track"] == blocks["track"].max() + 1
    # the blocks follow the values: tracks of one block are closer in length than tracks at large
    ms = chinook["track"]["milliseconds"].to_numpy(dtype=float)
    within = np.mean([ms[blocks["track"] == b].std() for b in np.unique(blocks["track"])])
    assert within < ms.std()
    synth.save(tmp_path / "model")
    assert (tmp_path / "model" / "row_blocks.npz").exists()
    loaded = Synthesizer.load(tmp_path / "model")
    a, b = synth.sample(random_state=3), loaded.sample(random_state=3)
    pd.testing.assert_frame_equal(a["track"], b["track"])
    without = Synthesizer(structure="sbm", block_inputs=False, random_state=0, **TINY).fit(chinook)
    assert without.row_blocks_ == {} and without.model_.block_counts == {}


def test_save_load_gives_the_same_samples(chinook_model, tmp_path):
    chinook_model.save(tmp_path / "model")
    files = sorted(p.name for p in (tmp_path / "model").iterdir())
    assert files == [
        "config.json",
        "fixed_tables.npz",
        "kept_0.parquet",  # the real rows of the kept lookup tables: genre, media_type, playlist
        "kept_1.parquet",
        "kept_2.parquet",
        "rare_values.npz",
        "row_blocks.npz",
        "structure_sbm.npz",
        "weights.pt",
    ]
    config = json.loads((tmp_path / "model" / "config.json").read_text())
    assert config["format"] == "dbtwin-model" and config["denoiser"]["num_layers"] == 2
    loaded = Synthesizer.load(tmp_path / "model")
    a, b = chinook_model.sample(random_state=9), loaded.sample(random_state=9)
    for name in a.tables:
        pd.testing.assert_frame_equal(a[name], b[name])
    with pytest.raises(DestinationNotEmptyError):
        chinook_model.save(tmp_path / "model")


class SimulatedCrashError(Exception):
    pass


def _crash_after_first_checkpoint(params, db, checkpoints, monkeypatch) -> None:
    """A fit of ``db`` that dies right after writing its first checkpoint to ``checkpoints``."""
    real_checkpoint = TrainingLoop._checkpoint

    def checkpoint_then_die(self, path, fingerprint):
        real_checkpoint(self, path, fingerprint)
        raise SimulatedCrashError

    monkeypatch.setattr(TrainingLoop, "_checkpoint", checkpoint_then_die)
    with pytest.raises(SimulatedCrashError):
        Synthesizer(**params).fit(db, checkpoint_dir=checkpoints)
    monkeypatch.undo()
    assert (checkpoints / CHECKPOINT).exists()


def test_training_resumes_from_its_checkpoint(company, tmp_path, monkeypatch):
    params = {**TINY, "train_steps": 6, "random_state": 3, "checkpoint_every": 3}
    straight = Synthesizer(**params).fit(company)
    _crash_after_first_checkpoint(params, company, tmp_path, monkeypatch)
    resumed = Synthesizer(**params).fit(company, checkpoint_dir=tmp_path)
    assert resumed.train_state_.step == 6
    assert not (tmp_path / CHECKPOINT).exists()
    for p_a, p_b in zip(straight.model_.parameters(), resumed.model_.parameters(), strict=True):
        assert torch.allclose(p_a, p_b, atol=1e-6)


def test_single_table_ablation_runs(company):
    fake = Synthesizer(num_hops=0, random_state=0, **TINY).fit(company).sample(scale=2.0)
    assert find_problems(fake) == []


def test_unfitted_synthesizer_says_so():
    with pytest.raises(NotFittedError, match="call fit"):
        Synthesizer().sample()


def _denoised(chinook_model, memory_gb: float, steps: int = 2):
    from dbtwin.synthesizer.generation import denoise_graph

    graph, picks = chinook_model.structure_.sample(1.0, np.random.default_rng(0))
    fixed_num = {t: f[0] for t, f in chinook_model.fixed_features_.items()}
    fixed_cat = {t: f[1] for t, f in chinook_model.fixed_features_.items()}
    x_num, x_cat = denoise_graph(
        chinook_model.model_,
        graph,
        fixed_num,
        fixed_cat,
        chinook_model.gaussian_,
        chinook_model.masked_,
        steps=steps,
        generator=torch.Generator().manual_seed(0),
        memory_gb=memory_gb,
        progress=False,
        blocks=chinook_model.blocks_of(picks),
    )
    return graph, x_num, x_cat


def test_batched_passes_match_the_graph_size(chinook_model):
    """Large graphs are denoised in row batches with their neighbourhoods (bounded memory)."""
    hidden = chinook_model.model_.hidden
    graph, x_num, x_cat = _denoised(chinook_model, 2_000 * PASS_BYTES_PER_HIDDEN * hidden / 2**30)  # 2,000-row batches
    for table, spec in chinook_model.model_.tables.items():
        assert x_num[table].shape == (graph.num_nodes[table], spec.num_numeric)
        assert torch.isfinite(x_num[table]).all()
        if spec.cardinalities:  # after the last step nothing is left masked
            assert (x_cat[table] < torch.tensor(spec.cardinalities)).all()


def test_layer_wise_chunks_denoise_as_one_pass(chinook_model):
    """A budget that holds the graph's state matrices but not its whole pass: each layer is computed
    in chunks of 1,500 rows, with the same draws and the same result as one pass over the graph."""
    from dbtwin.synthesizer.memory import GRAPH_BYTES_PER_HIDDEN, chunk_rows

    hidden = chinook_model.model_.hidden
    total = sum(chinook_model.structure_.sample(1.0, np.random.default_rng(0))[0].num_nodes.values())
    budget = total * GRAPH_BYTES_PER_HIDDEN * hidden + 1_500 * (PASS_BYTES_PER_HIDDEN - GRAPH_BYTES_PER_HIDDEN) * hidden
    assert chunk_rows(total, budget, hidden) == 1_500 < total
    _, chunked_num, chunked_cat = _denoised(chinook_model, budget / 2**30, steps=3)
    _, whole_num, whole_cat = _denoised(chinook_model, 8.0, steps=3)
    for table in whole_num:
        torch.testing.assert_close(chunked_num[table], whole_num[table], rtol=1e-4, atol=1e-4)
        assert (chunked_cat[table] != whole_cat[table]).sum() <= 0.01 * whole_cat[table].numel()


def test_tables_named_like_torch_attributes(tmp_path):
    """Table names are module keys inside the denoiser: 'type', 'items' or 'train' must not clash."""
    from dbtwin import Database
    from dbtwin.schema import Column, ColumnKind, ForeignKey, Schema, StorageType, Table

    i, k = StorageType.INT64, ColumnKind
    rng = np.random.default_rng(0)
    schema = Schema(
        {
            "type": Table("type", [Column("id", i, k.ID, False), Column("size", i, k.INTEGER)], ("id",)),
            "items": Table(
                "items",
                [
                    Column("id", i, k.ID, False),
                    Column("type_id", i, k.ID, False),
                    Column("w", StorageType.FLOAT64, k.FLOAT),
                ],
                ("id",),
            ),
            "train": Table("train", [Column("item", i, k.ID, False), Column("n", i, k.INTEGER)]),
        },
        [ForeignKey("items", ("type_id",), "type", ("id",)), ForeignKey("train", ("item",), "items", ("id",))],
    )
    db = Database.from_frames(
        {
            "type": pd.DataFrame({"id": range(20), "size": rng.integers(0, 5, 20)}),
            "items": pd.DataFrame({"id": range(100), "type_id": rng.integers(0, 20, 100), "w": rng.normal(size=100)}),
            "train": pd.DataFrame({"item": rng.integers(0, 100, 150), "n": rng.integers(0, 9, 150)}),
        },
        schema,
    )
    model = Synthesizer(random_state=0, **TINY).fit(db)
    model.save(tmp_path / "m")
    fake = Synthesizer.load(tmp_path / "m").sample(random_state=0)
    assert find_problems(fake) == [] and fake.num_rows("train") > 0


def test_the_time_budget_is_used_and_decays_the_learning_rate(company, caplog, monkeypatch):
    """--max-minutes is a budget: no step cap ends training early, the learning rate decays over the
    time, and the log says why training stopped and how many rows a second it denoised."""
    import logging

    # the tiny database trains fast enough for early stopping to end it first: no patience limit here
    synth = Synthesizer(
        max_minutes=0.05, budget="time", patience=10**9, random_state=0, **{**TINY, "train_steps": None}
    )
    with caplog.at_level(logging.INFO, logger="dbtwin"):
        synth.fit(company)
    state = synth.train_state_
    assert state.stopped == "time budget of 0.05 minutes used" and state.seconds >= 3.0
    assert state.step >= 1 and state.rows > 0 and state.rows_per_second > 0
    assert "training for 0.05 minutes" in caplog.text and "rows denoised and" in caplog.text
    assert Synthesizer(**TINY).fit(company).train_state_.stopped == "4 steps done"  # a step cap alone


def _trainer_factory(db, known_inputs: bool = False):
    """A function that makes Trainers of a fresh K = 2 denoiser for ``db`` with the given TrainConfig."""
    from dbtwin.diffusion import GaussianScheduler, MaskedScheduler
    from dbtwin.graph import RowGraph
    from dbtwin.nn import HeteroDenoiser, TableSpec
    from dbtwin.synthesizer.run_settings import TrainConfig

    synth = Synthesizer(random_state=0, **TINY).fit(db)
    num, cat = synth.stages_.encoders.features(db)
    graph = RowGraph.from_database(db)
    specs = {t: TableSpec(e.num_numeric, e.cardinalities) for t, e in synth.encoders_.items()}
    model = HeteroDenoiser(specs, graph.edge_types(), hidden=16, known_inputs=known_inputs)

    def trainer(**config):
        return Trainer(model, graph, num, cat, set(), GaussianScheduler(), MaskedScheduler(), TrainConfig(**config), 0)

    return trainer


def test_trainer_needs_a_budget_and_decays_over_steps(company):
    trainer = _trainer_factory(company)
    with pytest.raises(ValueError, match="needs a budget"):
        trainer(steps=None)
    t = trainer(steps=10, learning_rate=1e-3)
    t.fit(progress=False)
    assert t.loop.progress() == 1.0 and t.optimizer.param_groups[0]["lr"] == pytest.approx(1e-4)


def test_loss_weighs_down_rows_that_miss_their_neighbourhood(chinook):
    """A training step scores every subgraph row; the rows reached in fewer than K hops (each has
    every kind of neighbour it has in the database inside the subgraph, as when sampling) weigh 1,
    the rows at hop K, which miss whole kinds of neighbours, weigh ``outer_weight``."""
    trainer = _trainer_factory(chinook)
    graph = trainer(steps=1).graph

    def step(**config):
        t = trainer(steps=1, fanout=3, **config)
        subs, sample = [], t.batches.sampler.sample
        t.batches.sampler.sample = lambda *a, **k: subs.append(sample(*a, **k)) or subs[-1]
        rng = np.random.default_rng(0)
        targets = t.batches.build(t._seeds(t.train_rows, 64, rng), rng, torch.Generator().manual_seed(0))[4]
        return subs[0], targets

    sub, targets = step(outer_weight=0.0)
    missing_outer = 0
    for table, (rows, _, _, _, weight, _) in targets.items():
        rows = rows.numpy()
        assert weight is None and rows.tolist() == np.flatnonzero(sub.hop[table] < 2).tolist()
        outer = np.flatnonzero(sub.hop[table] == 2)
        for et, ei in sub.edge_index.items():
            if et[0] != table:
                continue
            inside = np.bincount(ei[0], minlength=len(sub.nodes[table]))
            full = graph.csr(et).degree(sub.nodes[table])
            # neighbours are drawn with replacement up to the cap, then de-duplicated: at least one of each kind
            assert (inside[rows] >= np.minimum(full[rows], 1)).all(), et
            missing_outer += int(((inside[outer] == 0) & (full[outer] > 0)).sum())
    assert missing_outer > 0  # the rows left out do miss neighbours
    sub, targets = step(outer_weight=0.25)
    for table, (rows, _, _, _, weight, _) in targets.items():
        assert len(rows) == len(sub.nodes[table])
        assert weight.tolist() == np.where(sub.hop[table] < 2, 1.0, 0.25).tolist()
    sub, targets = step(outer_weight=1.0)
    assert all(w is None and len(r) == len(sub.nodes[t]) for t, (r, _, _, _, w, _) in targets.items())
    sub, targets = step(loss_on="seeds")
    assert all(r.tolist() == sub.seed_local[t].tolist() for t, (r, *_) in targets.items())
    assert set(targets) == set(sub.seed_local)
    t = trainer(steps=1, outer_weight=0.25)
    batch = t.batches.build({"track": np.arange(8)}, np.random.default_rng(1), torch.Generator().manual_seed(1))
    assert torch.isfinite(t._loss(t.model, batch))  # the weighted loss


def test_completion_steps_give_cells_clean_flag_them_and_score_the_rest(chinook):
    t = _trainer_factory(chinook, known_inputs=True)(steps=2, known_share=1.0)
    seeds = t._seeds(t.train_rows, 64, np.random.default_rng(0))
    batch = t.batches.build(seeds, np.random.default_rng(1), torch.Generator().manual_seed(0))
    x_num, _, _, _, targets, _, known = batch
    given = known["track"]
    assert given.dtype == torch.bool and given.any() and (~given).any()
    sub = t.batches.sampler.sample(
        seeds, random_state=int(np.random.default_rng(1).integers(2**31))
    )  # the batch's rows
    clean = t.batches.num["track"][torch.from_numpy(sub.nodes["track"])]
    assert torch.equal(x_num["track"][given], clean[given]) and not torch.equal(x_num["track"], clean)
    rows, *_, free = targets["track"]
    assert torch.equal(free, ~given[rows])  # the given numbers are not scored
    assert torch.isfinite(t._loss(t.model, batch))
    plain = _trainer_factory(chinook)(steps=1, known_share=1.0)  # a denoiser without the flags: no such steps
    assert plain.batches.build(seeds, np.random.default_rng(1), torch.Generator())[6] == {}


def test_steps_alone_hold_the_seed_rows_without_neighbours(chinook):
    trainer = _trainer_factory(chinook)
    t = trainer(steps=1, alone_share=0.5)
    rng = np.random.default_rng(0)
    seeds = t._seeds(t.train_rows, 64, rng)
    x_num, _, _, edges, targets, _, _ = t.batches.build(seeds, rng, torch.Generator().manual_seed(0), alone=True)
    assert edges == {} and {tb: x.shape[0] for tb, x in x_num.items()} == {tb: len(r) for tb, r in seeds.items()}
    assert all(len(r) == len(seeds[tb]) for tb, (r, *_) in targets.items())
    state = t.fit(progress=False)
    assert state.step == 1 and state.nodes > 0


def test_sampling_neighbourhoods_are_capped_as_in_training():
    from dbtwin.synthesizer.generation import capped

    dst = torch.cat([torch.zeros(30, dtype=torch.long), torch.ones(3, dtype=torch.long), torch.full((7,), 2)])
    edges = torch.stack([torch.arange(40), dst])
    kept = capped(edges, 5, torch.Generator().manual_seed(0))
    assert torch.bincount(kept[1]).tolist() == [5, 3, 5]
    assert set(kept[0][kept[1] == 1].tolist()) == {30, 31, 32}  # a row with few neighbours keeps them all
    assert set(kept[0].tolist()) <= set(range(40))


@pytest.mark.parametrize("device", visible_devices())
def test_batches_built_ahead_train_the_same_weights(company, device, tmp_path, monkeypatch):
    """--prefetch builds each step's batch in a thread while the step before runs: the same batches in
    the same order, so the same weights; a checkpoint taken while a batch is being built ahead resumes
    to them too, and the time the steps waited for batches is counted."""
    params = {**TINY, "train_steps": 6, "random_state": 5, "checkpoint_every": 3, "device": device}
    straight = Synthesizer(**params, prefetch=False).fit(company)
    ahead = Synthesizer(**params, prefetch=True).fit(company)
    for p_a, p_b in zip(straight.model_.parameters(), ahead.model_.parameters(), strict=True):
        assert torch.equal(p_a, p_b)
    assert 0 < ahead.train_state_.batch_seconds < ahead.train_state_.seconds
    _crash_after_first_checkpoint({**params, "prefetch": True}, company, tmp_path, monkeypatch)
    resumed = Synthesizer(**params, prefetch=True).fit(company, checkpoint_dir=tmp_path)
    assert resumed.train_state_.step == 6
    for p_a, p_b in zip(straight.model_.parameters(), resumed.model_.parameters(), strict=True):
        assert torch.allclose(p_a, p_b, atol=1e-6)


@pytest.mark.parametrize("device", visible_devices())
def test_batches_built_on_the_device_train_and_resume(chinook, device, tmp_path, monkeypatch):
    """--device-batches builds each batch with torch's ops on the denoiser's device: its features,
    subgraphs and noise live there. The fit learns (its held-out loss falls as the NumPy-built one's
    does), a run of it is reproducible, a checkpoint of it resumes to the same weights, and a
    checkpoint of batches built by NumPy resumes under it (its generator seeded afresh)."""
    params = {**TINY, "train_steps": 40, "random_state": 5, "checkpoint_every": 20, "eval_every": 20}
    params = {**params, "device": device, "batch_size": 64}
    numpy_built = Synthesizer(**params, device_batches=False).fit(chinook)
    on_device = Synthesizer(**params, device_batches=True).fit(chinook)
    assert on_device.train_state_.step == 40 and on_device.train_state_.rows > 40 * 64
    losses = {
        name: [h["val_loss"] for h in s.train_state_.history]
        for name, s in (("numpy", numpy_built), ("device", on_device))
    }
    assert losses["device"][-1] < losses["device"][0]
    assert abs(losses["device"][-1] - losses["numpy"][-1]) < 0.25 * losses["numpy"][-1], losses
    differs = any(
        not torch.equal(a, b)
        for a, b in zip(numpy_built.model_.parameters(), on_device.model_.parameters(), strict=True)
    )
    assert differs  # another sampler and generator: other batches
    again = Synthesizer(**params, device_batches=True).fit(chinook)
    for p_a, p_b in zip(on_device.model_.parameters(), again.model_.parameters(), strict=True):
        assert torch.equal(p_a, p_b)
    _crash_after_first_checkpoint({**params, "device_batches": True}, chinook, tmp_path, monkeypatch)
    resumed = Synthesizer(**params, device_batches=True).fit(chinook, checkpoint_dir=tmp_path)
    assert resumed.train_state_.step == 40
    for p_a, p_b in zip(on_device.model_.parameters(), resumed.model_.parameters(), strict=True):
        assert torch.allclose(p_a, p_b, atol=1e-6)
    _crash_after_first_checkpoint({**params, "device_batches": False}, chinook, tmp_path / "other", monkeypatch)
    crossed = Synthesizer(**params, device_batches=True).fit(chinook, checkpoint_dir=tmp_path / "other")
    assert crossed.train_state_.step == 40 and np.isfinite(crossed.train_state_.history[-1]["val_loss"])
    assert not find_problems(crossed.sample(random_state=0))
