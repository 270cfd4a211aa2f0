"""The command line: inspect (human and JSON forms) and convert."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from dbtwin import read
from dbtwin.cli import app
from dbtwin.database import ORPHAN_REF
from dbtwin.synthesizer.memory import PASS_BYTES_PER_HIDDEN

runner = CliRunner()


def test_inspect_chinook_json_contract():
    result = runner.invoke(app, ["inspect", "chinook", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(data["tables"]) == 11
    assert len(data["foreign_keys"]) == 11
    assert sum(fk["child"] == fk["parent"] for fk in data["foreign_keys"]) == 1
    assert data["depth"] == 3
    assert data["tables"]["playlist_track"] == {
        **data["tables"]["playlist_track"],
        "rows": 8715,
        "primary_key": ["playlist_id", "track_id"],
        "columns": {"playlist_id": "id", "track_id": "id"},
    }
    fk = next(f for f in data["foreign_keys"] if f["child"] == "invoice")
    assert {k: fk[k] for k in ("child", "columns", "parent", "parent_columns", "orphans")} == {
        "child": "invoice",
        "columns": ["customer_id"],
        "parent": "customer",
        "parent_columns": ["customer_id"],
        "orphans": 0,
    }


def test_inspect_human_output_shows_orphans():
    result = runner.invoke(app, ["inspect", "nycflights13_jan"])
    assert result.exit_code == 0, result.output
    assert "4,324" in result.stdout and "flights(tailnum)" in result.stdout


def test_inspect_unknown_source_fails_clearly():
    result = runner.invoke(app, ["inspect", "no_such_thing"])
    assert result.exit_code == 2
    assert "cannot read 'no_such_thing'" in result.output


def test_convert_drops_orphans_and_refuses_to_overwrite(tmp_path, flights_jan):
    out = tmp_path / "f.sqlite"
    result = runner.invoke(app, ["convert", "nycflights13_jan", str(out), "--orphans", "drop"])
    assert result.exit_code == 0, result.output
    assert "flights(tailnum) -> planes(tailnum): dropped 4324 row(s) of 'flights' (orphans)" in result.output
    masks = [flights_jan.parent_positions(fk) == ORPHAN_REF for fk in flights_jan.schema.foreign_keys_of("flights")]
    db = read(out)
    assert db.num_rows("flights") == 27004 - int(np.logical_or.reduce(masks).sum())
    again = runner.invoke(app, ["convert", "chinook", str(out)])
    assert again.exit_code == 2 and "already exists; pass --replace (replace=True)" in again.output
    assert read(out).num_rows("flights") == db.num_rows("flights")


def test_save_metadata_writes_a_loadable_schema(tmp_path):
    out = tmp_path / "meta.json"
    result = runner.invoke(app, ["inspect", "chinook", "--save-metadata", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["format"] == "dbtwin-metadata"


def test_fit_then_sample_through_the_cli(tmp_path):
    model = tmp_path / "model"
    result = runner.invoke(app, ["fit", "chinook", "--out", str(model), "--steps", "3", "--hops", "1", "--seed", "1"])
    assert result.exit_code == 0, result.output
    assert "3 steps" in result.output and (model / "config.json").exists()
    assert "11 exact relations kept" in result.output
    assert not (tmp_path / ".model.checkpoint").exists()
    again = runner.invoke(app, ["fit", "chinook", "--out", str(model), "--steps", "3"])
    assert again.exit_code == 2 and "already holds files" in again.output
    out = tmp_path / "twin"
    result = runner.invoke(app, ["sample", str(model), "--out", str(out), "--scale", "0.5", "--seed", "2"])
    assert result.exit_code == 0, result.output
    twin = read(out)
    assert twin.num_rows("invoice") == 206
    from dbtwin.validate import find_problems

    assert find_problems(twin) == []
    refused = runner.invoke(app, ["sample", str(model), "--out", str(tmp_path / "no"), "--memory-gb", "-1"])
    assert refused.exit_code == 2 and "--memory-gb" in refused.output and not (tmp_path / "no").exists()
    small = tmp_path / "small.sqlite"  # passes of at most ~2,000 rows: batches with their neighbourhoods
    result = runner.invoke(app, ["sample", str(model), "--out", str(small), "--scale", "0.5", "--seed", "2",
                                 "--memory-gb", str(2_000 * PASS_BYTES_PER_HIDDEN * 64 / 2**30)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert read(str(small)).num_rows("invoice") == 206 and find_problems(read(str(small))) == []
    bare = tmp_path / "bare"
    result = runner.invoke(app, ["fit", "chinook", "--out", str(bare), "--steps", "2", "--hops", "0", "--no-relations"])
    assert result.exit_code == 0 and "0 exact relations kept" in result.output, result.output
