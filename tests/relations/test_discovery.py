"""Discovery of exact relations: found on real data, each kind found when planted, never claimed
when a single row breaks it, and kept on every row of samples at several scales."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dbtwin.database import Database
from dbtwin.relations import Aggregate, Copy, Dependency, Formula, Numbering, Order, Ref, discover, keeping
from dbtwin.relations.discover import KINDS
from dbtwin.schema.model import Column, ColumnKind, StorageType
from dbtwin.synthesizer import Synthesizer

REGION = {"USA": "Americas", "Canada": "Americas", "Brazil": "Americas", "Chile": "Americas", "Argentina": "Americas"}


def planted(chinook: Database) -> Database:
    """Chinook with one rule of each kind added: formulas on a row's own and its parent's columns,
    a child aggregate (count, max), a dependency on a parent's column, a line number within each
    invoice, orders within a row and against a parent."""
    rng = np.random.default_rng(0)
    tables = {t: f.copy() for t, f in chinook.tables.items()}
    schema = chinook.schema
    track = tables["track"]
    track["rate"] = rng.choice([0.8, 0.9, 1.0], size=len(track))
    lines = tables["invoice_line"]
    lines["quantity"] = pd.array(rng.integers(1, 4, size=len(lines)), dtype="Int64")
    lines["amount"] = (lines["unit_price"] * lines["quantity"].astype(float)).round(2)
    rate = track.set_index("track_id")["rate"].reindex(lines["track_id"].astype(int)).to_numpy()
    lines["net"] = (lines["amount"] * rate).round(2)
    invoice = tables["invoice"]
    totals = lines.groupby("invoice_id")["amount"].sum()
    invoice["total"] = totals.reindex(invoice["invoice_id"]).fillna(0.0).round(2).to_numpy()
    invoice["due"] = invoice["invoice_date"] + pd.to_timedelta(rng.integers(1, 30, size=len(invoice)), unit="D")
    dates = invoice.set_index("invoice_id")["invoice_date"].reindex(lines["invoice_id"].astype(int)).to_numpy()
    lines["shipped"] = dates + pd.to_timedelta(rng.integers(0, 5, size=len(lines)), unit="D").to_numpy()
    customer = tables["customer"]
    customer["region"] = customer["country"].map(REGION).fillna("Elsewhere")
    counts = invoice.groupby("customer_id").size()
    customer["invoices"] = pd.array(counts.reindex(customer["customer_id"]).fillna(0).astype(int), dtype="Int64")
    shuffled = pd.Series(rng.random(len(lines)), index=lines.index)  # line numbers in an order of their own
    lines["line_no"] = shuffled.groupby(lines["invoice_id"]).rank(method="first").astype("Int64")
    customer["biggest"] = invoice.groupby("customer_id")["total"].max().reindex(customer["customer_id"]).to_numpy()
    f, i, s, d = StorageType.FLOAT64, StorageType.INT64, StorageType.STRING, StorageType.DATETIME
    k = ColumnKind
    added = {
        "track": [Column("rate", f, k.FLOAT)],
        "invoice_line": [
            Column("amount", f, k.FLOAT),
            Column("net", f, k.FLOAT),
            Column("shipped", d, k.DATETIME),
            Column("line_no", i, k.INTEGER),
        ],
        "invoice": [Column("due", d, k.DATETIME)],
        "customer": [
            Column("region", s, k.CATEGORICAL),
            Column("invoices", i, k.INTEGER),
            Column("biggest", f, k.FLOAT),
        ],
    }
    for table, columns in added.items():
        schema.table(table).columns = schema.table(table).columns + columns
    return Database.from_frames(tables, schema)


@pytest.fixture(scope="module")
def planted_db(chinook):
    from copy import deepcopy

    return planted(Database.from_frames(chinook.tables, deepcopy(chinook.schema)))


LINE_TRACK, LINE_INVOICE = "invoice_line.track_id->track", "invoice_line.invoice_id->invoice"
PLANTED = [
    Formula("invoice_line", "amount", "*", Ref("unit_price"), Ref("quantity"), 2),
    Formula("invoice_line", "net", "*", Ref("amount"), Ref("rate", (LINE_TRACK,)), 2),
    Aggregate("invoice", "total", LINE_INVOICE, "sum", ("amount",), 2, 0.0),
    Aggregate("customer", "invoices", "invoice.customer_id->customer", "count", (), 0, 0.0),
    Aggregate("customer", "biggest", "invoice.customer_id->customer", "max", ("total",), 2, None),
    Dependency("customer", "region", Ref("country")),
    Numbering("invoice_line", "line_no", group=("invoice_id",), start=1),
    Order("invoice", "due", Ref("invoice_date")),
    Order("invoice_line", "shipped", Ref("invoice_date", (LINE_INVOICE,))),
]


def _found(rules, wanted):
    return any(type(r) is type(wanted) and r == wanted for r in rules)


def test_found_on_chinook(chinook):
    rules = discover(chinook).rules
    copies = {(r.table, r.column, r.parent_column) for r in rules if isinstance(r, Copy)}
    assert copies == {
        ("invoice", "billing_address", "address"),
        ("invoice", "billing_city", "city"),
        ("invoice", "billing_state", "state"),
        ("invoice", "billing_country", "country"),
        ("invoice", "billing_postal_code", "postal_code"),
        ("invoice_line", "unit_price", "unit_price"),
    }
    assert _found(rules, Dependency("customer", "country", Ref("city")))
    # a number with few values, fixed by a parent's label: every genre has one price
    price = [r for r in rules if isinstance(r, Dependency) and r.target == ("track", "unit_price")]
    assert price and price[0].determinant == Ref("name", ("track.genre_id->genre",))
    assert not any(isinstance(r, Dependency) and r.column in ("milliseconds", "bytes") for r in rules)
    totals = [r for r in rules if isinstance(r, Aggregate) and r.target == ("invoice", "total")]
    assert totals and totals[0].function == "sum"
    # every rule claimed holds on every real row
    assert all(keeping(chinook, r).holds for r in rules)


def test_each_planted_kind_is_found(planted_db):
    found = discover(planted_db)
    for wanted in PLANTED:
        assert _found(found.rules, wanted), wanted.describe(planted_db.schema)
    assert set(found.seconds) == set(KINDS)


@pytest.mark.parametrize("wanted", PLANTED, ids=lambda r: f"{r.kind}-{r.table}.{r.column}")
def test_a_rule_broken_on_one_row_is_not_claimed(planted_db, wanted):
    tables = {t: f.copy() for t, f in planted_db.tables.items()}
    frame = tables[wanted.table]
    row = len(frame) // 2
    value = frame[wanted.column].iloc[row]
    if isinstance(wanted, Dependency):
        peers = frame.index[frame[wanted.determinant.column] == frame[wanted.determinant.column].iloc[row]]
        row = peers[0]
        frame.loc[row, wanted.column] = "Atlantis"
    elif isinstance(wanted, Order):
        frame.loc[row, wanted.column] = value - pd.Timedelta(days=4000)
    else:
        frame.loc[row, wanted.column] = value + 1
    broken = Database.from_frames(tables, planted_db.schema)
    assert not keeping(broken, wanted).holds
    assert not _found(discover(broken).rules, wanted)


def test_kept_in_samples_at_every_scale(planted_db, tmp_path):
    synth = Synthesizer(train_steps=5, sample_steps=3, progress=False, random_state=0).fit(planted_db)
    kinds = {r.kind for r in synth.rules_}
    assert kinds == {"copy", "aggregate", "formula", "dependency", "numbering", "order", "step"}
    assert {"total", "billing_city"} <= synth.derived_columns("invoice")
    assert all(e.column != "total" for e in synth.encoders_["invoice"].numeric)  # derived, not modelled
    for scale in (0.5, 1.0, 2.0):
        fake = synth.sample(scale, random_state=int(scale * 10))
        for rule in synth.rules_:
            assert keeping(fake, rule, holes=rule.holes).holds, (scale, rule.describe(fake.schema))
    synth.save(tmp_path / "model")
    again = Synthesizer.load(tmp_path / "model")
    assert [r.describe(planted_db.schema) for r in again.rules_] == [
        r.describe(planted_db.schema) for r in synth.rules_
    ]
    fake = again.sample(1.0, random_state=3)
    assert all(keeping(fake, r, holes=r.holes).holds for r in again.rules_)


def test_copied_columns_agree_with_the_synthetic_parent(chinook):
    fake = Synthesizer(train_steps=5, sample_steps=3, progress=False, random_state=0).fit(chinook).sample(1.0)
    joined = fake["invoice"].merge(fake["customer"], on="customer_id", suffixes=("", "_c"))
    assert len(joined) == len(fake["invoice"])
    for col, pcol in (("billing_city", "city"), ("billing_country", "country"), ("billing_state", "state")):
        assert (joined[col].fillna("<NA>") == joined[pcol].fillna("<NA>")).all()
    lines = fake["invoice_line"].merge(fake["track"], on="track_id", suffixes=("", "_t"))
    assert (lines["unit_price"] == lines["unit_price_t"]).all()
    sums = lines.groupby("invoice_id")["unit_price"].sum().round(2)
    totals = fake["invoice"].set_index("invoice_id")["total"]
    assert np.allclose(totals.reindex(sums.index), sums)
    pairs = fake["customer"].groupby("city")["country"].nunique()
    assert (pairs == 1).all()  # no customer in Berlin, Denmark


def test_can_be_switched_off(chinook):
    synth = Synthesizer(train_steps=2, sample_steps=2, progress=False, random_state=0, relations=False)
    synth.fit(chinook)
    assert synth.rules_ == []
    fake = synth.sample(1.0)
    joined = fake["invoice"].merge(fake["customer"], on="customer_id", suffixes=("", "_c"))
    assert not (joined["billing_city"].fillna("") == joined["city"].fillna("")).all()
