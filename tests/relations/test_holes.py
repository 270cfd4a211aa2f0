"""Rules around missing values: a rule that holds wherever both sides are known is found with holes,
its column stays generated and is set by the rule wherever the rule gives a value; a rule broken on one
known row, or seen on too few, is never claimed; imputation fills a hole by the rule."""

from __future__ import annotations

from copy import deepcopy

import numpy as np
import pandas as pd
import pytest

from dbtwin.database import Database
from dbtwin.relations import Aggregate, Dependency, Formula, Ref, apply_rules, discover, keeping
from dbtwin.relations.discover import HOLE_SUPPORT
from dbtwin.relations.rule_json import rule_from_dict
from dbtwin.schema.dtypes import to_storage
from dbtwin.synthesizer import Synthesizer
from tests.relations.test_discovery import LINE_INVOICE, LINE_TRACK, planted

HOLED = {
    "invoice_line": ["unit_price", "quantity", "amount", "net"],
    "track": ["rate"],
    "invoice": ["total", "billing_country"],
    "customer": ["region", "country"],
}
WITH_HOLES = [
    Formula("invoice_line", "amount", "*", Ref("unit_price"), Ref("quantity"), 2),
    Formula("invoice_line", "net", "*", Ref("amount"), Ref("rate", (LINE_TRACK,)), 2),
    Aggregate("invoice", "total", LINE_INVOICE, "sum", ("amount",), 2, 0.0),
]


def holed(db: Database, share: float, seed: int = 0) -> tuple[Database, dict[str, dict[str, np.ndarray]]]:
    """``db`` with ``share`` of the cells of :data:`HOLED` NULL (their columns declared nullable), and
    the rows made NULL per table and column."""
    rng = np.random.default_rng(seed)
    schema = deepcopy(db.schema)
    tables = {t: f.copy() for t, f in db.tables.items()}
    masked = {}
    for table, columns in HOLED.items():
        for column in columns:
            rows = np.flatnonzero(rng.random(len(tables[table])) < share)
            values = tables[table][column].astype(object).to_numpy()
            values[rows] = None
            spec = schema.table(table).column(column)
            spec.nullable = True
            tables[table][column] = to_storage(pd.Series(values), spec.dtype, spec.scale)
            masked.setdefault(table, {})[column] = rows
    return Database.from_frames(tables, schema), masked


@pytest.fixture(scope="module")
def planted_db(chinook):
    return planted(Database.from_frames(chinook.tables, deepcopy(chinook.schema)))


@pytest.fixture(scope="module")
def with_holes(planted_db):
    return holed(planted_db, 0.1)


def _found(rules, wanted):
    return next((r for r in rules if type(r) is type(wanted) and r == wanted), None)


def test_rules_found_around_holes(planted_db, with_holes):
    db, _ = with_holes
    rules = discover(db).rules
    for wanted in WITH_HOLES:
        wanted.holes = True
        rule = _found(rules, wanted)
        assert rule is not None and rule.holes and not rule.derives, wanted.describe(db.schema)
        assert not keeping(db, rule).holds and keeping(db, rule, holes=True).holds
    region = next(r for r in rules if isinstance(r, Dependency) and r.column == "region")
    assert region.holes and region.determinant == Ref("country")
    # with every cell there, the same rules derive their columns, as before
    complete = discover(planted_db).rules
    for wanted in WITH_HOLES:
        wanted.holes = False
        assert (rule := _found(complete, wanted)) is not None and rule.derives


def test_a_known_row_that_breaks_it_is_never_claimed(with_holes):
    db, _ = with_holes
    lines = db["invoice_line"]
    known = np.flatnonzero(lines["amount"].notna() & lines["unit_price"].notna() & lines["quantity"].notna())
    tables = {t: f.copy() for t, f in db.tables.items()}
    tables["invoice_line"].loc[known[7], "amount"] = float(lines["amount"].iloc[known[7]]) + 0.5
    broken = Database.from_frames(tables, db.schema)
    amount = WITH_HOLES[0]
    assert not any(r.target == amount.target and isinstance(r, Formula) for r in discover(broken).rules)


def test_too_few_known_rows_claim_nothing(planted_db):
    # 98% of the cells NULL: too few rows with price, quantity and amount known to claim the formula
    db, _ = holed(planted_db, 0.98, seed=1)
    lines = db["invoice_line"]
    both = int((lines["amount"].notna() & lines["unit_price"].notna() & lines["quantity"].notna()).sum())
    assert both < HOLE_SUPPORT
    assert not any(r.target == ("invoice_line", "amount") for r in discover(db).rules if isinstance(r, Formula))


def test_applied_only_where_the_rule_gives_a_value():
    from dbtwin.schema.model import Column, ColumnKind, Schema, StorageType, Table

    f = StorageType.FLOAT64
    schema = Schema(
        {
            "t": Table(
                "t",
                [
                    Column("id", StorageType.INT64, ColumnKind.ID, nullable=False),
                    Column("a", f, ColumnKind.FLOAT),
                    Column("b", f, ColumnKind.FLOAT),
                    Column("c", f, ColumnKind.FLOAT),
                ],
                primary_key=["id"],
            )
        }
    )
    frame = pd.DataFrame(
        {"id": [1, 2, 3, 4], "a": [1.0, np.nan, 3.0, 4.0], "b": [2.0, 2.0, 2.0, 2.0], "c": [9.0, 5.0, np.nan, 1.0]}
    )
    db = Database.from_frames({"t": frame}, schema)
    rule = Formula("t", "c", "*", Ref("a"), Ref("b"), None, holes=True)
    apply_rules(db, [rule], np.random.default_rng(0))
    # set where a and b are known; kept where a is NULL (the rule gives nothing); NULL stays NULL
    assert db["t"]["c"].tolist()[:2] == [2.0, 5.0] and np.isnan(db["t"]["c"].iloc[2]) and db["t"]["c"].iloc[3] == 8.0


def test_saved_form(with_holes):
    db, _ = with_holes
    rule = WITH_HOLES[0]
    rule.holes = True
    saved = rule.to_dict()
    assert saved["holes"] is True and rule_from_dict(saved, db.schema) == rule
    rule.holes = False
    assert "holes" not in rule.to_dict()  # a rule without holes is saved as before


def test_sampled_and_imputed(with_holes, planted_db):
    db, masked = with_holes
    synth = Synthesizer(train_steps=20, sample_steps=4, progress=False, random_state=0).fit(db)
    holes = [r for r in synth.rules_ if r.holes]
    assert {r.target for r in holes} >= {w.target for w in WITH_HOLES}
    fake = synth.sample(1.0, random_state=1)
    for rule in synth.rules_:
        assert keeping(fake, rule, holes=rule.holes).holds, rule.describe(fake.schema)
    # a NULL amount whose price and quantity are known is filled by the formula, exactly
    filled = synth.impute(db, columns=["invoice_line.amount"], random_state=0)
    lines, real = filled["invoice_line"], planted_db["invoice_line"]
    rows = masked["invoice_line"]["amount"]
    given = rows[(db["invoice_line"]["unit_price"].notna() & db["invoice_line"]["quantity"].notna()).to_numpy()[rows]]
    assert len(given) > 50 and lines["amount"].notna().all()
    assert np.allclose(lines["amount"].iloc[given].astype(float), real["amount"].iloc[given].astype(float))
    # a billing country whose customer's country is known is that country: the rules read the known
    # cells as they are (not the stand-ins drawn for rare text, nor a rare city's fallback country)
    filled = synth.impute(db, random_state=0)
    invoice, customer = filled["invoice"], db["customer"].set_index("customer_id")["country"]
    rows = masked["invoice"]["billing_country"]
    theirs = customer.reindex(invoice["customer_id"].iloc[rows].astype(int)).to_numpy()
    known = np.array([isinstance(v, str) for v in theirs])
    assert known.sum() > 20 and (invoice["billing_country"].iloc[rows].to_numpy()[known] == theirs[known]).all()


def test_a_constant_with_holes_is_no_dependency(with_holes):
    from dbtwin.schema.model import Column, ColumnKind, StorageType

    db, _ = with_holes
    schema = deepcopy(db.schema)
    tables = {t: f.copy() for t, f in db.tables.items()}
    values = np.where(np.random.default_rng(3).random(len(tables["invoice"])) < 0.2, None, "2013")
    tables["invoice"]["era"] = pd.Series(values, dtype=object)
    schema.table("invoice").columns = [
        *schema.table("invoice").columns,
        Column("era", StorageType.STRING, ColumnKind.CATEGORICAL),
    ]
    rules = discover(Database.from_frames(tables, schema)).rules
    assert not any(isinstance(r, Dependency) and r.column == "era" for r in rules)
