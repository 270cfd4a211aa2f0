"""Relations in the user's hands: declared or turned off in the metadata JSON, shown by inspect,
scored by evaluate."""

from __future__ import annotations

import json
from copy import deepcopy

import pytest

from dbtwin.database import Database
from dbtwin.encode.rare import Protection
from dbtwin.errors import SchemaError
from dbtwin.inspection import summarize
from dbtwin.relations import Aggregate, Dependency, Ref
from dbtwin.relations.report import fit_relations, relations_kept
from dbtwin.schema.metadata_json import schema_from_dict, schema_to_dict

SUM_OF_LINES = {
    "kind": "aggregate",
    "table": "invoice",
    "column": "total",
    "foreign_key": "invoice_line.invoice_id->invoice",
    "function": "sum",
    "child_columns": ["unit_price", "quantity"],
}


def _with_relations(db: Database, relations: dict) -> Database:
    data = schema_to_dict(db.schema)
    data["relations"] = relations
    schema = schema_from_dict(json.loads(json.dumps(data)))
    assert schema_from_dict(schema_to_dict(schema)).relations == schema.relations  # round trip
    return Database.from_frames(db.tables, schema)


def test_declared_rule_is_kept_and_off_rules_are_not(chinook):
    db = _with_relations(
        chinook,
        {"off": [{"kind": "dependency", "column": "state"}, {"kind": "copy"}], "declared": [SUM_OF_LINES]},
    )
    rules = fit_relations(db, True, Protection(), 0).rules
    assert rules[0] == Aggregate("invoice", "total", SUM_OF_LINES["foreign_key"], "sum", ("unit_price", "quantity"), 2)
    assert not any(r.kind == "copy" for r in rules)
    assert not any(isinstance(r, Dependency) and r.column == "state" for r in rules)
    assert any(r == Dependency("customer", "country", Ref("city")) for r in rules)
    only_declared = _with_relations(chinook, {"discover": False, "declared": [SUM_OF_LINES]})
    assert [r.target for r in fit_relations(only_declared, True, Protection(), 0).rules] == [("invoice", "total")]


def test_a_declared_rule_the_data_break_is_dropped(chinook, caplog):
    wrong = dict(SUM_OF_LINES, child_columns=["quantity"])  # total is not the number of tracks bought
    db = _with_relations(chinook, {"discover": False, "declared": [wrong]})
    assert fit_relations(db, True, Protection(), 0).rules == []
    assert "broken by" in caplog.text


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "sum"},
        dict(SUM_OF_LINES, column="nothing"),
        dict(SUM_OF_LINES, foreign_key="no such key"),
        dict(SUM_OF_LINES, function="median"),
        {"kind": "formula", "table": "invoice_line", "column": "unit_price", "operation": "^", "left": "quantity"},
        {"kind": "copy", "table": "invoice", "column": "invoice_id", "foreign_key": "invoice.customer_id->customer"},
    ],
)
def test_a_malformed_declaration_names_the_place(chinook, bad):
    db = _with_relations(chinook, {"declared": [bad]})
    with pytest.raises(SchemaError):
        fit_relations(db, True, Protection(), 0)


def test_malformed_settings_are_refused(chinook):
    data = schema_to_dict(chinook.schema)
    for relations in ({"discover": "yes"}, {"off": ["invoice.total"]}, {"declared": {}}, {"rules": []}):
        with pytest.raises(SchemaError, match="relations"):
            schema_from_dict(dict(data, relations=relations))


def test_inspect_lists_the_rules(chinook):
    found = summarize(chinook)["relations"]
    assert "invoice.total = sum(invoice_line.unit_price)" in [r["rule"] for r in found["rules"]]
    assert "customer.city -> customer.country" in [r["rule"] for r in found["rules"]]


def test_evaluate_scores_each_rule(chinook):
    same = relations_kept(chinook, chinook)
    assert same["score"] == 1.0 and same["rows_breaking"] == 0
    tables = {t: f.copy() for t, f in chinook.tables.items()}
    tables["invoice"].loc[:9, "total"] += 1.0
    tables["customer"].loc[:4, "country"] = "Atlantis"
    broken = relations_kept(chinook, Database.from_frames(tables, deepcopy(chinook.schema)))
    shares = {r["rule"]: r["share"] for r in broken["rules"]}
    assert shares["invoice.total = sum(invoice_line.unit_price)"] == pytest.approx(1 - 10 / 412)
    assert shares["customer.city -> customer.country"] < 1.0
    assert broken["score"] < 1.0
