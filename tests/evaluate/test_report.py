"""The HTML report: self-contained, with every section, and it renders in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from dbtwin import Database
from dbtwin.evaluate import evaluate
from dbtwin.evaluate.html import render_report, table_verdicts, write_report


@pytest.fixture(scope="module")
def degraded(chinook):
    frames = dict(chinook.tables)
    track = frames["track"].copy()
    track["milliseconds"] = track["milliseconds"] * 3
    frames["track"] = track
    return Database(chinook.schema, frames)


@pytest.fixture(scope="module")
def metrics(chinook, degraded):
    return evaluate(chinook, degraded, max_rows=5_000, detection_rows=1_000)


def test_report_is_self_contained_with_every_section(chinook, degraded, metrics):
    page = render_report(chinook, degraded, metrics, "Chinook check")
    assert page.startswith("<!doctype html>") and "Chinook check" in page
    for section in ("Verdict per table", "Scores", "Children per parent", "track"):
        assert section in page
    assert "http://" not in page and "https://" not in page  # nothing fetched from a network
    assert len(re.findall(r'src="data:image/png;base64,', page)) >= 10
    verdicts = table_verdicts(chinook, metrics)
    assert verdicts["track"].startswith("poor") and "detected with accuracy" in verdicts["track"]
    # the degraded copy holds every table but track row for row: kept, not generated
    assert set(metrics["integrity"]["kept_tables"]) == set(chinook.schema.table_names) - {"track"}
    assert verdicts["playlist_track"] == "kept: the real rows as they are, keys and values (not generated)"
    generated = {**metrics, "integrity": {**metrics["integrity"], "kept_tables": []}}
    assert table_verdicts(chinook, generated)["playlist_track"] == "keys only: integrity checked"


def test_names_with_dollars_and_dates_render(tmp_path):
    import numpy as np
    import pandas as pd

    from dbtwin.schema import Column, ColumnKind, Schema, StorageType, Table

    schema = Schema(
        {
            "$t$": Table(
                "$t$",
                [
                    Column("id", StorageType.INT64, ColumnKind.ID, False),
                    Column("$\\undefined$", StorageType.FLOAT64, ColumnKind.FLOAT),
                    Column("when", StorageType.DATETIME, ColumnKind.DATETIME),
                    Column("note", StorageType.STRING, ColumnKind.TEXT),
                ],
                ("id",),
            )
        }
    )
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "id": range(60),
            "$\\undefined$": rng.normal(size=60),
            "when": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, 60), unit="D"),
            "note": [f"n{i}" for i in range(60)],
        }
    )
    db = Database.from_frames({"$t$": frame}, schema)
    page = render_report(db, db, evaluate(db, db, max_rows=1_000, detection_rows=200), "$x^2$ check")
    assert "$x^2$ check" in page and "$t$" in page


def test_report_renders_in_headless_chromium(chinook, degraded, metrics, tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("headless Chromium is not installed (scripts/setup-dev.sh installs it)")
    report = write_report(chinook, degraded, metrics, tmp_path)
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1200,1600",
            f"--screenshot={shot}",
            report.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000  # a page with plots, not a blank one
