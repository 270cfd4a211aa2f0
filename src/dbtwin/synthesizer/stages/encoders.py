"""The encoders stage: each table's columns to numbers (quantile scores for numerics, codes for
categoricals) and back; the encoded rows of the dimension tables, which every sample keeps as they are."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import torch

from dbtwin.config import SynthesizerConfig
from dbtwin.database import Database
from dbtwin.encode.table import TableEncoder
from dbtwin.errors import InvalidFileError
from dbtwin.npz import load_arrays, save_arrays
from dbtwin.synthesizer.keys import structural_columns
from dbtwin.synthesizer.stages.base import CONFIG_FILE, Prepared, Stages, mapping, reading, same_tables, short

FIXED_FILE = "fixed_tables.npz"
Features = tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]


class EncodersStage:
    """``encoders`` per table; ``fixed`` the encoded (numeric, categorical) rows of each dimension table."""

    name: ClassVar[str] = "encoders"

    def __init__(self, encoders: dict[str, TableEncoder] | None = None, fixed: dict | None = None) -> None:
        self.encoders: dict[str, TableEncoder] = encoders or {}
        self.fixed: dict[str, tuple[torch.Tensor, torch.Tensor]] = fixed or {}
        #: the fitted database encoded (for the later stages of a fit; not saved)
        self.real: Features = ({}, {})

    def fit(self, prepared: Prepared, config: SynthesizerConfig, stages: Stages) -> EncodersStage:
        """Encoders of every table; the columns the structure fills and the rules derive are left out."""
        assert stages.relations is not None
        derived = stages.relations.derived_columns
        values = config.values
        self.encoders = {
            t: TableEncoder.fit(
                table,
                prepared.db[t],
                structural_columns(prepared.schema, t) | derived(t),
                None if t in prepared.fixed_tables else values.text_min_count,
                values.rare_categories,
            )
            for t, table in prepared.schema.tables.items()
        }
        self.real = num, cat = self.features(prepared.db)
        self.fixed = {t: (num[t], cat[t]) for t in prepared.fixed_tables}
        return self

    def features(self, db: Database) -> Features:
        """Every table of ``db`` encoded: numeric scores and categorical codes as tensors."""
        num, cat = {}, {}
        for t in self.encoders:
            num[t], cat[t] = self.encode(t, db[t])
        return num, cat

    def encode(self, table: str, frame: pd.DataFrame) -> tuple[torch.Tensor, torch.Tensor]:
        """The rows of ``frame`` (of ``table``) as the denoiser's inputs: numeric scores, categorical codes."""
        scores, codes = self.encoders[table].transform(frame)
        return torch.from_numpy(scores.astype(np.float32)), torch.from_numpy(codes)

    def decode(self, table: str, num: torch.Tensor, cat: torch.Tensor, rng: np.random.Generator) -> pd.DataFrame:
        """The columns of ``table`` the denoiser generated, decoded from its features."""
        return self.encoders[table].inverse(num.double().numpy(), cat.numpy(), rng)

    def value_features(self, num: dict, cat: dict, max_codes: int = 16) -> dict[str, np.ndarray]:
        """Per table, its encoded values as one numeric matrix for a block model: the numeric scores
        and a one-hot of each categorical with at most ``max_codes`` codes (wider ones are left out);
        float32, as the scores are (both hold exactly what float64 would)."""
        out = {}
        for t, enc in self.encoders.items():
            narrow = [j for j, k in enumerate(enc.cardinalities) if k <= max_codes]
            width = num[t].shape[1] + sum(enc.cardinalities[j] for j in narrow)
            if not width:
                continue
            rows = np.arange(len(num[t]))
            values = out[t] = np.zeros((len(rows), width), dtype=np.float32)
            values[:, : num[t].shape[1]] = num[t].numpy()
            at = num[t].shape[1]
            for j in narrow:
                k = enc.cardinalities[j]
                values[rows, at + cat[t][:, j].numpy().clip(0, k - 1)] = 1.0
                at += k
        return out

    def save(self, directory: Path) -> dict[str, Any]:
        arrays = {}
        for t, (n, c) in self.fixed.items():
            arrays[f"{t}/num"], arrays[f"{t}/cat"] = n.numpy(), c.numpy()
        save_arrays(directory / FIXED_FILE, arrays)
        return {"encoders": {t: e.to_dict() for t, e in self.encoders.items()}, "fixed_tables": list(self.fixed)}

    @classmethod
    def load(cls, directory: Path, fields: dict[str, Any], stages: Stages) -> EncodersStage:
        assert stages.schema is not None
        file = directory / CONFIG_FILE
        with reading(file, "encoders"):
            encoders = {t: TableEncoder.from_dict(d) for t, d in mapping(fields, "encoders").items()}
        same_tables(file, "encoders", set(encoders), stages.schema.table_names)
        arrays = directory / FIXED_FILE
        try:
            data = load_arrays(arrays)
            fixed = {
                t: (torch.from_numpy(data[f"{t}/num"]), torch.from_numpy(data[f"{t}/cat"])) for t in stages.fixed_tables
            }
        except Exception as exc:
            raise InvalidFileError(
                f"{arrays} cannot be read or lacks a table of field 'fixed_tables' ({short(exc)})"
            ) from None
        return cls(encoders, fixed)
