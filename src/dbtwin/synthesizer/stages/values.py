"""The values stage: semantic types and believable stand-ins for rare values (:mod:`dbtwin.semantic.plan`)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dbtwin.config import SynthesizerConfig
from dbtwin.database import Database
from dbtwin.errors import InvalidFileError
from dbtwin.npz import load_arrays, save_arrays
from dbtwin.semantic.plan import ValuePlan, copied, dependents
from dbtwin.synthesizer.stages.base import CONFIG_FILE, Prepared, Stages, mapping, reading, short
from dbtwin.synthesizer.stages.relations import protection

RARE_FILE = "rare_values.npz"


class ValuesStage:
    """The plan of every protected column (``plan``)."""

    name: ClassVar[str] = "values"

    def __init__(self, plan: ValuePlan | None = None) -> None:
        self.plan = plan

    def fit(self, prepared: Prepared, config: SynthesizerConfig, stages: Stages) -> ValuesStage:
        assert stages.relations is not None
        rules = stages.relations.rules
        guard = protection(config, prepared.fixed_tables)
        self.plan = ValuePlan.fit(prepared.db, guard, follows=dependents(rules), skip=copied(rules))
        return self

    def apply(self, db: Database, rng: np.random.Generator, skip: Collection[str] = ()) -> None:
        """Replace the rare values of ``db`` in place, none in the tables ``skip`` names (kept or given rows)."""
        assert self.plan is not None
        self.plan.apply(db, rng, skip)

    def save(self, directory: Path) -> dict[str, Any]:
        assert self.plan is not None
        values, rare = self.plan.to_dict()
        save_arrays(directory / RARE_FILE, rare)
        return {"values": values}

    @classmethod
    def load(cls, directory: Path, fields: dict[str, Any], stages: Stages) -> ValuesStage:
        rare = directory / RARE_FILE
        try:
            arrays = load_arrays(rare)
        except Exception as exc:
            raise InvalidFileError(f"{rare} cannot be read ({short(exc)})") from None
        with reading(directory / CONFIG_FILE, "values"):
            return cls(ValuePlan.from_dict(mapping(fields, "values"), arrays))
