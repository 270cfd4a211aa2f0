"""A saved model directory: ``config.json`` plus weight and array files, each stage's under its own
fields and names (:mod:`dbtwin.synthesizer.stages`).

Nothing in the directory is executed (weights load with ``weights_only``, arrays without pickles).
A directory that is not a dbtwin model, a model of another version, or a file that was edited or
truncated raises :class:`InvalidFileError` naming the file and the field at fault, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from dbtwin.config import SynthesizerConfig
from dbtwin.errors import DestinationNotEmptyError, InvalidFileError
from dbtwin.jsonfile import read_json
from dbtwin.schema.metadata_json import schema_from_dict
from dbtwin.synthesizer.stages import STAGE_CLASSES, Stages
from dbtwin.synthesizer.stages.base import CONFIG_FILE, reading

#: The class a model is loaded into (:class:`dbtwin.synthesizer.Synthesizer`).
Model = TypeVar("Model")

MODEL_FORMAT = "dbtwin-model"
#: 2: the denoiser's modules are keyed by table position (any table or key name can be fitted).
#: 3: relational message passing (one set of operations for all edge types) instead of a SAGEConv each.
#: 4: exact relations ("relations": rules of every kind) instead of copied columns only ("copies").
#: 5: decimals, NaN beside NULL; since then the options saved as "config" (earlier as "params": both read).
MODEL_VERSION = 5


def load_synthesizer(cls: type[Model], directory: Path) -> Model:
    """The model saved in ``directory``, loaded into a new ``cls``: its config, schema and stages."""
    file = directory / CONFIG_FILE
    if not file.is_file():
        raise InvalidFileError(f"'{directory}' holds no dbtwin model (no {CONFIG_FILE})")
    fields = read_json(file, "model file")
    if not isinstance(fields, dict) or fields.get("format") != MODEL_FORMAT:
        raise InvalidFileError(f"{file}: not a dbtwin model (field 'format' is not \"{MODEL_FORMAT}\")")
    if fields.get("version") != MODEL_VERSION:
        raise InvalidFileError(
            f"{file}: field 'version' is {fields.get('version')!r}; this dbtwin reads models of version "
            f"{MODEL_VERSION}: fit the model again"
        )
    if "config" in fields:
        with reading(file, "config"):
            synth = cls(config=SynthesizerConfig.from_dict(fields["config"]))  # type: ignore[call-arg]
    else:  # saved before the typed config: its options by their flat names
        with reading(file, "params"):
            synth = cls(**check_params(dict(fields["params"])))
    stages = Stages()
    with reading(file, "schema"):
        stages.schema = schema_from_dict(fields["schema"])
    with reading(file, "fixed_tables"):
        stages.fixed_tables = [str(t) for t in fields["fixed_tables"]]
        unknown = [t for t in stages.fixed_tables if t not in stages.schema.tables]
        if unknown:
            raise ValueError(f"unknown table {unknown[0]!r}")
    for name, stage in STAGE_CLASSES.items():
        setattr(stages, name, stage.load(directory, fields, stages))
    synth.stages_ = stages  # type: ignore[attr-defined]
    return synth


PARAM_RANGES: dict[str, tuple[bool, float, float, bool]] = {
    "num_hops": (True, 0, 8, False),
    "hidden": (True, 1, 4096, False),
    "train_steps": (True, 1, 10**9, True),
    "batch_size": (True, 1, 10**7, False),
    "sample_steps": (True, 1, 10_000, False),
    "fanout": (True, 1, 10_000, False),
    "learning_rate": (False, 1e-12, 10.0, False),
    "max_minutes": (False, 1e-6, 10**7, True),
    "text_min_count": (True, 1, 10**9, False),
    "checkpoint_every": (True, 1, 10**9, False),
    "random_state": (True, 0, 2**63 - 1, True),
    "epsilon": (False, 1e-6, 1e6, True),
    "delta": (False, 0.0, 1.0, True),
}


def check_params(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` if every numeric one is of its type and inside its range; else ValueError naming it."""
    for name, (whole, low, high, nullable) in PARAM_RANGES.items():
        if name not in params:
            continue
        value = params[name]
        if value is None and nullable:
            continue
        kind = "whole number" if whole else "number"
        ok = isinstance(value, int) if whole else isinstance(value, int | float)
        if not ok or isinstance(value, bool) or not np.isfinite(value) or not low <= value <= high:
            raise ValueError(f"'{name}' must be a {kind} from {low:g} to {high:g}, not {value!r}")
    return params


def is_model_directory(path: Path) -> bool:
    """Whether ``path`` holds a model dbtwin saved (its ``config.json`` says so)."""
    try:
        config = json.loads((path / CONFIG_FILE).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and config.get("format") == MODEL_FORMAT


def refuse_foreign_directory(path: Path, replace: bool) -> None:
    """A model is saved into a new or empty directory, or over an earlier model with ``replace``;
    never over a directory that holds anything else (``--replace`` must not wipe a user's folder)."""
    if path.exists() and not path.is_dir():
        raise DestinationNotEmptyError(f"'{path}' exists and is not a directory; choose a directory for the model")
    if path.is_dir() and any(path.iterdir()):
        if not replace:
            raise DestinationNotEmptyError(
                f"model directory '{path}' already holds files; pass --replace to overwrite it"
            )
        if not is_model_directory(path):
            raise DestinationNotEmptyError(
                f"'{path}' holds files that are not a dbtwin model; --replace replaces only a model directory"
            )


__all__ = [
    "CONFIG_FILE",
    "MODEL_FORMAT",
    "MODEL_VERSION",
    "is_model_directory",
    "load_synthesizer",
    "refuse_foreign_directory",
]
