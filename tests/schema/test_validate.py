"""Validation: every bad input gets a message naming its table and column; the orphan policies."""

from __future__ import annotations

import pandas as pd
import pytest

from dbtwin import Database
from dbtwin.errors import DataValidationError
from dbtwin.validate import check, find_problems, resolve_orphans
from tests.conftest import company_db


def _with(db: Database, table: str, frame: pd.DataFrame) -> Database:
    tables = dict(db.tables)
    tables[table] = frame
    return Database.from_frames(tables, db.schema)


def _problem(db: Database, code: str):
    found = [p for p in find_problems(db) if p.code == code]
    assert found, f"no {code} problem found"
    return found[0]


def test_clean_data_has_no_problems(company, chinook):
    assert find_problems(company) == []
    assert find_problems(chinook) == []
    check(chinook)


def test_duplicate_primary_key(company):
    frame = company["dept"].copy()
    frame.loc[1, "code"] = "R&D"
    p = _problem(_with(company, "dept", frame), "duplicate_primary_key")
    assert (p.table, p.column, p.count) == ("dept", "code", 1)
    assert "primary key (code) of table 'dept' has 1 duplicate value(s), e.g. [{'code': 'R&D'}]" in p.message


def test_null_primary_key(company):
    frame = company["project"].copy()
    frame.loc[0, "pid"] = None
    p = _problem(_with(company, "project", frame), "null_primary_key")
    assert p.message == "primary key column 'project.pid' holds 1 NULL(s)"


def test_type_mismatch_names_table_and_column(company):
    frames = dict(company.tables)
    frames["timesheet"] = company["timesheet"].astype({"week": object})
    frames["timesheet"].loc[2, "week"] = "second"
    with pytest.raises(
        DataValidationError,
        match=r"column 'timesheet\.week' is declared int64 but 1 value\(s\) are not, e.g. \['second'\]",
    ):
        Database.from_frames(frames, company.schema)


def test_fractional_values_in_integer_column_are_a_mismatch(company):
    frames = dict(company.tables)
    frames["assignment"] = company["assignment"].astype({"hours": float})
    frames["assignment"].loc[0, "hours"] = 2.5
    with pytest.raises(DataValidationError, match=r"'assignment\.hours' is declared int64"):
        Database.from_frames(frames, company.schema)


def test_null_in_not_null_column(company):
    frame = company["timesheet"].copy()
    frame.loc[0, "person"] = None
    p = _problem(_with(company, "timesheet", frame), "null_in_not_null")
    assert p.message == "column 'timesheet.person' is declared NOT NULL but holds 1 NULL(s)"


def test_empty_table(company):
    p = _problem(_with(company, "project", company["project"].iloc[:0]), "empty_table")
    assert p.message == "table 'project' has no rows"


def test_orphans_counted_per_foreign_key(flights_jan):
    orphans = {p.column: p.count for p in find_problems(flights_jan) if p.code == "orphan_foreign_key"}
    assert orphans == {"tailnum": 4324, "dest": 680, "origin, time_hour": 52}
    with pytest.raises(
        DataValidationError, match=r"4324 row\(s\) of 'flights' have flights\(tailnum\) values not found"
    ):
        check(flights_jan)


def _orphaned_company() -> Database:
    db = company_db()
    frame = db["assignment"].copy()
    frame.loc[1, "project"] = 99  # assignment (4, 99) is an orphan; its timesheet row follows it
    return _with(db, "assignment", frame)


def test_orphan_policy_error():
    with pytest.raises(DataValidationError, match=r"assignment\(project\) values not found in 'project'"):
        resolve_orphans(_orphaned_company(), "error")


def test_orphan_policy_drop_cascades():
    db = company_db()
    project = db["project"].copy()
    project.loc[1, "pid"] = 30  # assignments to project 20 become orphans, and so, once dropped, their timesheets
    db, report = resolve_orphans(_with(db, "project", project), "drop")
    assert db["assignment"]["project"].tolist() == [10, 10]
    assert len(db["timesheet"]) == 3
    assert report.orphans == {name: (2 if name == "assignment.project->project" else 0) for name in report.orphans}
    assert report.actions == [
        "assignment(project) -> project(pid): dropped 2 row(s) of 'assignment' (orphans)",
        "timesheet(person, project) -> assignment(person, project): dropped 1 row(s) of 'timesheet' "
        "(orphaned by earlier drops)",
    ]
    assert find_problems(db) == []


def test_orphan_policy_null_refuses_key_columns():
    # assignment.project is part of the primary key: it cannot be set to NULL
    with pytest.raises(
        DataValidationError, match=r"assignment\(project\) -> project\(pid\) cannot be set to NULL.*'drop'"
    ):
        resolve_orphans(_orphaned_company(), "null")
    _, report = resolve_orphans(company_db(), "null")
    assert report.actions == []


def test_orphan_policy_null_sets_plain_foreign_keys_to_null(flights_jan):
    db, report = resolve_orphans(flights_jan, "null")
    assert db.num_rows("flights") == flights_jan.num_rows("flights")
    assert int(db["flights"]["tailnum"].isna().sum()) == 4324 + 155
    # origin is shared with the airports key: the weather orphans null time_hour only
    assert int(db["flights"]["time_hour"].isna().sum()) == 52
    assert int(db["flights"]["origin"].isna().sum()) == 0
    assert [p for p in find_problems(db) if p.code == "orphan_foreign_key"] == []
    assert len(report.actions) == 3


def test_cycle_of_not_null_keys_is_an_error():
    from dbtwin.schema import Column, ColumnKind, ForeignKey, Schema, StorageType, Table

    i, k = StorageType.INT64, ColumnKind.ID
    schema = Schema(
        {
            "a": Table("a", [Column("id", i, k, False), Column("b_id", i, k, False)], ("id",)),
            "b": Table("b", [Column("id", i, k, False), Column("a_id", i, k, False)], ("id",)),
        },
        [ForeignKey("a", ("b_id",), "b", ("id",)), ForeignKey("b", ("a_id",), "a", ("id",))],
    )
    db = Database.from_frames(
        {"a": pd.DataFrame({"id": [1], "b_id": [1]}), "b": pd.DataFrame({"id": [1], "a_id": [1]})}, schema
    )
    p = _problem(db, "fk_cycle")
    assert p.severity == "error" and "tables a -> b reference each other in a cycle of NOT NULL" in p.message
