"""dbtwin's metadata JSON and SDV's: round trips and refusals."""

from __future__ import annotations

import json

import pytest

from dbtwin.errors import SchemaError
from dbtwin.schema import load_schema, save_schema, schema_from_dict, schema_from_sdv, schema_to_dict, schema_to_sdv


def test_own_format_round_trip(chinook, flights_jan, tmp_path):
    for db in (chinook, flights_jan):
        path = tmp_path / "m.json"
        save_schema(db.schema, path, replace=True)
        assert load_schema(path) == db.schema
        assert json.loads(path.read_text())["version"] == 1


def test_own_format_rejects_other_versions_and_bad_columns(chinook):
    data = schema_to_dict(chinook.schema)
    with pytest.raises(SchemaError, match="unsupported dbtwin metadata version 99"):
        schema_from_dict({**data, "version": 99})
    data["tables"]["album"]["columns"]["title"] = {"kind": "text"}
    with pytest.raises(SchemaError, match=r"column 'album\.title' needs a valid \"dtype\"") as info:
        schema_from_dict(data)
    assert info.value.table == "album"


def test_sdv_export_import_keeps_keys_and_kinds(chinook):
    sdv, notes = schema_to_sdv(chinook.subset([t for t in chinook.schema.table_names if t != "playlist_track"]).schema)
    assert notes == []
    assert sdv["METADATA_SPEC_VERSION"] == "V1"
    assert {
        "parent_table_name": "employee",
        "parent_primary_key": "employee_id",
        "child_table_name": "employee",
        "child_foreign_key": "reports_to",
    } in sdv["relationships"]
    assert sdv["tables"]["track"]["columns"]["milliseconds"] == {
        "sdtype": "numerical",
        "computer_representation": "Int64",
    }
    back = schema_from_sdv(sdv, chinook.tables)
    assert len(back.foreign_keys) == 9
    assert back.table("track").column("milliseconds").kind.value == "integer"
    assert back.table("invoice").column("invoice_date").dtype.value == "datetime"
    assert back.table("invoice").primary_key == ("invoice_id",)


def test_sdv_export_refuses_composite_keys_unless_told(flights_jan):
    with pytest.raises(SchemaError, match="table 'weather' has a composite primary key") as info:
        schema_to_sdv(flights_jan.schema)
    assert info.value.column == "origin"
    sdv, notes = schema_to_sdv(flights_jan.schema, drop_unsupported=True)
    assert len(notes) == 2 and "weather" not in {r["parent_table_name"] for r in sdv["relationships"]}


def test_sdv_metadata_file_is_recognised(tmp_path):
    sdv = {
        "METADATA_SPEC_VERSION": "V1",
        "tables": {
            "users": {"primary_key": "uid", "columns": {"uid": {"sdtype": "id"}, "age": {"sdtype": "numerical"}}},
            "visits": {"columns": {"uid": {"sdtype": "id"}, "when": {"sdtype": "datetime"}, "c": {"sdtype": "email"}}},
        },
        "relationships": [
            {
                "parent_table_name": "users",
                "parent_primary_key": "uid",
                "child_table_name": "visits",
                "child_foreign_key": "uid",
            }
        ],
    }
    (tmp_path / "m.json").write_text(json.dumps(sdv))
    schema = load_schema(tmp_path / "m.json")
    assert schema.foreign_keys[0].parent == "users"
    assert schema.table("visits").column("c").kind.value == "text"
