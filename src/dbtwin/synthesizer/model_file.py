"""Loading a saved model directory safely: ``config.json`` plus weight and array files.

Nothing in the directory is executed (weights load with ``weights_only``, arrays without pickles).
A directory that is not a dbtwin model, a model of another version, or a file that was edited or
truncated raises :class:`InvalidFileError` naming the file and the field at fault, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch

from dbtwin.config import SynthesizerConfig
from dbtwin.diffusion import GaussianScheduler, MaskedScheduler
from dbtwin.encode.table import TableEncoder
from dbtwin.errors import DbtwinError, InvalidFileError
from dbtwin.graph.sequences import Sequence
from dbtwin.jsonfile import read_json
from dbtwin.nn import HeteroDenoiser
from dbtwin.npz import load_arrays
from dbtwin.relations.report import relations_from_dict
from dbtwin.schema.metadata_json import schema_from_dict
from dbtwin.semantic.plan import ValuePlan
from dbtwin.structure import structure_class
from dbtwin.synthesizer.training import TrainState

#: The class a model is loaded into (:class:`dbtwin.synthesizer.Synthesizer`).
Model = TypeVar("Model")

MODEL_FORMAT = "dbtwin-model"
#: 2: the denoiser's modules are keyed by table position (any table or key name can be fitted).
#: 3: relational message passing (one set of operations for all edge types) instead of a SAGEConv each.
#: 4: exact relations ("relations": rules of every kind) instead of copied columns only ("copies").
MODEL_VERSION = 5
CONFIG_FILE = "config.json"


@contextmanager
def field(file: Path, name: str) -> Iterator[None]:
    """Errors raised while reading field ``name`` of ``file`` become one :class:`InvalidFileError`."""
    try:
        yield
    except InvalidFileError:
        raise
    except DbtwinError as exc:
        raise InvalidFileError(f"{file}: field '{name}' is not valid: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError, OSError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {_short(exc)}"
        raise InvalidFileError(f"{file}: field '{name}' is missing or malformed ({detail})") from None


def load_synthesizer(cls: type[Model], directory: Path) -> Model:
    config_path = directory / CONFIG_FILE
    if not config_path.is_file():
        raise InvalidFileError(f"'{directory}' holds no dbtwin model (no {CONFIG_FILE})")
    config = read_json(config_path, "model file")
    if not isinstance(config, dict) or config.get("format") != MODEL_FORMAT:
        raise InvalidFileError(f"{config_path}: not a dbtwin model (field 'format' is not \"{MODEL_FORMAT}\")")
    if config.get("version") != MODEL_VERSION:
        raise InvalidFileError(
            f"{config_path}: field 'version' is {config.get('version')!r}; this dbtwin reads models of version "
            f"{MODEL_VERSION}: fit the model again"
        )
    f = config_path
    if "config" in config:
        with field(f, "config"):
            synth = cls(config=SynthesizerConfig.from_dict(config["config"]))
    else:  # saved before the typed config: its options by their flat names
        with field(f, "params"):
            synth = cls(**check_params(dict(config["params"])))
    with field(f, "schema"):
        synth.schema_ = schema_from_dict(config["schema"])
    with field(f, "encoders"):
        synth.encoders_ = {t: TableEncoder.from_dict(d) for t, d in _mapping(config, "encoders").items()}
    _same_tables(f, "encoders", set(synth.encoders_), synth.schema_.table_names)
    with field(f, "structure"):
        structure_cls = structure_class(config["structure"]["name"])
        synth.structure_ = structure_cls.load(directory, config["structure"], synth.schema_)
    with field(f, "denoiser"):
        synth.model_ = HeteroDenoiser.from_config(config["denoiser"])
    _same_tables(f, "denoiser.tables", set(synth.model_.tables), synth.schema_.table_names)
    weights = directory / "weights.pt"
    try:
        state = torch.load(weights, weights_only=True, map_location="cpu")
        synth.model_.load_state_dict(state)
    except FileNotFoundError:
        raise InvalidFileError(f"'{directory}' lacks weights.pt") from None
    except Exception as exc:
        raise InvalidFileError(
            f"{weights} cannot be read or does not fit {CONFIG_FILE}'s field 'denoiser' ({type(exc).__name__})"
        ) from None
    with field(f, "gaussian"):
        synth.gaussian_ = GaussianScheduler.from_dict(config["gaussian"])
    with field(f, "masked"):
        synth.masked_ = MaskedScheduler.from_dict(config["masked"])
    with field(f, "fixed_tables"):
        synth.fixed_tables_ = [str(t) for t in config["fixed_tables"]]
        unknown = [t for t in synth.fixed_tables_ if t not in synth.schema_.tables]
        if unknown:
            raise ValueError(f"unknown table {unknown[0]!r}")
    arrays = directory / "fixed_tables.npz"
    try:
        data = load_arrays(arrays)
        synth.fixed_features_ = {
            t: (torch.from_numpy(data[f"{t}/num"]), torch.from_numpy(data[f"{t}/cat"])) for t in synth.fixed_tables_
        }
    except Exception as exc:
        raise InvalidFileError(
            f"{arrays} cannot be read or lacks a table of field 'fixed_tables' ({_short(exc)})"
        ) from None
    blocks = directory / "row_blocks.npz"
    try:
        synth.row_blocks_ = {t: np.asarray(b, dtype=np.int64) for t, b in load_arrays(blocks).items()}
    except FileNotFoundError:
        synth.row_blocks_ = {}
    except Exception as exc:
        raise InvalidFileError(f"{blocks} cannot be read ({_short(exc)})") from None
    if set(synth.row_blocks_) != set(synth.model_.block_counts):
        raise InvalidFileError(f"{blocks} does not hold the blocks of the tables the denoiser takes blocks of")
    with field(f, "key_formats"):
        synth.key_formats_ = _mapping(config, "key_formats")
    with field(f, "key_steps"):
        synth.key_steps_ = _mapping(config, "key_steps")
    with field(f, "sequences"):
        synth.sequences_ = [Sequence.from_dict(q) for q in config["sequences"]]
    rare = directory / "rare_values.npz"
    try:
        rare_arrays = load_arrays(rare)
    except Exception as exc:
        raise InvalidFileError(f"{rare} cannot be read ({_short(exc)})") from None
    with field(f, "values"):
        synth.values_ = ValuePlan.from_dict(_mapping(config, "values"), rare_arrays)
    with field(f, "differential_privacy"):
        synth.privacy_ = config["differential_privacy"]
        if synth.privacy_ is not None and not isinstance(synth.privacy_, dict):
            raise TypeError("must be a JSON object or null")
    with field(f, "relations"):
        synth.discovery_ = relations_from_dict(_mapping(config, "relations"), synth.schema_)
        synth.rules_ = synth.discovery_.rules
    with field(f, "training"):
        training = config["training"]
        synth.train_state_ = TrainState(
            step=int(training["steps"]),
            history=list(training["history"]),
            stopped=str(training["stopped"]),
            seconds=float(training["seconds"]),
            rows=int(training.get("rows", 0)),
            nodes=int(training.get("nodes", 0)),
        )
    return synth


#: The range each numeric parameter of a saved model must lie in (a tampered file could ask for a
#: billion sampling steps or a negative hop count): (whole number?, lowest, highest, may be null?).
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


def _mapping(config: dict[str, Any], key: str) -> dict[str, Any]:
    value = config[key]
    if not isinstance(value, dict):
        raise TypeError(f"'{key}' must be a JSON object")
    return value


def _same_tables(file: Path, name: str, found: set[str], tables: list[str]) -> None:
    if found != set(tables):
        odd = sorted(found ^ set(tables))
        raise InvalidFileError(f"{file}: field '{name}' does not cover the schema's tables (differs in {odd[:3]})")


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] + ("..." if len(text) > 200 else "")


__all__ = ["CONFIG_FILE", "field", "load_synthesizer"]
