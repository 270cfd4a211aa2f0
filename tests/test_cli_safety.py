"""The command line on bad or awkward input: nothing lost, nothing written outside the destination,
and every failure one line that names what is wrong, exit code 2, never a traceback."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dbtwin import read, write
from dbtwin.cli import app

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def assert_clean_failure(result, *fragments: str) -> None:
    """Exit code 2, ``error:`` and the fragments on one line, no traceback."""
    assert result.exit_code == 2, result.output
    assert ("Traceback" not in result.output and result.exception is None) or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert lines, result.output
    text = " ".join(result.output.split())
    for fragment in fragments:
        assert fragment in text, result.output


def small_sqlite(path: Path, rows: int = 30) -> Path:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE cust (id INTEGER PRIMARY KEY, city TEXT, score REAL)")
        conn.execute("CREATE TABLE orders (oid INTEGER PRIMARY KEY, cust_id INTEGER REFERENCES cust(id), total REAL)")
        conn.executemany("INSERT INTO cust VALUES (?, ?, ?)", [(i, f"c{i % 3}", i * 1.5) for i in range(rows)])
        conn.executemany("INSERT INTO orders VALUES (?, ?, ?)", [(i, i % rows, i * 0.25) for i in range(2 * rows)])
    return path


@pytest.fixture
def model(tmp_path) -> Path:
    src = small_sqlite(tmp_path / "src.sqlite")
    out = tmp_path / "model"
    result = invoke("fit", src, "--out", out, "--steps", 2, "--hops", 1, "--seed", 0)
    assert result.exit_code == 0, result.output
    return out


# ------------------------------------------------------------------------------ data loss and security
def test_save_metadata_never_overwrites_the_source_or_an_existing_file(tmp_path):
    src = small_sqlite(tmp_path / "good.sqlite")
    before = src.read_bytes()
    assert_clean_failure(invoke("inspect", src, "--save-metadata", src, "--replace"), "is the source being read")
    assert src.read_bytes() == before
    meta = tmp_path / "meta.json"
    meta.write_text("mine\n")
    assert_clean_failure(invoke("inspect", src, "--save-metadata", meta), "already exists; pass --replace")
    assert meta.read_text() == "mine\n"
    assert invoke("inspect", src, "--save-metadata", meta, "--replace").exit_code == 0
    assert json.loads(meta.read_text())["format"] == "dbtwin-metadata"


def test_save_metadata_refuses_a_table_file_of_a_directory_source(tmp_path, company):
    write(company, tmp_path / "d", file_format="csv")
    target = tmp_path / "d" / "dept.csv"
    before = target.read_text()
    assert_clean_failure(
        invoke("inspect", tmp_path / "d", "--save-metadata", target, "--replace"), "is the source being read"
    )
    assert target.read_text() == before


def test_sample_replace_keeps_the_model_and_unrelated_files(tmp_path, model):
    out = tmp_path / "twins"
    assert invoke("sample", model, "--out", out).exit_code == 0
    (out / "notes.txt").write_text("keep me\n")
    (out / "sub").mkdir()
    (out / "sub" / "deep.parquet").write_text("keep")
    assert invoke("sample", model, "--out", out, "--replace", "--seed", 3).exit_code == 0
    assert (out / "notes.txt").read_text() == "keep me\n" and (out / "sub" / "deep.parquet").exists()
    assert read(out).num_rows("cust") == 30
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_sample_refuses_a_destination_that_holds_the_model(tmp_path, model):
    files = sorted(p.name for p in model.iterdir())
    assert_clean_failure(invoke("sample", model, "--out", tmp_path, "--replace"), "holds", "which this command reads")
    assert_clean_failure(invoke("sample", model, "--out", model, "--replace"), "itself")
    assert sorted(p.name for p in model.iterdir()) == files
    assert Path(tmp_path / "src.sqlite").exists()


def test_fit_replace_refuses_a_folder_that_is_not_a_model(tmp_path):
    src = small_sqlite(tmp_path / "src.sqlite")
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "thesis.txt").write_text("years of work\n")
    result = invoke("fit", src, "--out", folder, "--steps", 2, "--replace")
    assert_clean_failure(result, "not a dbtwin model", "--replace replaces only a model directory")
    assert (folder / "thesis.txt").read_text() == "years of work\n"


def test_stale_checkpoint_is_refused_and_replace_clears_it(tmp_path, monkeypatch):
    from dbtwin.synthesizer import training

    src = small_sqlite(tmp_path / "src.sqlite")
    other = small_sqlite(tmp_path / "other.sqlite", rows=40)
    out = tmp_path / "m"
    # an interrupted fit of src leaves a checkpoint beside the model directory (Ctrl-C at step 4)
    real_fit, real_loss = training.Trainer.fit, training.Trainer._loss
    calls = {"n": 0}

    def interrupted(self, checkpoint_dir=None, progress=True, fingerprint=""):
        self.loop.config = dataclasses.replace(self.loop.config, checkpoint_every=1)
        return real_fit(self, checkpoint_dir, progress, fingerprint)

    def loss(self, model, batch):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return real_loss(self, model, batch)

    monkeypatch.setattr(training.Trainer, "_loss", loss)
    monkeypatch.setattr(training.Trainer, "fit", interrupted)
    result = invoke("fit", src, "--out", out, "--steps", 5, "--seed", 0)
    assert result.exit_code == 130, result.output
    monkeypatch.undo()
    checkpoint = tmp_path / ".m.checkpoint"
    assert (checkpoint / training.CHECKPOINT).exists()
    for args in (
        ["fit", other, "--out", out, "--steps", 5, "--seed", 0],
        ["fit", src, "--out", out, "--steps", 5, "--seed", 1],
    ):
        assert_clean_failure(invoke(*args), "'" + str(checkpoint) + "' holds the checkpoint of another fit")
    resumed = invoke("fit", src, "--out", out, "--steps", 5, "--seed", 0)
    assert resumed.exit_code == 0, resumed.output
    assert "resuming the interrupted fit" in " ".join(resumed.output.split()) and "5 steps" in resumed.output
    assert not checkpoint.exists()


def test_replace_discards_a_stale_checkpoint(tmp_path):
    from dbtwin.synthesizer import training

    src = small_sqlite(tmp_path / "src.sqlite")
    checkpoint = tmp_path / ".m.checkpoint"
    checkpoint.mkdir()
    (checkpoint / training.CHECKPOINT).write_bytes(b"not a checkpoint")
    assert_clean_failure(invoke("fit", src, "--out", tmp_path / "m", "--steps", 2), "cannot be read", str(checkpoint))
    result = invoke("fit", src, "--out", tmp_path / "m", "--steps", 2, "--replace")
    assert result.exit_code == 0, result.output
    assert "discarded the checkpoint" in " ".join(result.output.split())


def test_infinities_survive_fit_and_sample(tmp_path):
    src = tmp_path / "inf.sqlite"
    with sqlite3.connect(src) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, x REAL)")
        values = [float("inf") if i % 4 == 0 else float("-inf") if i % 7 == 0 else i / 2 for i in range(60)]
        conn.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(values)))
    assert invoke("fit", src, "--out", tmp_path / "m", "--steps", 30, "--hops", 0, "--seed", 0).exit_code == 0
    assert invoke("sample", tmp_path / "m", "--out", tmp_path / "twin.sqlite", "--seed", 1).exit_code == 0
    x = read(tmp_path / "twin.sqlite")["t"]["x"]
    assert x.notna().all()  # no infinity became NULL
    assert (x == float("inf")).any() and (x == float("-inf")).any()


def test_fit_out_onto_a_file_fails_clearly(tmp_path):
    src = small_sqlite(tmp_path / "src.sqlite")
    (tmp_path / "file").write_text("x")
    assert_clean_failure(invoke("fit", src, "--out", tmp_path / "file", "--steps", 2), "is not a directory")
    assert_clean_failure(invoke("fit", src, "--out", src, "--steps", 2), "is or holds the source")
    assert src.stat().st_size > 0


def test_evaluate_refuses_to_overwrite_metrics(tmp_path, model):
    src = tmp_path / "src.sqlite"
    assert invoke("sample", model, "--out", tmp_path / "twin.sqlite").exit_code == 0
    out = tmp_path / "eval"
    out.mkdir()
    (out / "metrics.json").write_text("{}\n")
    assert_clean_failure(
        invoke("evaluate", src, tmp_path / "twin.sqlite", "--out", out), "metrics.json' already exists"
    )
    assert (out / "metrics.json").read_text() == "{}\n"


# ------------------------------------------------------------------------------ clear errors
def test_corrupt_and_truncated_sqlite(tmp_path):
    good = small_sqlite(tmp_path / "good.sqlite")
    (tmp_path / "cut.sqlite").write_bytes(good.read_bytes()[:200])
    (tmp_path / "junk.sqlite").write_bytes(b"this is not a database")
    assert_clean_failure(invoke("inspect", tmp_path / "cut.sqlite"), "cannot read", "cut.sqlite")
    assert_clean_failure(invoke("inspect", tmp_path / "junk.sqlite"), "is not a SQLite database")


def test_foreign_key_to_a_missing_sqlite_table_is_left_out_with_a_warning(tmp_path):
    path = tmp_path / "dangling.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE o (oid INTEGER PRIMARY KEY, cid INTEGER REFERENCES gone(id))")
        conn.execute("INSERT INTO o VALUES (1, 2)")
    result = invoke("inspect", path, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["foreign_keys"] == []
    assert "o(cid) -> gone left out: the database has no table 'gone'" in " ".join(result.output.split())


def test_integers_beyond_int64(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "t.csv").write_text("id,big\n1,99999999999999999999\n2,3\n")
    result = invoke("inspect", tmp_path / "d", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tables"]["t"]["dtypes"]["big"] == "string"  # kept exactly, as text
    meta = {
        "format": "dbtwin-metadata",
        "version": 1,
        "tables": {
            "t": {
                "primary_key": ["id"],
                "columns": {"id": {"dtype": "int64", "kind": "id"}, "big": {"dtype": "int64", "kind": "integer"}},
            }
        },
    }
    (tmp_path / "m.json").write_text(json.dumps(meta))
    assert_clean_failure(
        invoke("inspect", tmp_path / "d", "--metadata", tmp_path / "m.json"), "t.big", "beyond the int64 range"
    )


def test_ragged_csv_names_file_and_line(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "t.csv").write_text("a,b\n1,2\n3,4,5\n")
    assert_clean_failure(invoke("inspect", tmp_path / "d"), "table 't'", "t.csv", "line 3")


def test_malformed_metadata_json_names_file_line_and_column(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "t.csv").write_text("id\n1\n")
    (tmp_path / "d" / "metadata.json").write_text('{"format": "dbtwin-metadata",\n  "tables": {,}}')
    assert_clean_failure(invoke("inspect", tmp_path / "d"), "metadata.json' is not valid JSON", "line 2, column 14")
    (tmp_path / "m.json").write_text("[1, 2")
    assert_clean_failure(invoke("inspect", "chinook", "--metadata", tmp_path / "m.json"), "m.json' is not valid JSON")


def test_no_tables_and_one_row_tables(tmp_path):
    empty = tmp_path / "empty.sqlite"
    with sqlite3.connect(empty) as conn:
        conn.execute("CREATE TABLE x (a INTEGER)")
        conn.execute("DROP TABLE x")
    assert_clean_failure(invoke("fit", empty, "--out", tmp_path / "m0"), "holds no tables")
    one = tmp_path / "one.sqlite"
    with sqlite3.connect(one) as conn:
        conn.execute("CREATE TABLE a (id INTEGER PRIMARY KEY, x REAL, s TEXT)")
        conn.execute("INSERT INTO a VALUES (1, 2.5, 'z')")
    assert invoke("fit", one, "--out", tmp_path / "m1", "--steps", 2).exit_code == 0
    assert invoke("sample", tmp_path / "m1", "--out", tmp_path / "one_twin.sqlite").exit_code == 0
    (row,) = read(tmp_path / "one_twin.sqlite")["a"].to_dict("records")
    assert row["id"] == 1 and row["x"] == 2.5
    # 'z' is seen once: never shown, a text of its shape stands in for it
    assert row["s"] != "z" and len(row["s"]) == 1 and row["s"].islower()


def test_names_with_pyg_separators_can_be_fitted(tmp_path):
    path = tmp_path / "sep.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute('CREATE TABLE "c.u#s___t" (id INTEGER PRIMARY KEY, x REAL)')
        conn.execute('CREATE TABLE o (oid INTEGER PRIMARY KEY, cust___id INTEGER REFERENCES "c.u#s___t"(id), y REAL)')
        conn.executemany('INSERT INTO "c.u#s___t" VALUES (?, ?)', [(i, i * 1.5) for i in range(20)])
        conn.executemany("INSERT INTO o VALUES (?, ?, ?)", [(i, i % 20, i * 0.5) for i in range(50)])
    assert invoke("fit", path, "--out", tmp_path / "m", "--steps", 2, "--hops", 2).exit_code == 0
    assert invoke("sample", tmp_path / "m", "--out", tmp_path / "twin.sqlite").exit_code == 0
    twin = read(tmp_path / "twin.sqlite")
    assert twin.parent_positions(twin.schema.foreign_keys[0]).min() >= 0


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda c: c.pop("encoders"), "field 'encoders' is missing"),
        (lambda c: c["config"].update(bogus=1), "field 'config'"),
        (lambda c: c["config"]["training"].update(bogus=1), "training.bogus: is no option of 'training'"),
        (lambda c: c["denoiser"].update(hidden=7), "weights.pt"),
        (lambda c: c.update(format="something-else"), "not a dbtwin model"),
        (lambda c: c.update(version=99), "field 'version' is 99"),
        (lambda c: c["structure"].update(name="magic"), "field 'structure'"),
        (lambda c: c["schema"]["tables"].pop("orders"), "field"),
        (lambda c: c["config"]["sampling"].update(steps=1e9), "sample_steps: must be a whole number from 1 to 10,000"),
        (lambda c: c["config"]["denoiser"].update(num_hops=-1), "num_hops: must be a whole number"),
        (lambda c: c["encoders"]["cust"]["numeric"][0].update(quantile=["a", "b"]), "must be a finite number"),
        (lambda c: c["structure"]["sizes"].update(cust=-3), "field 'structure'"),
    ],
)
def test_tampered_model_config_names_file_and_field(tmp_path, model, edit, fragment):
    config = json.loads((model / "config.json").read_text())
    edit(config)
    (model / "config.json").write_text(json.dumps(config))
    assert_clean_failure(invoke("sample", model, "--out", tmp_path / "t.sqlite"), "config.json", fragment)
    assert not (tmp_path / "t.sqlite").exists()


def test_tampered_structure_arrays_are_refused(tmp_path, model):
    import numpy as np

    from dbtwin.npz import load_arrays, save_arrays

    (file,) = model.glob("structure_*.npz")
    arrays = load_arrays(file)
    save_arrays(file, {k: np.full_like(v, -7) for k, v in arrays.items()})
    assert_clean_failure(
        invoke("sample", model, "--out", tmp_path / "t.sqlite"), "field 'structure'", "below its least"
    )
    assert not (tmp_path / "t.sqlite").exists()


def test_truncated_model_files(tmp_path, model):
    (model / "weights.pt").write_bytes(b"\x00\x01")
    assert_clean_failure(invoke("sample", model, "--out", tmp_path / "t.sqlite"), "weights.pt cannot be read")
    (model / "config.json").write_text('{"format": ')
    assert_clean_failure(invoke("sample", model, "--out", tmp_path / "t.sqlite"), "is not valid JSON", "line 1")


def test_rich_markup_in_names_prints_as_text(tmp_path):
    path = tmp_path / "markup.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute('CREATE TABLE "[/x]" (id TEXT PRIMARY KEY, "[bold]v" TEXT)')
        conn.execute('CREATE TABLE "[b]ad" (k INTEGER PRIMARY KEY, p TEXT REFERENCES "[/x]"(id))')
        conn.execute("INSERT INTO \"[/x]\" VALUES ('a', NULL)")
        conn.execute("INSERT INTO \"[b]ad\" VALUES (1, '[red]z'), (2, 'a')")
    result = invoke("inspect", path)
    assert result.exit_code == 0, result.output
    assert "[/x]" in result.output and "[bold]v" in result.output and "[b]ad" in result.output
    failed = invoke("convert", path, tmp_path / "o.sqlite", "--orphans", "error")
    assert_clean_failure(failed, "row(s) of '[b]ad' have [b]ad(p) values not found in '[/x]'", "e.g. ['[red]z']")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--format", "xlsx"], "--format: must be one of parquet, csv"),
        (["--seed", "-1"], "--seed: must be a whole number from 0"),
        (["--scale", "0"], "--scale: must be a finite number above 0"),
        (["--scale", "nan"], "--scale: must be a finite number above 0"),
        (["--scale", "inf"], "--scale: must be a finite number above 0"),
        (["--scale", "1e12"], "--scale: 1e+12 asks for about"),
        (["--device", "cuda:99"], "--device: 'cuda:99' asks for"),
    ],
)
def test_sample_options_are_checked_before_work(tmp_path, model, args, fragment):
    assert_clean_failure(invoke("sample", model, "--out", tmp_path / "o", *args), fragment)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--structure", "magic"], "--structure: must be one of degree, sbm, real"),
        (["--orphans", "ignore"], "--orphans: must be one of error, null, drop"),
        (["--steps", "0"], "--steps: must be a positive whole number"),
        (["--max-minutes", "-2"], "--max-minutes: must be a positive number"),
        (["--seed", "-5"], "--seed"),
        (["--hops", "-1"], "--hops"),
        (["--delta", "1e-6"], "--delta: only means something with --epsilon"),
        (["--epsilon", "1", "--structure", "real"], "--structure: 'real' cannot be fitted with --epsilon"),
        (["--epsilon", "1e-9"], "--epsilon: 1e-09 is too small a budget"),
        (["--device", "gpu"], "--device: must be one of auto, cpu, cuda or cuda:N"),
        (["--device", "cuda:99"], "--device: 'cuda:99' asks for"),
    ],
)
def test_fit_options_are_checked_before_work(tmp_path, args, fragment):
    src = small_sqlite(tmp_path / "src.sqlite")
    assert_clean_failure(invoke("fit", src, "--out", tmp_path / "m", *args), fragment)
    assert not (tmp_path / "m").exists()


def test_fit_checks_the_model_directory_before_training(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    src = small_sqlite(tmp_path / "src.sqlite")
    (tmp_path / "afile").write_text("x")
    assert_clean_failure(invoke("fit", src, "--out", tmp_path / "afile" / "m"), "is a file, not a directory")
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda _p: usage(10**9, 10**9 - 2**20, 2**20))
    assert_clean_failure(invoke("fit", src, "--out", tmp_path / "m"), "only 1.0 MiB free")
    assert not (tmp_path / "m").exists()


def test_convert_checks_destination_and_options_first(tmp_path):
    src = small_sqlite(tmp_path / "src.sqlite")
    before = src.read_bytes()
    assert_clean_failure(invoke("convert", src, src, "--replace"), "itself")
    assert_clean_failure(invoke("convert", src, tmp_path / "o", "--format", "json"), "--format")
    assert_clean_failure(invoke("convert", src, tmp_path / "o", "--orphans", "keep"), "--orphans")
    (tmp_path / "notes.db").write_text("not sqlite")
    assert_clean_failure(invoke("convert", src, tmp_path / "notes.db", "--replace"), "is not a SQLite database")
    assert (tmp_path / "notes.db").read_text() == "not sqlite"
    assert src.read_bytes() == before


def test_csv_refuses_empty_strings(tmp_path):
    path = tmp_path / "e.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)")
        conn.execute("INSERT INTO t VALUES (1, ''), (2, NULL)")
    assert_clean_failure(
        invoke("convert", path, tmp_path / "csv", "--format", "csv"), "column 't.s' holds empty strings"
    )
    assert not (tmp_path / "csv").exists()


def test_untyped_sqlite_column_keeps_real_values_or_says_what_changed(tmp_path):
    path = tmp_path / "mixed.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE r (id INTEGER PRIMARY KEY, v)")
        conn.executemany("INSERT INTO r VALUES (?, ?)", [(1, 3.0), (2, 4.0), (3, None)])
        conn.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, v)")
        conn.executemany("INSERT INTO m VALUES (?, ?)", [(1, 3.0), (2, "abc")])
    result = invoke("convert", path, tmp_path / "out.sqlite")
    assert result.exit_code == 0, result.output
    assert "column 'm.v' has no declared type and mixes text" in " ".join(result.output.split())
    with sqlite3.connect(tmp_path / "out.sqlite") as conn:
        assert conn.execute("SELECT v, typeof(v) FROM r ORDER BY id").fetchall() == [
            (3.0, "real"),
            (4.0, "real"),
            (None, "null"),
        ]


def test_awkward_locations_fail_in_one_line(tmp_path):
    result = invoke("inspect", "postgresql+psycopg://u:secret@127.0.0.1:abc/db")
    assert_clean_failure(result, "is not a valid database URL: its port 'abc' is not a number")
    assert "secret" not in result.output
    src = small_sqlite(tmp_path / "src.sqlite")
    dest = f"sqlite:///{tmp_path / 'out.sqlite'}?mode=ro"
    assert_clean_failure(invoke("convert", src, dest), "carries URL options (mode=ro)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src.sqlite"]


@pytest.mark.parametrize(("header", "fragment"), [("a,b,a", "the column name 'a' twice"), ("a,,c", "an empty column")])
def test_csv_headers_pandas_would_rename_are_refused(tmp_path, header, fragment):
    (tmp_path / "t.csv").write_text(f"{header}\n1,2,3\n")
    assert_clean_failure(invoke("inspect", tmp_path), "table 't'", fragment)
