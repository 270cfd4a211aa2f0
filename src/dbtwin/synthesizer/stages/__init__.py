"""The stages of the synthesizer, fitted in order on the prepared database and saved each under its
own fields: kept, relations, encoders, values, keys, structure, features (see :mod:`.base`)."""

from dbtwin.synthesizer.stages.base import ORDER, Prepared, Stage, Stages, prepare
from dbtwin.synthesizer.stages.encoders import EncodersStage
from dbtwin.synthesizer.stages.features import FeaturesStage
from dbtwin.synthesizer.stages.kept import KeptStage
from dbtwin.synthesizer.stages.keys import KeysStage
from dbtwin.synthesizer.stages.relations import RelationsStage
from dbtwin.synthesizer.stages.structure import StructureStage
from dbtwin.synthesizer.stages.values import ValuesStage

#: The class of each stage, by its attribute in :class:`Stages`.
STAGE_CLASSES: dict[str, type] = {
    "kept": KeptStage,
    "relations": RelationsStage,
    "encoders": EncodersStage,
    "values": ValuesStage,
    "keys": KeysStage,
    "structure": StructureStage,
    "features": FeaturesStage,
}

__all__ = [
    "ORDER",
    "STAGE_CLASSES",
    "EncodersStage",
    "FeaturesStage",
    "KeptStage",
    "KeysStage",
    "Prepared",
    "RelationsStage",
    "Stage",
    "Stages",
    "StructureStage",
    "ValuesStage",
    "prepare",
]
