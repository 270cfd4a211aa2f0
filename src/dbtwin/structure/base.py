"""The interface every structure model follows, and the registry that resolves a name to a model."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from dbtwin.database import Database
from dbtwin.graph.row_graph import RowGraph
from dbtwin.npz import load_arrays, save_arrays
from dbtwin.schema.model import Schema
from dbtwin.structure.links import generate_links
from dbtwin.structure.templates import GivenRows, Templates


class StructureModel(ABC):
    """Learns how many rows each table has and which child row links to which parent row.

    ``sample`` returns a :class:`RowGraph` whose links all resolve, plus, per table, the real row
    whose template each synthetic row follows (models that keep no templates return ``None``).
    """

    name: ClassVar[str]
    #: whether ``fit`` uses the rows' encoded values (``features``); the others need not be given them
    takes_features: ClassVar[bool] = False

    @abstractmethod
    def fit(
        self, db: Database, random_state: int | None = None, features: dict[str, np.ndarray] | None = None
    ) -> StructureModel:
        """Learn ``db``'s structure; ``features`` (per table, a row-aligned numeric matrix of its
        encoded values) lets a block model group rows by their values too."""

    @abstractmethod
    def sample(
        self,
        scale: float,
        rng: np.random.Generator,
        given: GivenRows | None = None,
        picks: dict[str, np.ndarray] | None = None,
    ) -> tuple[RowGraph, dict[str, np.ndarray] | None]:
        """A synthetic row graph at ``scale`` (with ``given``: holding those rows and links, and rows
        under them), and the real row whose template each synthetic row took; ``picks``: those real
        rows, per generated table, chosen by the caller (a shard's share of a sample's)."""

    @abstractmethod
    def save(self, directory: Path) -> dict[str, Any]:
        """Write arrays to ``directory`` and return the JSON part of the state."""

    @classmethod
    @abstractmethod
    def load(cls, directory: Path, config: dict[str, Any], schema: Schema) -> StructureModel: ...


class TemplateStructure(StructureModel):
    """A structure model driven by per-row templates (see :mod:`dbtwin.structure.links`)."""

    def __init__(self, fixed_tables: tuple[str, ...] = ()) -> None:
        self.fixed_tables = tuple(fixed_tables)

    @abstractmethod
    def _blocks(
        self, db: Database, rng: np.random.Generator, features: dict[str, np.ndarray] | None
    ) -> dict[str, np.ndarray]: ...

    def fit(
        self, db: Database, random_state: int | None = None, features: dict[str, np.ndarray] | None = None
    ) -> TemplateStructure:
        rng = np.random.default_rng(random_state)
        self.schema_ = db.schema
        self.sizes_ = {t: db.num_rows(t) for t in db.schema.table_names}
        from dbtwin.structure.templates import build_templates

        self.templates_ = build_templates(db, self._blocks(db, rng, features), set(self.fixed_tables))
        return self

    def sample(
        self,
        scale: float,
        rng: np.random.Generator,
        given: GivenRows | None = None,
        picks: dict[str, np.ndarray] | None = None,
    ) -> tuple[RowGraph, dict[str, np.ndarray] | None]:
        return generate_links(self.schema_, self.templates_, self.sizes_, scale, rng, given, picks)

    def save(self, directory: Path) -> dict[str, Any]:
        save_arrays(directory / f"structure_{self.name}.npz", self.templates_.arrays())
        return {
            "name": self.name,
            "fixed_tables": list(self.fixed_tables),
            "sizes": self.sizes_,
            "unique_links": self.templates_.unique_links,
            **self._params(),
        }

    def _params(self) -> dict[str, Any]:
        return {}

    @classmethod
    def load(cls, directory: Path, config: dict[str, Any], schema: Schema) -> TemplateStructure:
        params = {k: v for k, v in config.items() if k not in ("name", "sizes", "unique_links")}
        model = cls(**params)
        arrays = load_arrays(directory / f"structure_{cls.name}.npz")
        model.schema_ = schema
        model.sizes_ = {k: int(v) for k, v in config["sizes"].items()}
        if set(model.sizes_) != set(schema.table_names) or min(model.sizes_.values(), default=0) < 0:
            raise ValueError("'sizes' must give a row count of zero or more for every table")
        model.templates_ = Templates.from_arrays(arrays, config["unique_links"], set(model.fixed_tables))
        model.templates_.check(schema, model.sizes_)
        return model
