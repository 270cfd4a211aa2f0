"""Single-column detection of text tells placeholders from real values and real values from each
other not at all; privacy lists the tables copied whole and leaves them out of its rates."""

from __future__ import annotations

import numpy as np

from dbtwin import Database
from dbtwin.encode.columns import _fill_shape, _shape
from dbtwin.evaluate.privacy import privacy
from dbtwin.evaluate.split import holdout_split
from dbtwin.evaluate.text_columns import column_auc, text_detection
from dbtwin.validate import resolve_orphans


def _halves(values: list[str]) -> tuple[list[str], list[str]]:
    order = np.random.default_rng(0).permutation(len(values))
    return [values[i] for i in order[::2]], [values[i] for i in order[1::2]]


def test_real_halves_cannot_be_told_apart_but_placeholders_can(chinook):
    names = [str(v) for v in chinook["track"]["name"]]
    a, b = _halves(names)
    assert column_auc(a, b) < 0.6
    rng = np.random.default_rng(0)
    placeholders = [_fill_shape(_shape(v), rng) for v in b]
    assert column_auc(a, placeholders) > 0.8


def test_text_detection_scores_typed_columns_and_checks_formats(chinook):
    frames = {t: f.copy() for t, f in chinook.tables.items()}
    frames["customer"]["email"] = [f"broken{i}" for i in range(len(frames["customer"]))]
    broken = Database.from_frames(frames, chinook.schema)
    result = text_detection(chinook, broken)
    email = result["details"]["customer.email"]
    assert email["semantic"] == "email" and email["valid_share"] == 0.0 and email["auc"] > 0.9
    assert result["details"]["track.name"]["auc"] == 0.5  # the same values: nothing to tell
    assert result["min_valid_share"] == 0.0 and result["max_auc"] >= email["auc"]


def test_privacy_leaves_tables_copied_whole_apart(chinook):
    real, _ = resolve_orphans(chinook, "drop")
    split = holdout_split(real, 0.3, "customer", random_state=0)
    frames = {t: f.copy() for t, f in split.train.tables.items()}
    frames["customer"]["country"] = "Atlantis"
    twin = Database.from_frames(frames, real.schema)
    result = privacy(split.train, twin, split.holdout, tables=["genre", "customer"])
    # every table but customer is the training data's own, row for row
    copied = set(result["copied_tables"])
    assert "customer" not in copied and {"genre", "track", "invoice", "invoice_line"} <= copied
    assert result["details"]["genre"]["copied_whole"] and not result["details"]["customer"]["copied_whole"]
    assert result["exact_copy_rate_weighted"] == result["details"]["customer"]["exact_copy_rate"] == 0.0
    assert result["over_holdout"] == []
    # customer is the training data's but for its country: its rare cities are shown (the copied tables exempt)
    shown = result["rare_values_shown_by_column"]
    assert shown["customer.city"] > 0 and not any(k.startswith(("genre.", "track.")) for k in shown)
