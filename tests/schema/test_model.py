"""Schema structure: lookups, depth, order, cycles and the errors that name the table and column."""

from __future__ import annotations

import pytest

from dbtwin.errors import SchemaError
from dbtwin.schema import Column, ColumnKind, ForeignKey, Schema, StorageType, Table

INT, STR = StorageType.INT64, StorageType.STRING


def _t(name: str, *cols: str, pk: tuple[str, ...] = ("id",)) -> Table:
    return Table(name, [Column(c, INT, ColumnKind.ID if c in pk else ColumnKind.INTEGER) for c in cols], pk)


def test_chinook_structure(chinook):
    schema = chinook.schema
    assert len(schema.tables) == 11 and len(schema.foreign_keys) == 11
    assert [fk.name for fk in schema.foreign_keys if fk.is_self_reference] == ["employee.reports_to->employee"]
    assert schema.depth() == 3
    order = schema.topological_order()
    for fk in schema.foreign_keys:
        if not fk.is_self_reference:
            assert order.index(fk.parent) < order.index(fk.child), fk
    assert schema.cycles() == []
    assert set(schema.roots()) == {"artist", "genre", "media_type", "playlist", "employee"}
    assert schema.key_columns("playlist_track") == {"playlist_id", "track_id"}


def test_flights_has_two_foreign_keys_to_airports_and_a_composite_one(flights_jan):
    schema = flights_jan.schema
    to_airports = [fk.columns for fk in schema.foreign_keys_of("flights") if fk.parent == "airports"]
    assert sorted(to_airports) == [("dest",), ("origin",)]
    assert schema.table("weather").primary_key == ("origin", "time_hour")
    assert schema.depth() == 2  # flights -> weather -> airports


def test_cycle_detection_depth_and_order():
    schema = Schema(
        {"a": _t("a", "id", "b_id"), "b": _t("b", "id", "a_id"), "c": _t("c", "id", "a_id")},
        [
            ForeignKey("a", ("b_id",), "b", ("id",)),
            ForeignKey("b", ("a_id",), "a", ("id",)),
            ForeignKey("c", ("a_id",), "a", ("id",)),
        ],
    )
    assert schema.cycles() == [["a", "b"]]
    assert schema.depth() == 1
    assert schema.topological_order().index("c") == 2


@pytest.mark.parametrize(
    ("schema", "pattern", "table", "column"),
    [
        (
            Schema({"a": _t("a", "id", "x")}, [ForeignKey("a", ("x",), "nope", ("id",))]),
            "points at unknown table 'nope'",
            "a",
            "x",
        ),
        (
            Schema({"a": _t("a", "id"), "b": _t("b", "id")}, [ForeignKey("a", ("zz",), "b", ("id",))]),
            r"unknown column 'a\.zz'",
            "a",
            "zz",
        ),
        (
            Schema({"a": _t("a", "id", "x"), "b": _t("b", "id", "y")}, [ForeignKey("a", ("x",), "b", ("y",))]),
            "must reference the primary key of 'b'",
            "b",
            "y",
        ),
        (
            Schema({"a": _t("a", "id", pk=("nope",))}),
            "primary key of table 'a' names unknown column 'nope'",
            "a",
            "nope",
        ),
        (
            Schema({"a": Table("a", [Column("id", INT, ColumnKind.ID), Column("s", STR, ColumnKind.FLOAT)], ("id",))}),
            r"column 'a\.s' stored as string cannot have kind 'float'",
            "a",
            "s",
        ),
        (
            Schema(
                {
                    "a": Table("a", [Column("id", INT, ColumnKind.ID), Column("b", STR, ColumnKind.ID)], ("id",)),
                    "b": _t("b", "id"),
                },
                [ForeignKey("a", ("b",), "b", ("id",))],
            ),
            r"'a\.b' is stored as string but the column it references, 'b\.id', is stored as int64",
            "a",
            "b",
        ),
        (
            Schema({"a": Table("a", [Column("id", INT, ColumnKind.ID)], ("id",), time_column="id")}),
            r"time column 'a\.id' is not stored as a datetime",
            "a",
            "id",
        ),
    ],
)
def test_schema_errors_name_table_and_column(schema, pattern, table, column):
    with pytest.raises(SchemaError, match=pattern) as info:
        schema.check()
    assert (info.value.table, info.value.column) == (table, column)
