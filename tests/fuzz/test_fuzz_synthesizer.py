"""Fuzzed fit and sample: on any valid database, a few training steps and a sample either work, with
every key unique, every foreign key resolving and NULLs only where allowed, or fit refuses with a
DbtwinError; sampling never produces rows that break the schema (it would raise DataValidationError)."""

from __future__ import annotations

import warnings

from hypothesis import event, given
from hypothesis import strategies as st

from dbtwin.errors import DbtwinError
from dbtwin.synthesizer import Synthesizer
from dbtwin.validate import find_problems
from tests.fuzz.strategies import databases


@given(db=databases(max_tables=3, max_rows=10), hops=st.integers(0, 2), scale=st.sampled_from([0.5, 1.0, 2.0]))
def test_fit_and_sample_keep_integrity_or_refuse(db, hops, scale):
    synth = Synthesizer(train_steps=2, sample_steps=3, hidden=16, num_hops=hops, progress=False, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            synth.fit(db)
        except DbtwinError as exc:
            event(f"fit refused: {type(exc).__name__}")
            return
        fake = synth.sample(scale=scale, random_state=1)
    event("sampled")
    assert fake.schema.table_names == db.schema.table_names
    for name, table in db.schema.tables.items():
        assert fake.schema.table(name).column_names == table.column_names
        assert [c.dtype for c in fake.schema.table(name).columns] == [c.dtype for c in table.columns]
    errors = [p for p in find_problems(fake) if p.severity == "error" and p.code != "empty_table"]
    assert not errors, errors
