"""Discovery and keeping on random databases with planted rules (:mod:`tests.relations.planted_rules`):
every planted rule found, none claimed once a single row breaks it, every rule kept on every row of
samples at scales 0.5, 1 and 2.

``DBTWIN_PLANTED`` sets how many random databases discovery is tested on (default 25, to keep the
suite's time; 100 is the whole set, about four minutes) and ``DBTWIN_PLANTED_FITS`` on how many of them a
synthesizer is fitted and sampled (default 6; 100 fits all, about four minutes on two cores).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from dbtwin.database import Database
from dbtwin.relations import Dependency, Formula, Numbering, Order, Rule, discover, keeping
from dbtwin.relations.rules import Period, Step
from dbtwin.synthesizer import Synthesizer
from tests.relations.planted_rules import PLANTS, planted_database

DATABASES = int(os.environ.get("DBTWIN_PLANTED", "25"))
FITS = int(os.environ.get("DBTWIN_PLANTED_FITS", "6"))


def _columns(rule: Rule, schema) -> set[tuple[str, str]]:
    return {rule.target, *rule.inputs(schema)}


def _same(found: Rule, planted: Rule, schema, strict: bool = False) -> bool:
    """Whether ``found`` states the planted rule: same kind and columns; unless ``strict``, a dependency
    or a formula of the same column (another determinant with the same values, ``0.2 * amount`` for
    ``0.2 * (price * quantity)`` where ``amount = price * quantity``) or the formula solved for an
    operand; a grid, a period and an order with the same parameters."""
    if found.kind != planted.kind:
        return False
    if isinstance(planted, Dependency | Formula) and not strict and found.target == planted.target:
        return True  # another determinant with the same values, or an equal formula (0.2 * amount)
    if isinstance(planted, Formula) and not strict:  # the same formula solved for one of its operands
        return found.target in planted.inputs(schema) and planted.target in found.inputs(schema)
    if isinstance(planted, Step):
        return found.target == planted.target and found.seconds == planted.seconds
    if isinstance(planted, Order | Period):
        return found == planted
    return _columns(found, schema) == _columns(planted, schema)


def test_the_generator_plants_every_kind():
    planted = [r for seed in range(DATABASES) for r in planted_database(seed)[1]]
    kinds = {r.kind for r in planted}
    assert kinds == {
        "formula",
        "aggregate",
        "copy",
        "dependency",
        "part",
        "period",
        "step",
        "order",
        "numbering",
        "running",
    }
    assert len(planted) >= DATABASES * len(PLANTS) // 2
    for seed in range(min(DATABASES, 10)):
        db, rules = planted_database(seed)
        for rule in rules:  # the generator plants what it says
            assert keeping(db, rule).holds, (seed, rule.describe(db.schema))


@pytest.mark.parametrize("seed", range(DATABASES))
def test_every_planted_rule_is_found(seed):
    db, planted = planted_database(seed)
    found = discover(db, random_state=seed).rules
    missing = [p.describe(db.schema) for p in planted if not any(_same(f, p, db.schema) for f in found)]
    assert not missing, missing
    wrong = [f.describe(db.schema) for f in found if not keeping(db, f, holes=f.holes).holds]
    assert not wrong, wrong


@pytest.mark.parametrize("seed", range(DATABASES))
def test_a_rule_broken_on_one_row_is_never_claimed(seed):
    db, planted = planted_database(seed)
    rng = np.random.default_rng(seed)
    tables = {t: f.copy() for t, f in db.tables.items()}
    for rule in planted:
        _break(tables[rule.table], rule, db, rng)
    broken = Database.from_frames(tables, db.schema)
    found = discover(broken, random_state=seed).rules
    claimed = [
        p.describe(db.schema)
        for p in planted
        if any(f.target == p.target and _same(f, p, db.schema, strict=True) for f in found)
    ]
    assert not claimed, claimed
    # what is found instead holds (qty = amount / measure, rounded to whole units, hides amount + 1)
    wrong = [f.describe(db.schema) for f in found if not keeping(broken, f, holes=f.holes).holds]
    assert not wrong, wrong


def _break(frame: pd.DataFrame, rule: Rule, db: Database, rng: np.random.Generator) -> None:
    """Change the target of ``rule`` on one row so that the rule no longer holds there."""
    values = frame[rule.column]
    if isinstance(rule, Numbering):
        group = frame[rule.group[0]]
        shared = group[group.duplicated(keep=False)]
        row, other = frame.index[group == shared.iloc[0]][:2]
        frame.loc[row, rule.column] = frame.loc[other, rule.column]
        return
    row = rng.choice(frame.index[values.notna()])
    if isinstance(rule, Dependency):
        codes = pd.Series(keeping_codes(db, rule))
        repeated = codes[codes.duplicated(keep=False)].index.intersection(frame.index[values.notna()])
        frame.loc[rng.choice(repeated), rule.column] = "Atlantis"
    elif isinstance(rule, Order):
        frame.loc[row, rule.column] = _beyond(db, rule, row, pd.Timedelta(days=400))
    elif isinstance(rule, Period):
        frame.loc[row, rule.column] = values[row] + pd.Timedelta(days=400)
    elif isinstance(rule, Step):
        frame.loc[row, rule.column] = values[row] + pd.Timedelta(minutes=1)
    elif pd.api.types.is_string_dtype(values.dtype) or values.dtype == object:
        frame.loc[row, rule.column] = "Atlantis"
    else:
        frame.loc[row, rule.column] = values[row] + 1


def keeping_codes(db: Database, rule: Dependency) -> np.ndarray:
    from dbtwin.relations.values import Views

    return Views(db).of(rule.table).codes(rule.determinant)


def _beyond(db: Database, rule: Order, row: int, shift: pd.Timedelta):
    from dbtwin.relations.values import Views

    bound = Views(db).of(rule.table).series(rule.earlier)[row]
    return bound - shift if rule.above else bound + shift


@pytest.mark.parametrize("seed", range(FITS))
def test_planted_rules_are_kept_at_every_scale(seed):
    db, planted = planted_database(seed)
    synth = Synthesizer(train_steps=3, sample_steps=2, progress=False, random_state=seed).fit(db)
    rules = synth.rules_
    lost = [p.describe(db.schema) for p in planted if not any(_same(r, p, db.schema) for r in rules)]
    assert not lost, lost
    for scale in (0.5, 1.0, 2.0):
        fake = synth.sample(scale, random_state=seed)
        broken = [r.describe(db.schema) for r in rules if not keeping(fake, r, holes=r.holes).holds]
        assert not broken, (scale, broken)
