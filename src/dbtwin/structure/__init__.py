"""Structure models: row counts and foreign-key links, with referential integrity by construction."""

from typing import Any

from dbtwin.structure.base import StructureModel
from dbtwin.structure.degree import DegreeStructure
from dbtwin.structure.real import RealStructure
from dbtwin.structure.sbm import SbmStructure

#: The structure models by the name a config gives them.
STRUCTURES: dict[str, type[StructureModel]] = {"degree": DegreeStructure, "sbm": SbmStructure, "real": RealStructure}


def structure_class(name: str) -> type[StructureModel]:
    """The structure model called ``name`` (one of :data:`STRUCTURES`)."""
    if name not in STRUCTURES:
        raise ValueError(f"unknown structure model {name!r}; choose from {sorted(STRUCTURES)}")
    return STRUCTURES[name]


def structure_model(name: str, **kwargs: Any) -> StructureModel:
    """A fresh, unfitted structure model called ``name``."""
    return structure_class(name)(**kwargs)


__all__ = [
    "STRUCTURES",
    "DegreeStructure",
    "RealStructure",
    "SbmStructure",
    "StructureModel",
    "structure_class",
    "structure_model",
]
