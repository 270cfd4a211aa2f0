"""The hold-out split keeps whole families on one side and leaves two valid databases."""

from __future__ import annotations

import pytest

from dbtwin.evaluate.split import default_split_table, holdout_split
from dbtwin.validate import find_problems, resolve_orphans


def test_chinook_split_by_customer(chinook):
    real, _ = resolve_orphans(chinook, "drop")
    split = holdout_split(real, 0.2, "customer", random_state=3)
    assert split.split_tables == ["customer", "invoice", "invoice_line"]
    train_customers = set(split.train["customer"]["customer_id"])
    held_customers = set(split.holdout["customer"]["customer_id"])
    assert not train_customers & held_customers
    assert len(train_customers) + len(held_customers) == real.num_rows("customer")
    assert 0.05 < len(held_customers) / real.num_rows("customer") < 0.4
    # families stay together: every invoice sits beside its customer, every line beside its invoice
    assert set(split.holdout["invoice"]["customer_id"]) <= held_customers
    assert set(split.train["invoice"]["customer_id"]) <= train_customers
    assert not set(split.train["invoice"]["invoice_id"]) & set(split.holdout["invoice"]["invoice_id"])
    assert split.train.num_rows("invoice_line") + split.holdout.num_rows("invoice_line") == real.num_rows(
        "invoice_line"
    )
    # context tables are whole on both sides, and both sides are valid databases
    assert split.train.num_rows("track") == split.holdout.num_rows("track") == real.num_rows("track")
    for side in (split.train, split.holdout):
        assert not [p for p in find_problems(side) if p.severity == "error"]
    assert split.summary()["holdout_rows"]["customer"] == len(held_customers)


def test_split_is_seeded_and_default_table(chinook, flights_jan):
    a = holdout_split(chinook, 0.3, "customer", random_state=0)
    b = holdout_split(chinook, 0.3, "customer", random_state=0)
    c = holdout_split(chinook, 0.3, "customer", random_state=1)
    assert a.holdout["customer"]["customer_id"].tolist() == b.holdout["customer"]["customer_id"].tolist()
    assert a.holdout["customer"]["customer_id"].tolist() != c.holdout["customer"]["customer_id"].tolist()
    assert default_split_table(chinook) == "artist"  # the most rows below it
    flights, _ = resolve_orphans(flights_jan, "drop")
    split = holdout_split(flights, 0.2, "planes", random_state=0)
    # flights without a plane are drawn at random, so the hold-out still gets about a fifth
    share = split.holdout.num_rows("flights") / flights.num_rows("flights")
    assert 0.1 < share < 0.3


def test_split_rejects_bad_arguments(chinook):
    with pytest.raises(ValueError, match="strictly between"):
        holdout_split(chinook, 1.0)
    with pytest.raises(Exception, match="no_such_table"):
        holdout_split(chinook, 0.2, "no_such_table")
