"""Text columns are counted and coded by hashing the whole column at once: the same counts, in the
same order, and the same codes as value by value; anything else is still counted value by value."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from dbtwin.encode.columns import CategoricalEncoder, _json_value, _shape, text_counts


def _one_by_one(array):
    return Counter(_json_value(v) for v in array)


TEXT = np.array(["b", None, "a", np.nan, "b", pd.NA, "c", "", "é", "b", np.str_("a")], dtype=object)


def test_text_is_counted_as_value_by_value_in_the_order_first_seen():
    counts = text_counts(TEXT)
    assert counts == _one_by_one(TEXT) and list(counts) == list(_one_by_one(TEXT))
    assert counts == {"b": 3, None: 3, "a": 2, "c": 1, "": 1, "é": 1}
    assert text_counts(np.array([None, np.nan], dtype=object)) == {None: 2}


@pytest.mark.parametrize(
    "values",
    [
        [1, "1", 2],  # not text only
        ["a", Decimal("NaN")],  # a decimal NaN is its own value, "NaN"
        ["a", pd.NaT],  # as is NaT
        [Decimal("1.0"), Decimal("1.00")],
    ],
)
def test_anything_else_is_left_to_be_counted_one_by_one(values):
    assert text_counts(np.array(values, dtype=object)) is None


def test_codes_of_text_are_those_of_a_lookup_of_each_value():
    fitted = CategoricalEncoder.fit("c", pd.Series(TEXT), min_count=2)
    assert fitted.categories == [None, "a", "b"] and fitted.has_other
    new = pd.Series(["a", None, "zzz", "b", np.nan, "c"], dtype=object)
    index = {v: i for i, v in enumerate(fitted.categories)}
    expected = [index.get(_json_value(v), len(fitted.categories)) for v in new]
    assert fitted.transform(new).tolist() == expected == [1, 0, 3, 2, 0, 3]
    no_null = CategoricalEncoder.fit("c", pd.Series(["a", "b", "a"]))
    assert no_null.transform(pd.Series(["a", None, "b"], dtype=object)).tolist() == [0, 2, 1]


def test_a_text_spelling_missing_is_not_a_null():
    values = pd.Series(["__missing__", None, "__missing__", "x"], dtype=object)
    fitted = CategoricalEncoder.fit("c", values)
    codes = fitted.transform(values)
    assert codes[0] == codes[2] != codes[1]
    decoded = fitted.inverse(codes, np.random.default_rng(0))
    assert list(decoded) == ["__missing__", None, "__missing__", "x"]


def test_shapes_of_ascii_text_are_those_of_a_walk_over_each_character():
    def walked(text):
        return "".join("9" if c.isdigit() else ("A" if c.isupper() else "a") if c.isalpha() else c for c in text[:64])

    for text in ["AB-12 cd", "x" * 100, "", "\t~!@#$%^&*()_+{}|:<>?", "Straße 5", "٣٤ ½ Ⅻ ǅ 中文", "a\x00b"]:
        assert _shape(text) == walked(text)
