"""Generation around given rows: the twin holds the given rows (and their parents) byte for byte,
generates every other table around them with as many rows per given row as the real data has, and
refuses rows that do not fit the model's schema with the table and column named."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dbtwin import Database, read, write
from dbtwin.cli import app
from dbtwin.errors import DataValidationError, OptionError, SchemaError
from dbtwin.schema import Column, ColumnKind, Schema, StorageType, Table
from dbtwin.synthesizer import Synthesizer
from dbtwin.validate import find_problems

QUICK = {"train_steps": 20, "sample_steps": 4, "hidden": 16, "batch_size": 64, "progress": False, "random_state": 0}


@pytest.fixture(scope="module")
def chinook_model(chinook):
    return Synthesizer(**QUICK).fit(chinook)


def new_customers(chinook, n: int = 12) -> Database:
    """``n`` customers the model never saw (new keys, names, a country of their own) and the employees
    they reference."""
    customers = chinook["customer"].iloc[:n].copy()
    customers["customer_id"] = np.arange(1000, 1000 + n)
    customers["first_name"] = [f"Given{i}" for i in range(n)]
    customers["country"] = "Atlantis"
    schema = chinook.schema.subset(["employee", "customer"])
    return Database.from_frames({"employee": chinook["employee"], "customer": customers.reset_index(drop=True)}, schema)


@pytest.mark.parametrize("scale", [1.0, 2.0])
def test_the_twin_holds_the_given_rows_and_generates_the_rest_around_them(chinook, chinook_model, scale):
    given = new_customers(chinook)
    twin = chinook_model.sample(scale=scale, random_state=1, given=given, given_tables=["customer"])
    pd.testing.assert_frame_equal(twin["customer"], given["customer"], check_exact=True)
    pd.testing.assert_frame_equal(twin["employee"], chinook["employee"].reset_index(drop=True), check_exact=True)
    assert find_problems(twin) == []
    invoices = twin["invoice"]
    assert set(invoices["customer_id"]) == set(given["customer"]["customer_id"])
    # every real customer has 7 invoices: so does every given one, whatever the scale
    assert (invoices.groupby("customer_id").size() == 7).all()
    lines_per_invoice = len(chinook["invoice_line"]) / len(chinook["invoice"])
    assert abs(len(twin["invoice_line"]) - lines_per_invoice * len(invoices)) <= 1
    assert twin.num_rows("track") == round(chinook.num_rows("track") * scale)  # not below the given rows


def test_given_rows_that_do_not_fit_the_model_are_refused_by_name(chinook, chinook_model):
    given = new_customers(chinook)
    table = given.schema.table("customer")
    without_email = Table("customer", [c for c in table.columns if c.name != "email"], table.primary_key)
    lacking = Database.from_frames(
        {"employee": given["employee"], "customer": given["customer"].drop(columns=["email"])},
        Schema({"employee": given.schema.table("employee"), "customer": without_email}, given.schema.foreign_keys),
    )
    with pytest.raises(SchemaError, match="given table 'customer' lacks column 'email'"):
        chinook_model.sample(given=lacking, given_tables=["customer"])
    text_keys = Table(
        "customer",
        [
            Column("customer_id", StorageType.STRING, ColumnKind.ID, False) if c.name == "customer_id" else c
            for c in table.columns
        ],
        table.primary_key,
    )
    retyped = Database.from_frames(
        {
            "employee": given["employee"],
            "customer": given["customer"].assign(customer_id=lambda f: "c" + f["customer_id"].astype(str)),
        },
        Schema({"employee": given.schema.table("employee"), "customer": text_keys}, given.schema.foreign_keys),
    )
    with pytest.raises(
        SchemaError, match=r"given column 'customer\.customer_id' is stored as string, the model's as int64"
    ):
        chinook_model.sample(given=retyped, given_tables=["customer"])
    with pytest.raises(OptionError, match="given: table 'customers' is not in the model's database"):
        chinook_model.sample(given=given, given_tables=["customers"])
    alone = Database.from_frames({"customer": given["customer"]}, Schema({"customer": table}, []))
    with pytest.raises(OptionError, match="needs its parent 'employee'"):
        chinook_model.sample(given=alone, given_tables=["customer"])
    orphan = new_customers(chinook)
    orphan.tables["customer"].loc[0, "support_rep_id"] = 999
    with pytest.raises(DataValidationError, match="support_rep_id"):
        chinook_model.sample(given=orphan, given_tables=["customer"])


def test_a_kept_table_below_given_rows_must_be_given_too(chinook):
    model = Synthesizer(keep=["invoice"], **QUICK).fit(chinook)
    with pytest.raises(OptionError, match="the model keeps table 'invoice' as it is, and it references the given"):
        model.sample(given=new_customers(chinook), given_tables=["customer"])


def test_the_command_line_samples_around_given_rows_and_never_writes_them(tmp_path, chinook, chinook_model):
    model, src = tmp_path / "model", tmp_path / "given.sqlite"
    chinook_model.save(model)
    write(new_customers(chinook), src)
    before = src.read_bytes()
    runner = CliRunner()
    out = tmp_path / "twin.sqlite"
    result = runner.invoke(app, ["sample", str(model), "--out", str(out), "--given", str(src), "--keep", "customer"])
    assert result.exit_code == 0, result.output
    assert "held as given: employee, customer" in " ".join(result.output.split())
    twin = read(out)
    assert sorted(twin["customer"]["customer_id"]) == list(range(1000, 1012)) and find_problems(twin) == []
    with sqlite3.connect(src) as conn:
        assert conn.execute("SELECT COUNT(*) FROM customer").fetchone()[0] == 12
    assert src.read_bytes() == before
    for args, message in (
        (["--keep", "customer"], "--keep: --given and --keep go together"),
        (["--given", str(src)], "--given: --given and --keep go together"),
        (["--given", str(src), "--keep", "nope"], "--given: table 'nope' is not in the model's database"),
    ):
        bad = runner.invoke(app, ["sample", str(model), "--out", str(tmp_path / "x.sqlite"), *args])
        assert bad.exit_code == 2 and message in " ".join(bad.output.split()), bad.output
    onto = runner.invoke(
        app, ["sample", str(model), "--out", str(src), "--given", str(src), "--keep", "customer", "--replace"]
    )
    assert onto.exit_code == 2 and src.read_bytes() == before
