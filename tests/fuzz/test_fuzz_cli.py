"""No dbtwin command ends in a Python traceback on fuzzed databases: each works, or fails with one
``error:`` line (exit code 2) that is not an internal error; and none writes outside its destination."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import event, given, settings
from typer.testing import CliRunner

from dbtwin import write
from dbtwin.cli import app
from dbtwin.errors import DbtwinError
from tests.fuzz.strategies import databases, examples

runner = CliRunner()


def run_clean(work: Path, *args: object, creates: str | None = None) -> bool:
    """Run one command; assert a clean outcome and that only ``creates`` (if anything) appeared."""
    before = {p.name for p in work.iterdir()}
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code in (0, 2), f"{args}: exit {result.exit_code}\n{result.output}"
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output and "internal error" not in result.output, result.output
    if result.exit_code == 2:
        assert any(line.startswith("error:") for line in result.output.splitlines()), result.output
    first = next((line for line in result.output.splitlines() if line.startswith("error:")), "")
    event(f"{args[0]}: exit {result.exit_code} {first[:90]}")
    appeared = {p.name for p in work.iterdir()} - before
    assert appeared <= ({creates} if creates else set()), f"{args}: wrote outside its destination: {appeared}"
    return result.exit_code == 0


@settings(max_examples=examples(15))
@given(db=databases(max_tables=3, max_rows=8))
def test_commands_never_end_in_a_traceback(db):
    root = Path(tempfile.mkdtemp(prefix="dbtwin-cli-fuzz-"))
    work = root / "work"
    work.mkdir()
    try:
        try:
            write(db, work / "src.sqlite")
            source = work / "src.sqlite"
        except DbtwinError:
            write(db, work / "src")  # Parquet holds what SQLite cannot
            source = work / "src"
        run_clean(work, "inspect", source)
        run_clean(work, "inspect", source, "--json")
        run_clean(work, "inspect", source, "--save-metadata", work / "meta.json", creates="meta.json")
        run_clean(work, "convert", source, work / "copy.sqlite", "--orphans", "drop", creates="copy.sqlite")
        run_clean(work, "convert", source, work / "csv", "--format", "csv", "--orphans", "drop", creates="csv")
        fitted = run_clean(
            work, "fit", source, "--out", work / "model", "--steps", 2, "--hops", 1, "--seed", 0, creates="model"
        )
        if fitted:
            run_clean(work, "sample", work / "model", "--out", work / "twin", "--seed", 1, creates="twin")
            run_clean(work, "sample", work / "model", "--out", work / "twin", "--replace", "--scale", 2, creates="twin")
    finally:
        shutil.rmtree(root, ignore_errors=True)
