"""The relations stage: the exact rules every row keeps (declared and discovered), computed in every
sample instead of generated (:mod:`dbtwin.relations`)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dbtwin.config import SynthesizerConfig
from dbtwin.database import Database
from dbtwin.encode.rare import Protection
from dbtwin.relations import Rule, apply_rules
from dbtwin.relations.derive import copied_back, settle_rules
from dbtwin.relations.report import Discovery, fit_relations, relations_from_dict, relations_to_dict
from dbtwin.schema.model import Schema
from dbtwin.synthesizer.stages.base import CONFIG_FILE, Prepared, Stages, mapping, reading


def protection(config: SynthesizerConfig, fixed_tables: tuple[str, ...] | list[str]) -> Protection:
    """Which values no sample may show, as the config's values section says."""
    return Protection(config.values.text_min_count, config.values.rare_categories, tuple(fixed_tables))


class RelationsStage:
    """The rules found (``discovery``) on the database of ``schema``."""

    name: ClassVar[str] = "relations"

    def __init__(self, schema: Schema | None = None, discovery: Discovery | None = None) -> None:
        self.schema = schema
        self.discovery = discovery or Discovery()

    @property
    def rules(self) -> list[Rule]:
        return self.discovery.rules

    def fit(self, prepared: Prepared, config: SynthesizerConfig, stages: Stages) -> RelationsStage:
        guard = protection(config, prepared.fixed_tables)
        self.schema = prepared.schema
        self.discovery = fit_relations(prepared.db, config.relations.discover, guard, config.random_state)
        # a kept table's rows are never generated: nothing to compute in them
        self.discovery.rules = [r for r in self.discovery.rules if r.table not in prepared.kept]
        return self

    def derived_columns(self, table: str) -> set[str]:
        """Columns of ``table`` that rules compute from others."""
        return {r.column for r in self.rules if r.derives and r.table == table}

    def apply(
        self,
        db: Database,
        rng: np.random.Generator,
        skip: Collection[str] = (),
        only: dict[str, dict[str, np.ndarray]] | None = None,
    ) -> None:
        """Compute the derived columns of ``db`` in place, none in the tables ``skip`` names (kept or
        given rows); with ``only`` (per table and column, the rows), no other cell."""
        apply_rules(db, [r for r in self.rules if r.table not in skip], rng, only)

    def settle(self, db: Database, skip: Collection[str] = ()) -> None:
        """After rare values were replaced (:mod:`dbtwin.synthesizer.stages.values`): copies and
        dependencies made to hold again on the values that replaced them
        (:func:`dbtwin.relations.derive.settle_rules`)."""
        settle_rules(db, [r for r in self.rules if r.table not in skip])

    def copied_back(self, db: Database, fill: dict[str, dict[str, np.ndarray]]) -> dict[str, dict[str, np.ndarray]]:
        """Imputation: the parent cells to fill whose value a child's known copy shows, set in place;
        returns the cells still to fill (:func:`dbtwin.relations.derive.copied_back`)."""
        return copied_back(db, self.rules, fill)

    def save(self, directory: Path) -> dict[str, Any]:
        assert self.schema is not None
        return {"relations": relations_to_dict(self.discovery, self.schema)}

    @classmethod
    def load(cls, directory: Path, fields: dict[str, Any], stages: Stages) -> RelationsStage:
        assert stages.schema is not None
        with reading(directory / CONFIG_FILE, "relations"):
            return cls(stages.schema, relations_from_dict(mapping(fields, "relations"), stages.schema))
