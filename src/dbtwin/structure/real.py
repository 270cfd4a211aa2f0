"""The real structure kept as it is: the real row counts and links (for ablations and imputation)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dbtwin.database import Database
from dbtwin.errors import OptionError
from dbtwin.graph.row_graph import ForeignKeyEdges, RowGraph
from dbtwin.npz import load_arrays, save_arrays
from dbtwin.schema.model import Schema
from dbtwin.structure.base import StructureModel
from dbtwin.structure.templates import GivenRows


class RealStructure(StructureModel):
    """Returns the real row graph (fresh keys); only ``scale=1`` is possible."""

    name: ClassVar[str] = "real"

    def __init__(self, fixed_tables: tuple[str, ...] = ()) -> None:
        self.fixed_tables = tuple(fixed_tables)

    def fit(
        self, db: Database, random_state: int | None = None, features: dict[str, np.ndarray] | None = None
    ) -> RealStructure:
        graph = RowGraph.from_database(db)
        self.schema_ = db.schema
        self.sizes_ = dict(graph.num_nodes)
        self.links_ = {name: (link.child_rows, link.parent_rows) for name, link in graph.links.items()}
        return self

    def sample(
        self,
        scale: float,
        rng: np.random.Generator,
        given: GivenRows | None = None,
        picks: dict[str, np.ndarray] | None = None,
    ) -> tuple[RowGraph, dict[str, np.ndarray] | None]:
        if picks is not None:
            raise OptionError("shards", "the 'real' structure copies the real links whole: it cannot split them")
        if given:
            raise OptionError(
                "given", "the 'real' structure copies the real links: it cannot generate around given rows"
            )
        if scale != 1.0:
            raise ValueError("the 'real' structure keeps the real row counts: only scale=1 is possible")
        links = {fk.name: ForeignKeyEdges(fk, *self.links_[fk.name]) for fk in self.schema_.foreign_keys}
        picks = {t: np.arange(n) for t, n in self.sizes_.items()}
        return RowGraph(self.schema_, dict(self.sizes_), links), picks

    def save(self, directory: Path) -> dict[str, Any]:
        arrays = {}
        for name, (child, parent) in self.links_.items():
            arrays[f"child/{name}"], arrays[f"parent/{name}"] = child, parent
        save_arrays(directory / "structure_real.npz", arrays)
        return {"name": self.name, "fixed_tables": list(self.fixed_tables), "sizes": self.sizes_}

    @classmethod
    def load(cls, directory: Path, config: dict[str, Any], schema: Schema) -> RealStructure:
        model = cls(tuple(config.get("fixed_tables", ())))
        model.schema_ = schema
        model.sizes_ = {k: int(v) for k, v in config["sizes"].items()}
        data = load_arrays(directory / "structure_real.npz")
        model.links_ = {fk.name: (data[f"child/{fk.name}"], data[f"parent/{fk.name}"]) for fk in schema.foreign_keys}
        for fk in schema.foreign_keys:
            child, parent = (np.asarray(a) for a in model.links_[fk.name])
            if child.shape != parent.shape or child.ndim != 1:
                raise ValueError(f"the links of {fk.name} are not two arrays of one length")
            for rows, table, label in ((child, fk.child, "child"), (parent, fk.parent, "parent")):
                if len(rows) and (rows.min() < 0 or rows.max() >= model.sizes_.get(table, 0)):
                    raise ValueError(f"array '{label}/{fk.name}' holds rows outside table '{table}'")
        return model
