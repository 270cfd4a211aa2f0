"""GRDM's degree-preserving structure: children-per-parent histograms (zeros included) per foreign
key, tables scaled by a factor, configuration-model matching for tables with several parents."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from dbtwin.database import Database
from dbtwin.structure.base import TemplateStructure


class DegreeStructure(TemplateStructure):
    """Every table is one block: each foreign key keeps its degree histogram and NULL rate; which
    parents a child of several parents gets is random (configuration model)."""

    name: ClassVar[str] = "degree"

    def _blocks(
        self, db: Database, rng: np.random.Generator, features: dict[str, np.ndarray] | None
    ) -> dict[str, np.ndarray]:
        return {t: np.zeros(db.num_rows(t), dtype=np.int64) for t in db.schema.table_names}
