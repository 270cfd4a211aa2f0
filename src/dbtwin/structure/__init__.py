"""Structure models: row counts and foreign-key links, with referential integrity by construction."""

from dbtwin.structure.base import StructureModel, structure_class, structure_model
from dbtwin.structure.degree import DegreeStructure
from dbtwin.structure.real import RealStructure
from dbtwin.structure.sbm import SbmStructure

__all__ = ["DegreeStructure", "RealStructure", "SbmStructure", "StructureModel", "structure_class", "structure_model"]
