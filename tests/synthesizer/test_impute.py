"""Imputation: NULL cells filled from the model conditioned on the known ones; known cells, keys and row
counts never change, no masked cell stays NULL, the source is never written; on every bundled dataset."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from dbtwin import Database, datasets, read, write
from dbtwin.cli import app
from dbtwin.errors import OptionError
from dbtwin.synthesizer import Synthesizer
from dbtwin.synthesizer.generation import Known
from dbtwin.validate import find_problems

QUICK = {"train_steps": 20, "sample_steps": 4, "hidden": 16, "batch_size": 64, "progress": False, "random_state": 0}


def with_holes(db: Database, share: float, seed: int = 0) -> tuple[Database, dict[tuple[str, str], np.ndarray]]:
    """``db`` with ``share`` of the cells of every generated, non-key column set to NULL (the columns made
    nullable), and which rows of each column were masked."""
    rng = np.random.default_rng(seed)
    schema = copy.deepcopy(db.schema)
    frames, masked = {t: f.copy() for t, f in db.tables.items()}, {}
    for name, table in schema.tables.items():
        keys = schema.key_columns(name)
        for i, col in enumerate(table.columns):
            if col.name in keys or not len(frames[name]):
                continue
            rows = rng.random(len(frames[name])) < share
            frames[name].loc[rows, col.name] = None
            masked[(name, col.name)] = rows & db[name][col.name].notna().to_numpy()
            table.columns[i] = dataclasses.replace(col, nullable=True)
    return Database.from_frames(frames, schema), masked


def assert_known_cells_kept(before: Database, after: Database) -> None:
    for name in before.schema.table_names:
        assert len(after[name]) == len(before[name]), name
        for column in before.schema.table(name).column_names:
            known = before[name][column].notna().to_numpy()
            a = after[name][column].astype(object).to_numpy()[known]
            b = before[name][column].astype(object).to_numpy()[known]
            same = [x == y or (x != x and y != y) for x, y in zip(a, b, strict=True)]  # NaN stays NaN
            assert all(same), f"{name}.{column}: a known cell changed"


@pytest.mark.parametrize("name", datasets.BUNDLED)
def test_no_known_cell_changes_and_no_masked_cell_stays_null(name):
    real = datasets.load(name)
    holed, masked = with_holes(real, 0.1)
    synth = Synthesizer(**QUICK).fit(holed)
    filled = synth.impute(holed, random_state=1)
    assert_known_cells_kept(holed, filled)
    assert_known_cells_kept(holed, synth.impute(holed, random_state=1, draws=2))  # estimates too
    derived = {(t, c) for t in real.schema.table_names for c in synth.derived_columns(t)}
    for (table, column), rows in masked.items():
        still = filled[table][column].isna().to_numpy() & rows
        if (table, column) in derived:
            continue  # computed by its exact relation, which may give NULL (a state where a city has none)
        assert not still.any(), f"{table}.{column}: {still.sum()} masked cells left NULL"
    assert [str(p) for p in find_problems(filled)] == [str(p) for p in find_problems(holed)]  # orphans stay
    assert holed[next(iter(masked))[0]].isna().any().any()  # the caller's database is not changed


@pytest.fixture(scope="module")
def holed_chinook(chinook):
    holed, masked = with_holes(chinook, 0.2, seed=3)
    return holed, masked, Synthesizer(**QUICK).fit(holed)


def test_a_copy_runs_backwards_to_its_parent(holed_chinook):
    """A customer's masked country is its invoices' billing country wherever one of them is known."""
    holed, masked, synth = holed_chinook
    copies = [r for r in synth.rules_ if r.kind == "copy" and r.column == "billing_country"]
    assert copies and copies[0].parent_column == "country"
    rows = np.flatnonzero(masked[("customer", "country")])
    invoices = holed["invoice"]
    shown = set(invoices.loc[invoices["billing_country"].notna(), "customer_id"])
    seen = [r for r in rows if holed["customer"]["customer_id"].iloc[r] in shown]
    assert seen
    filled = synth.impute(holed, columns=["customer.country"], random_state=4)
    truth = datasets.load("chinook")["customer"]["country"]
    assert filled["customer"]["country"].iloc[seen].tolist() == truth.iloc[seen].tolist()
    assert_known_cells_kept(holed, filled)


def test_only_the_named_columns_are_filled(holed_chinook):
    holed, _, synth = holed_chinook
    filled = synth.impute(holed, columns=["track.milliseconds", "customer.country"], random_state=2)
    assert filled["track"]["milliseconds"].notna().all() and filled["customer"]["country"].notna().all()
    for table, column in (("track", "composer"), ("invoice", "total")):
        assert filled[table][column].isna().sum() == holed[table][column].isna().sum()
    assert_known_cells_kept(holed, filled)


def test_keys_and_unknown_columns_are_refused(holed_chinook):
    holed, _, synth = holed_chinook
    with pytest.raises(OptionError, match=r"'track\.track_id' is a key: keys are never imputed"):
        synth.impute(holed, columns=["track.track_id"])
    with pytest.raises(OptionError, match=r"'track\.colour' names no table\.column"):
        synth.impute(holed, columns=["track.colour"])


@pytest.mark.parametrize("rounds", [1, 3])
def test_the_engine_holds_known_values_and_never_draws_a_forbidden_code(holed_chinook, rounds):
    holed, _, synth = holed_chinook
    stages = synth.stages_
    from dbtwin.graph import RowGraph
    from dbtwin.synthesizer.impute import cells_to_fill, known_values, row_blocks

    known = known_values(holed, stages, cells_to_fill(holed, stages, None))
    blocks = row_blocks(holed, stages, np.random.default_rng(0))
    graph, generator = RowGraph.from_database(holed), torch.Generator().manual_seed(0)
    x_num, x_cat = stages.features.generate(
        graph, {}, synth.config, generator, blocks, False, known=known, real=holed, rounds=rounds
    )
    for table, held in known.items():
        assert torch.equal(x_num[table][held.num_mask], held.num[held.num_mask])
        assert torch.equal(x_cat[table][held.cat_mask], held.cat[held.cat_mask])
        for j, code in held.forbidden.items():
            assert not (x_cat[table][~held.cat_mask[:, j], j] == code).any()
    assert any(h.forbidden for h in known.values())


def test_known_is_a_mask_per_cell():
    held = Known(
        torch.zeros(3, 1),
        torch.tensor([[True], [False], [True]]),
        torch.zeros(3, 1, dtype=torch.long),
        torch.tensor([[True], [True], [False]]),
    )
    assert held.whole_rows.tolist() == [True, False, False]


def test_the_command_line_fills_a_copy_and_never_writes_the_source(tmp_path, holed_chinook):
    holed, _, synth = holed_chinook
    src, model, out = tmp_path / "holes.sqlite", tmp_path / "model", tmp_path / "filled.sqlite"
    write(holed, src)
    synth.save(model)
    before = src.read_bytes()
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "impute",
            str(src),
            "--model",
            str(model),
            "--out",
            str(out),
            "--columns",
            "track.milliseconds",
            "--seed",
            "0",
            "--rounds",
            "2",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "filled" in result.output and src.read_bytes() == before
    filled = read(out)
    assert filled["track"]["milliseconds"].notna().all()
    onto = runner.invoke(app, ["impute", str(src), "--model", str(model), "--out", str(src), "--replace"])
    assert onto.exit_code == 2 and src.read_bytes() == before
    bad = runner.invoke(
        app,
        ["impute", str(src), "--model", str(model), "--out", str(tmp_path / "x.sqlite"), "--columns", "track.track_id"],
    )
    assert bad.exit_code == 2 and "--columns: 'track.track_id' is a key" in " ".join(bad.output.split())
    zero = runner.invoke(
        app, ["impute", str(src), "--model", str(model), "--out", str(tmp_path / "y.sqlite"), "--draws", "0"]
    )
    assert zero.exit_code == 2 and "--draws" in zero.output and not (tmp_path / "y.sqlite").exists()
    no_rounds = runner.invoke(
        app, ["impute", str(src), "--model", str(model), "--out", str(tmp_path / "y.sqlite"), "--rounds", "0"]
    )
    assert no_rounds.exit_code == 2 and "--rounds" in no_rounds.output and not (tmp_path / "y.sqlite").exists()
    from dbtwin.synthesizer.impute import ROUNDS

    assert f"(default: {ROUNDS})" in " ".join(runner.invoke(app, ["impute", "--help"]).output.split())
    share = runner.invoke(app, ["fit", str(src), "--out", str(tmp_path / "m2"), "--known-share", "1.5"])
    assert share.exit_code == 2 and "--known-share" in share.output and not (tmp_path / "m2").exists()


@pytest.fixture(scope="module")
def completing_chinook(chinook):
    """A model trained to complete rows: every batch holds random cells clean, flagged as known."""
    holed, masked = with_holes(chinook, 0.2, seed=4)
    return holed, masked, Synthesizer(**QUICK, known_share=1.0).fit(holed)


def test_a_model_trained_to_complete_rows_takes_flags_keeps_known_cells_and_reloads(completing_chinook, tmp_path):
    holed, masked, synth = completing_chinook
    model = synth.stages_.features.model
    assert model.known_inputs and synth.config.training.known_share == 1.0
    filled = synth.impute(holed, random_state=5)
    assert_known_cells_kept(holed, filled)
    for (table, column), rows in masked.items():
        if column in synth.derived_columns(table):
            continue
        assert not (filled[table][column].isna().to_numpy() & rows).any(), f"{table}.{column}"
    synth.save(tmp_path / "model")
    again = Synthesizer.load(tmp_path / "model")
    assert again.stages_.features.model.known_inputs
    refilled = again.impute(holed, random_state=5)
    for name in holed.schema.table_names:
        assert filled[name].astype(object).equals(refilled[name].astype(object)), name


def test_the_known_flags_change_what_the_denoiser_predicts(completing_chinook):
    _, _, synth = completing_chinook
    model = synth.stages_.features.model
    spec = model.tables["track"]
    x_num, x_cat = torch.zeros(4, spec.num_numeric), torch.zeros(4, len(spec.cardinalities), dtype=torch.long)
    flags = torch.ones(4, spec.num_numeric, dtype=torch.bool)
    plain = model.inputs[model.keys.table["track"]](x_num, x_cat)
    flagged = model.inputs[model.keys.table["track"]](x_num, x_cat, flags)
    assert not torch.allclose(plain, flagged)
    assert torch.equal(plain, model.inputs[model.keys.table["track"]](x_num, x_cat, ~flags))  # absent = not known


def test_known_share_is_refused_outside_0_to_1():
    with pytest.raises(OptionError, match="known_share"):
        Synthesizer(known_share=1.5)


def test_several_draws_give_each_cell_the_mean_or_the_most_frequent_value():
    from dbtwin.schema.model import Column, ColumnKind, Schema, StorageType, Table
    from dbtwin.synthesizer.impute import estimate

    schema = Schema(
        {
            "t": Table(
                "t",
                [
                    Column("id", StorageType.INT64, ColumnKind.ID),
                    Column("n", StorageType.INT64, ColumnKind.INTEGER),
                    Column("x", StorageType.FLOAT64, ColumnKind.FLOAT),
                    Column("d", StorageType.DATETIME, ColumnKind.DATETIME),
                    Column("c", StorageType.STRING, ColumnKind.CATEGORICAL),
                ],
                primary_key=["id"],
            )
        }
    )
    draws = [
        Database.from_frames(
            {
                "t": pd.DataFrame(
                    {
                        "id": [1, 2],
                        "n": [n, 7],
                        "x": [x, 0.5],
                        "d": pd.to_datetime([d, "2020-01-01"]),
                        "c": [c, "keep"],
                    }
                )
            },
            schema,
        )
        for n, x, d, c in ((1, 1.0, "2020-01-01", "a"), (2, 2.0, "2020-01-03", "b"), (4, 4.5, "2020-01-05", "b"))
    ]
    rows = np.array([0])
    out = estimate(draws, {"t": {"n": rows, "x": rows, "d": rows, "c": rows}})["t"]
    assert out["n"].tolist() == [2, 7]  # mean 2.33, rounded
    assert out["x"].tolist() == [2.5, 0.5]
    assert pd.Timestamp(out["d"][0]) == pd.Timestamp("2020-01-03") and out["c"].tolist() == ["b", "keep"]
    # a label picked per row by the draws' summed probabilities: the likeliest, not the most drawn
    picked = estimate(draws, {"t": {"n": rows, "c": rows}}, {"t": {"c": np.array([0]), "n": np.array([0])}})["t"]
    assert picked["c"].tolist() == ["a", "keep"] and picked["n"].tolist() == [2, 7]  # numbers: still the mean


def test_the_likeliest_draw_is_the_one_whose_code_the_summed_distributions_favour():
    from types import SimpleNamespace

    import torch

    from dbtwin.synthesizer.impute import likeliest

    encoder = SimpleNamespace(
        missing_flag={"n": 1}, categorical=[SimpleNamespace(column="c"), SimpleNamespace(column="n")]
    )
    stages = SimpleNamespace(encoders=SimpleNamespace(encoders={"t": encoder}))
    # three draws of two rows: codes drawn 1, 1, 0 (row 0) and 2, 0, 0 (row 1)
    codes = [
        {"t": torch.tensor([[1, 0], [2, 0]])},
        {"t": torch.tensor([[1, 0], [0, 0]])},
        {"t": torch.tensor([[0, 0], [0, 0]])},
    ]
    total = {"t": {0: torch.tensor([[1.5, 1.2, 0.3], [0.4, 0.3, 2.3]]), 1: torch.ones(2, 2)}}
    picks = likeliest(stages, {"t": {"c": np.array([0, 1]), "n": np.array([0, 1])}}, codes, total)
    # row 0: code 0 (1.5) beats code 1 (1.2) though drawn once against twice; row 1: code 2, drawn once
    assert picks == {"t": {"c": picks["t"]["c"]}} and picks["t"]["c"].tolist() == [2, 0]


def test_draws_above_one_fill_every_cell_and_keep_known_ones(holed_chinook):
    holed, masked, synth = holed_chinook
    one = synth.impute(holed, random_state=7)
    best = synth.impute(holed, random_state=7, draws=3)
    assert_known_cells_kept(holed, best)
    rows = masked[("track", "milliseconds")]
    assert best["track"]["milliseconds"][rows].notna().all()
    assert not best["track"]["milliseconds"][rows].equals(one["track"]["milliseconds"][rows])
    with pytest.raises(OptionError, match="draws"):
        synth.impute(holed, draws=0)


def test_null_cells_of_a_not_null_column_are_filled_and_it_is_declared_not_null_again(chinook):
    synth = Synthesizer(**QUICK).fit(chinook)  # fitted where track.milliseconds is NOT NULL
    assert not synth.schema_.table("track").column("milliseconds").nullable
    frames = {t: f.copy() for t, f in chinook.tables.items()}
    frames["track"]["milliseconds"] = frames["track"]["milliseconds"].astype("Int64")
    frames["track"].loc[:9, "milliseconds"] = pd.NA
    holes = Database(copy.deepcopy(synth.schema_), frames)
    filled = synth.impute(holes, columns=["track.milliseconds"], random_state=0)
    assert filled["track"]["milliseconds"].notna().all()
    assert not filled.schema.table("track").column("milliseconds").nullable


def test_rows_to_fill_in_a_block_that_marks_them_get_blocks_of_rows_without():
    """A learnt block may say which rows were NULL (blocks are learnt from the values, NULLs included):
    its rows to fill draw their block from the rows with nothing to fill; the others keep theirs."""
    from types import SimpleNamespace

    from dbtwin.synthesizer.impute import row_blocks

    learnt = np.repeat([0, 1, 2], [100, 100, 50])  # block 2: rows whose cells are NULL
    stages = SimpleNamespace(structure=SimpleNamespace(blocks={"t": learnt}))
    db = SimpleNamespace(num_rows=lambda table: len(learnt))
    fill = {"t": {"a": np.r_[0, 200:230], "b": np.arange(230, 250)}}
    blocks = row_blocks(db, stages, np.random.default_rng(0), fill)["t"].numpy()
    assert blocks[:200].tolist() == learnt[:200].tolist() and set(blocks[200:]) == {0, 1}  # row 0's block marks nothing
    assert row_blocks(db, stages, np.random.default_rng(0))["t"].numpy().tolist() == learnt.tolist()
    # most rows have a cell to fill, in one column or another: no block marks a column's NULLs
    spread = {c: np.r_[25 * i : 25 * i + 25, 100 + 25 * i : 125 + 25 * i] for i, c in enumerate("abcd")}
    assert row_blocks(db, stages, np.random.default_rng(0), {"t": spread})["t"].numpy().tolist() == learnt.tolist()
    # a few NULLs in a small block are chance, not a mark
    chance = {"t": {"a": np.r_[0:3, 200:203]}}  # 3 of block 2's 50 rows: over twice the table's share
    assert row_blocks(db, stages, np.random.default_rng(0), chance)["t"].numpy().tolist() == learnt.tolist()
    # most of a column NULL, all of it in blocks 1 and 2 (Berka at 50%): their rows draw block 0
    held = {"t": {"a": np.r_[0, 100:250]}}
    assert row_blocks(db, stages, np.random.default_rng(0), held)["t"].numpy().tolist() == [0] * 250


def test_resampling_rounds_redraw_the_numbers_to_fill_and_keep_known_ones(holed_chinook):
    holed, masked, synth = holed_chinook
    once, thrice = (synth.impute(holed, random_state=7, rounds=r) for r in (1, 3))
    assert_known_cells_kept(holed, thrice)
    rows = masked[("track", "milliseconds")]
    assert thrice["track"]["milliseconds"][rows].notna().all()
    assert not thrice["track"]["milliseconds"][rows].equals(once["track"]["milliseconds"][rows])
    for bad in (0, 1.5, True):
        with pytest.raises(OptionError, match="rounds"):
            synth.impute(holed, rounds=bad)


def test_a_jump_back_noises_the_unknown_numbers_to_the_later_time_and_leaves_the_known():
    from dbtwin.diffusion import GaussianScheduler
    from dbtwin.synthesizer.generation import _jumped_back

    n, gaussian = 200_000, GaussianScheduler()
    known_rows = torch.arange(n) % 4 == 0
    held = Known(
        torch.zeros(n, 1), known_rows[:, None], torch.zeros(n, 0, dtype=torch.long), torch.ones(n, 0, dtype=torch.bool)
    )
    x_s = torch.full((n, 1), 2.0)
    out = _jumped_back(held, x_s, gaussian, 0.3, 0.5, torch.Generator().manual_seed(0))
    ratio = float(gaussian.alpha_bar(torch.tensor(0.5)) / gaussian.alpha_bar(torch.tensor(0.3)))
    assert torch.equal(out[known_rows], x_s[known_rows])
    moved = out[~known_rows]
    assert abs(moved.mean().item() - 2.0 * ratio**0.5) < 0.01
    assert abs(moved.std().item() - (1 - ratio) ** 0.5) < 0.01
