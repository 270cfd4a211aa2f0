"""Detection of types, kinds and keys from bare frames."""

from __future__ import annotations

import pandas as pd

from dbtwin.schema import ColumnKind, StorageType, detect_schema, infer_storage


def test_storage_inference_keeps_values():
    assert infer_storage(pd.Series(["1", "2", None])) == StorageType.INT64
    assert infer_storage(pd.Series(["1.5", "2"])) == StorageType.FLOAT64
    assert infer_storage(pd.Series(["00501", "12345"])) == StorageType.STRING  # leading zeros stay
    assert infer_storage(pd.Series(["2013-01-01T05:00:00Z", "2013-01-02 06:00"])) == StorageType.DATETIME
    assert infer_storage(pd.Series(["true", "False", None])) == StorageType.BOOL
    assert infer_storage(pd.Series([2004.0, None])) == StorageType.INT64
    assert infer_storage(pd.Series(["N14228", "N24211"])) == StorageType.STRING


def test_chinook_keys_are_detected_without_metadata(chinook):
    frames = {name: frame for name, frame in chinook.tables.items()}
    detection = detect_schema(frames)
    schema = detection.schema
    for name, table in chinook.schema.tables.items():
        if len(table.primary_key) == 1:
            assert schema.table(name).primary_key == table.primary_key, name
    found = {(fk.child, fk.columns, fk.parent) for fk in schema.foreign_keys}
    expected = {(fk.child, fk.columns, fk.parent) for fk in chinook.schema.foreign_keys}
    # support_rep_id -> employee and reports_to -> employee cannot be told from names alone
    assert expected - found <= {("customer", ("support_rep_id",), "employee")}
    assert found <= expected
    assert any("foreign key detected: track(album_id) -> album(album_id), 100.0%" in n for n in detection.notes)
    assert schema.table("invoice").column("invoice_date").kind == ColumnKind.DATETIME


def test_foreign_key_with_orphans_is_proposed_with_its_containment(flights_jan):
    frames = {"planes": flights_jan["planes"], "flights": flights_jan["flights"][["tailnum", "dep_delay"]]}
    frames["planes"] = frames["planes"].rename(columns={"tailnum": "planes_id"})
    frames["flights"] = frames["flights"].rename(columns={"tailnum": "planes_id"})
    detection = detect_schema(frames)
    assert [(fk.child, fk.parent) for fk in detection.schema.foreign_keys] == [("flights", "planes")]
    assert any("83.9% of its non-null values" in n for n in detection.notes)
