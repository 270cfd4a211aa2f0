"""Believable values on real data: Chinook's twin shows no rare real value in any protected column
over many seeds, its personal values pass their types' checks and agree within the row, and the plan
survives a save and a load."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from dbtwin import Database
from dbtwin.encode.rare import Protection, RareValues, value_key
from dbtwin.relations.report import relations_kept
from dbtwin.schema import Column, ColumnKind, Schema, StorageType, Table
from dbtwin.semantic.checks import is_email, is_first_name, is_last_name, is_phone
from dbtwin.semantic.fake import ascii_word
from dbtwin.semantic.plan import ValuePlan, protected_columns
from dbtwin.synthesizer import Synthesizer

SEEDS = range(6)


@pytest.fixture(scope="module")
def fitted(chinook):
    return Synthesizer(train_steps=20, random_state=0, progress=False).fit(chinook)


@pytest.fixture(scope="module")
def samples(fitted):
    return [fitted.sample(random_state=s) for s in SEEDS]


def _rare_values(db: Database, exempt: list[str], min_count: int = 3) -> dict[tuple[str, str], set[str]]:
    out = {}
    for table, columns in protected_columns(db.schema, Protection(min_count, True, tuple(exempt))).items():
        for column in columns:
            counts = Counter(value_key(v) for v in db[table][column].dropna())
            out[(table, column)] = {v for v, c in counts.items() if c < min_count}
    return out


def test_no_rare_real_value_appears_in_any_sample(chinook, fitted, samples):
    rare = _rare_values(chinook, fitted.values_.exempt)
    assert sum(map(len, rare.values())) > 1_000  # names, e-mails, titles, cities seen once
    assert ("customer", "city") in rare and value_key("Yellowknife") in rare[("customer", "city")]
    for syn in samples:
        for (table, column), values in rare.items():
            shown = {value_key(v) for v in syn[table][column].dropna()}
            assert not shown & values, f"{table}.{column} shows rare real values {sorted(shown & values)[:3]}"
        assert "General Manager" not in set(syn["employee"]["title"].dropna())


def test_kept_tables_are_exempt_and_copied_whole(chinook, fitted, samples):
    assert fitted.values_.exempt == ["genre", "media_type", "playlist"]
    pd.testing.assert_frame_equal(samples[0]["genre"].reset_index(drop=True), chinook["genre"].reset_index(drop=True))


def test_personal_values_pass_their_checks(chinook, samples):
    for syn in samples[:3]:
        customers = syn["customer"]
        real = {c: set(chinook["customer"][c].dropna()) for c in customers.columns}
        emails = customers["email"].dropna()
        assert emails.map(is_email).all() and emails.is_unique
        phones = customers["phone"].dropna()
        assert phones.map(is_phone).all()
        for column, check in (("first_name", is_first_name), ("last_name", is_last_name)):
            generated = [v for v in customers[column].dropna() if v not in real[column]]
            assert generated and all(map(check, generated)), column
        assert customers["postal_code"].dropna().is_unique


def test_values_agree_within_the_row(chinook, samples):
    for syn in samples[:3]:
        customers = syn["customer"]
        with_name = [
            (ascii_word(first), ascii_word(last), email.split("@")[0])
            for first, last, email in zip(
                customers["first_name"], customers["last_name"], customers["email"], strict=True
            )
            if isinstance(email, str)
        ]
        share = np.mean([(last in local) or (first in local) for first, last, local in with_name])
        assert share > 0.95  # e-mails are built from the row's own name, in the real column's styles
        brazil = customers[customers["country"] == "Brazil"]
        assert brazil["postal_code"].dropna().str.fullmatch(r"\d{5}-?\d{3}").mean() > 0.9  # pt_BR's format
        kept = relations_kept(chinook, syn)
        assert kept["score"] == 1.0  # city -> country and the invoice's copies of the customer still hold


def test_rare_categories_can_be_kept(chinook):
    schema = Schema(
        {
            "t": Table(
                "t",
                [
                    Column("id", StorageType.INT64, ColumnKind.ID, False),
                    Column("c", StorageType.STRING, ColumnKind.CATEGORICAL),
                ],
                ("id",),
            )
        }
    )
    values = ["north"] * 60 + ["south"] * 39 + ["Yellowknife"]
    db = Database.from_frames({"t": pd.DataFrame({"id": range(100), "c": values})}, schema)
    seen = {True: set(), False: set()}
    for protect in (True, False):
        synth = Synthesizer(train_steps=20, random_state=0, progress=False, rare_categories=protect).fit(db)
        for seed in range(4):
            seen[protect] |= set(synth.sample(scale=3, random_state=seed)["t"]["c"])
    assert "Yellowknife" not in seen[True] and seen[True] <= {"north", "south"}
    assert "Yellowknife" in seen[False]


def test_plan_survives_save_and_load(fitted, tmp_path):
    fitted.save(tmp_path / "m")
    loaded = Synthesizer.load(tmp_path / "m")
    config, arrays = loaded.values_.to_dict()
    assert config == fitted.values_.to_dict()[0]
    again = ValuePlan.from_dict(config, arrays)
    assert again.rare.contains("customer", "city", ["Yellowknife", "north", None]).tolist() == [True, False, False]
    text = (tmp_path / "m" / "config.json").read_text()
    assert "Yellowknife" not in text  # the rare values are kept as keyed hashes only
    a = fitted.sample(random_state=3)["customer"]
    b = loaded.sample(random_state=3)["customer"]
    pd.testing.assert_frame_equal(a, b)


def test_rare_value_hashes_are_keyed():
    a, b = RareValues(), RareValues()
    a.add("t", "c", ["x", 1, 2.0])
    b.add("t", "c", ["x"])
    assert a.contains("t", "c", ["x", 1.0, 2, "y", None]).tolist() == [True, True, True, False, False]
    assert not np.array_equal(a.hashes[("t", "c")][:1], b.hashes[("t", "c")])  # another key, another hash


def test_a_one_letter_value_seen_once_is_never_shown_nor_numbered():
    """The writing learnt from a lone 'z' spells only 'z': every row drawn anew is another lowercase
    letter from the column's shape, never 'z' and never 'z' with a number after it."""
    schema = Schema(
        {
            "a": Table(
                "a",
                [
                    Column("id", StorageType.INT64, ColumnKind.ID, False),
                    Column("s", StorageType.STRING, ColumnKind.CATEGORICAL),
                ],
                ("id",),
            )
        }
    )
    one = Database.from_frames({"a": pd.DataFrame({"id": [1], "s": ["z"]})}, schema)
    plan = ValuePlan.fit(one, Protection())
    many = Database.from_frames({"a": pd.DataFrame({"id": range(2_000), "s": ["z"] * 2_000})}, schema)
    assert plan.apply(many, np.random.default_rng(0)) == {"a.s": 2_000}
    drawn = set(many["a"]["s"])
    assert len(drawn) > 20 and "z" not in drawn
    assert all(len(v) == 1 and v.islower() for v in drawn), sorted(v for v in drawn if len(v) != 1)
