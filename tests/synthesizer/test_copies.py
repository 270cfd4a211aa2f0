"""Columns that copy their parent's value are found when fitting and copied when sampling."""

from __future__ import annotations

import pandas as pd

from dbtwin.database import Database
from dbtwin.synthesizer import Synthesizer
from dbtwin.synthesizer.copies import find_copied_columns


def _pairs(copies):
    return {(c.table, c.column, c.parent_column) for c in copies}


def test_found_on_real_data(chinook):
    assert _pairs(find_copied_columns(chinook)) == {
        ("invoice", "billing_address", "address"),
        ("invoice", "billing_city", "city"),
        ("invoice", "billing_state", "state"),
        ("invoice", "billing_country", "country"),
        ("invoice", "billing_postal_code", "postal_code"),
        ("invoice_line", "unit_price", "unit_price"),
    }


def test_one_differing_row_is_not_a_copy(chinook):
    invoice = chinook["invoice"].copy()
    invoice.loc[5, "billing_city"] = "Nowhere"
    changed = Database.from_frames({**chinook.tables, "invoice": invoice}, chinook.schema)
    assert ("invoice", "billing_city", "city") not in _pairs(find_copied_columns(changed))
    assert ("invoice", "billing_country", "country") in _pairs(find_copied_columns(changed))


def test_sampled_children_agree_with_parents(chinook, tmp_path):
    synth = Synthesizer(train_steps=5, sample_steps=3, progress=False, random_state=0).fit(chinook)
    fake = synth.sample(1.0)
    joined = fake["invoice"].merge(fake["customer"], on="customer_id", suffixes=("", "_c"))
    assert len(joined) == len(fake["invoice"])
    for col, pcol in (("billing_city", "city"), ("billing_country", "country"), ("billing_state", "state")):
        assert (joined[col].fillna("<NA>") == joined[pcol].fillna("<NA>")).all()
    lines = fake["invoice_line"].merge(fake["track"], on="track_id", suffixes=("", "_t"))
    assert (lines["unit_price"] == lines["unit_price_t"]).all()
    synth.save(tmp_path / "model")
    again = Synthesizer.load(tmp_path / "model").sample(1.0, random_state=1)
    joined = again["invoice"].merge(again["customer"], on="customer_id", suffixes=("", "_c"))
    assert (joined["billing_country"].fillna("") == joined["country"].fillna("")).all()


def test_can_be_switched_off(chinook):
    synth = Synthesizer(train_steps=2, sample_steps=2, progress=False, random_state=0, copy_columns=False)
    synth.fit(chinook)
    assert synth.copies_ == []
    fake = synth.sample(1.0)
    joined = fake["invoice"].merge(fake["customer"], on="customer_id", suffixes=("", "_c"))
    assert not (joined["billing_city"].fillna("") == joined["city"].fillna("")).all()
    assert isinstance(fake["invoice"], pd.DataFrame)
