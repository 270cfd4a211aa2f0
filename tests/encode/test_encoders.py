"""Encoders: exact round trips where the data allow, no verbatim copies of rare text."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dbtwin.encode.columns import CategoricalEncoder, NumericEncoder
from dbtwin.encode.quantile import QuantileNormal
from dbtwin.encode.table import TableEncoder
from dbtwin.schema.dtypes import to_storage
from dbtwin.synthesizer.keys import structural_columns


def test_quantile_transform_is_normal_and_invertible():
    rng = np.random.default_rng(0)
    x = rng.lognormal(size=5000)
    q = QuantileNormal.fit(x)
    z = q.transform(x)
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05
    assert np.allclose(q.inverse(z), x, rtol=1e-3, atol=1e-3)


def test_numeric_encoder_restores_integers_decimals_and_missing():
    values = np.array([1.25, 2.5, np.nan, 10.75, 3.0, np.nan])
    enc = NumericEncoder.fit("c", values, integer=False)
    assert enc.decimals == 2 and enc.has_missing
    scores, missing = enc.transform(values)
    back = enc.inverse(scores, missing)
    assert np.allclose(back[~np.isnan(values)], values[~np.isnan(values)], atol=1e-9)
    assert np.isnan(back[[2, 5]]).all()
    ints = NumericEncoder.fit("i", np.array([3.0, 7.0, 1.0]), integer=True)
    assert ints.inverse(np.array([-9.0, 0.1, 9.0]), None).tolist() == [1.0, 3.0, 7.0]  # clipped to range


def test_rare_text_becomes_placeholders_of_the_same_shape():
    values = pd.Series(["Ann Lee", "Ann Lee", "Ann Lee", "Bo-99", "luisg@embraer.com.br", None])
    enc = CategoricalEncoder.fit("name", values, min_count=3)
    assert enc.categories == [None, "Ann Lee"] and enc.has_other
    codes = enc.transform(values)
    assert codes.tolist() == [1, 1, 1, 2, 2, 0]
    out = enc.inverse(np.array([2] * 200), np.random.default_rng(0))
    assert not {"Bo-99", "luisg@embraer.com.br"} & set(out)
    assert {len(v) for v in out} <= {5, 20}
    assert any(v.count("@") == 1 and v.count(".") == 2 for v in out)


def test_text_keeps_its_most_frequent_values_up_to_the_bound():
    """Categories of a text column do not grow with the data: beyond the bound, its less frequent values
    (seen often enough or not) are "any other value", and so is what the text model writes."""
    values = pd.Series(["a"] * 9 + ["b"] * 5 + ["c"] * 4 + ["d"] * 3 + ["e"] * 1 + [None] * 2)
    enc = CategoricalEncoder.fit("comment", values, min_count=3, max_categories=2)
    assert enc.categories == [None, "a", "b"] and enc.has_other
    assert enc.transform(values).tolist() == [1] * 9 + [2] * 5 + [3] * 8 + [0] * 2
    assert CategoricalEncoder.fit("comment", values, min_count=3).categories == [None, "a", "b", "c", "d"]


def test_a_free_text_column_has_a_bounded_number_of_categories(monkeypatch):
    from dbtwin.encode import table as table_module
    from dbtwin.schema import Column, ColumnKind, StorageType, Table

    monkeypatch.setattr(table_module, "MAX_TEXT_CATEGORIES", 3)
    schema = Table(
        "t",
        [
            Column("note", StorageType.STRING, ColumnKind.TEXT),
            Column("tag", StorageType.STRING, ColumnKind.CATEGORICAL),
        ],
        (),
    )
    frame = pd.DataFrame({"note": [f"note {i % 10}" for i in range(100)], "tag": [f"t{i % 10}" for i in range(100)]})
    enc = TableEncoder.fit(schema, frame, set())
    assert enc.cardinalities == [4, 10]  # three notes and "any other"; a categorical keeps every value


@pytest.mark.parametrize("dataset", ["chinook", "flights_jan"])
def test_table_encoders_round_trip_exactly(dataset, request):
    db = request.getfixturevalue(dataset)
    for name, table in db.schema.tables.items():
        enc = TableEncoder.fit(table, db[name], structural_columns(db.schema, name), rare_categories=False)
        enc = TableEncoder.from_dict(json.loads(json.dumps(enc.to_dict())))
        scores, codes = enc.transform(db[name])
        back = enc.inverse(scores, codes, np.random.default_rng(0))
        for col in back.columns:
            if table.column(col).kind.value == "text":
                continue
            restored = to_storage(back[col], table.column(col).dtype)
            pd.testing.assert_series_equal(
                restored, db[name][col].reset_index(drop=True), check_names=False, obj=f"{name}.{col}"
            )


def test_later_datetimes_are_stored_as_differences(chinook):
    table = chinook.schema.table("employee")
    enc = TableEncoder.fit(table, chinook["employee"], structural_columns(chinook.schema, "employee"))
    assert [(d.column, d.relative_to) for d in enc.datetimes] == [("birth_date", None), ("hire_date", "birth_date")]


def test_rare_categories_share_one_code_that_never_decodes_to_them():
    """Protected, a category seen fewer than min_count times is "another value": a string column
    decodes it as a placeholder of its shape, a numeric one as a frequent category."""
    words = pd.Series(["a"] * 5 + ["b"] * 4 + ["Yellowknife"], dtype=object)
    numbers = pd.Series([1] * 5 + [2] * 4 + [7])
    for series, rare in ((words, "Yellowknife"), (numbers, 7)):
        enc = CategoricalEncoder.fit("c", series, min_count=3)
        assert enc.has_other and rare not in enc.categories
        codes = enc.transform(series)
        assert codes[-1] == len(enc.categories)
        decoded = enc.inverse(np.full(200, len(enc.categories)), np.random.default_rng(0))
        assert rare not in set(decoded)
        if series.dtype != object:
            assert set(decoded) <= {1, 2}
    assert CategoricalEncoder.fit("c", numbers).categories == [1, 2, 7]  # no min_count: every value kept
