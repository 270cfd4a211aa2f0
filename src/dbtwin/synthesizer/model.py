"""The :class:`Synthesizer`: structure model plus graph-conditional mixed-type diffusion over all tables.

A thin facade over the stages of :mod:`dbtwin.synthesizer.stages`: ``fit`` prepares the database once
(validated, orphans resolved, kept tables chosen) and fits the stages in order (kept, relations,
encoders, values, keys, structure, features); ``sample`` runs them back (draw a structure, denoise all
rows of all tables together, decode, fill keys, apply the rules and the rare-value plan, put the kept
rows in) and checks the result; ``save`` and ``load`` loop over them. A fitted synthesizer is saved as
a directory: ``config.json`` plus weight and array files, never a pickle."""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dbtwin.atomic import atomic_directory
from dbtwin.config import FLAT_NAMES, SynthesizerConfig
from dbtwin.database import Database
from dbtwin.errors import DbtwinError, OptionError
from dbtwin.nn.device import physical_memory, resolve_device
from dbtwin.progress import Phase
from dbtwin.schema.metadata_json import schema_to_dict
from dbtwin.schema.model import Schema
from dbtwin.synthesizer.fingerprint import fit_fingerprint
from dbtwin.synthesizer.impute import ROUNDS, impute
from dbtwin.synthesizer.memory import machine_bytes
from dbtwin.synthesizer.model_file import (
    CONFIG_FILE,
    MODEL_FORMAT,
    MODEL_VERSION,
    load_synthesizer,
    refuse_foreign_directory,
)
from dbtwin.synthesizer.sampling import draw_sample
from dbtwin.synthesizer.shards import Sharded, first_shard_rows, sample_in_shards
from dbtwin.synthesizer.stages import STAGE_CLASSES, FeaturesStage, Stages, StructureStage, prepare

log = logging.getLogger(__name__)

#: Fitted parts by their attribute names (``synth.model_``) -> (stage, its attribute); "" the stages' own.
FITTED: dict[str, tuple[str, str]] = {
    "schema_": ("", "schema"),
    "fixed_tables_": ("", "fixed_tables"),
    "kept_": ("kept", "reasons"),
    "discovery_": ("relations", "discovery"),
    "rules_": ("relations", "rules"),
    "encoders_": ("encoders", "encoders"),
    "fixed_features_": ("encoders", "fixed"),
    "values_": ("values", "plan"),
    "key_formats_": ("keys", "formats"),
    "key_steps_": ("keys", "steps"),
    "structure_": ("structure", "model"),
    "row_blocks_": ("structure", "blocks"),
    "model_": ("features", "model"),
    "gaussian_": ("features", "gaussian"),
    "masked_": ("features", "masked"),
    "sequences_": ("features", "sequences"),
    "train_state_": ("features", "state"),
    "privacy_": ("features", "privacy"),
}


class NotFittedError(DbtwinError):
    """The synthesizer must be fitted (or loaded) first."""


class Synthesizer:
    """Learns a generative model of a whole relational database and samples synthetic twins of it.

    Every option lives in one :class:`~dbtwin.config.SynthesizerConfig` (``self.config``), given whole
    (``config=``) or by the flat names of :data:`~dbtwin.config.FLAT_NAMES` as keywords, which override
    it: ``Synthesizer(structure="degree", num_hops=0, max_minutes=2)``. The same names read and set it
    as attributes (``synth.sample_steps = 20``). By stage (meanings and defaults in :mod:`dbtwin.config`):
    structure (``structure``: sbm, degree or real; ``block_inputs``), denoiser (``num_hops``, ``hidden``,
    ``degree_inputs``), training (``budget``: steps, by default chosen from the data and the same on
    every machine, or time; ``train_steps``, ``max_minutes``, ``batch_size``, ``learning_rate``,
    ``fanout``, ``device``: auto, cpu, cuda or cuda:N, ...), sampling (``sample_steps``), relations
    (``relations``, ``sequences``, ``orphans``), values (``text_min_count``, ``rare_categories``),
    privacy (``epsilon``, ``delta``: (ε, δ)-DP per row, docs/privacy.md) and ``random_state``.

    Args:
        metadata: the schema; by default the one the database carries.
        config: the whole configuration (default: every option at its default).
        progress: show progress bars.
        **options: options by their flat names, overriding ``config``.
    """

    def __init__(
        self,
        metadata: Schema | None = None,
        *,
        config: SynthesizerConfig | None = None,
        progress: bool = True,
        **options: Any,
    ) -> None:
        self.metadata = metadata
        self.progress = progress
        self.config = (config or SynthesizerConfig()).replace(**options)

    def __getattr__(self, name: str) -> Any:
        config, stages = self.__dict__.get("config"), self.__dict__.get("stages_")
        if config is not None and name in FLAT_NAMES:
            return config.get(name)
        if stages is not None and stages.features is not None and name in FITTED:
            stage, attribute = FITTED[name]
            return getattr(getattr(stages, stage) if stage else stages, attribute)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in FLAT_NAMES and "config" in self.__dict__:
            self.__dict__["config"] = self.config.replace(**{name: value})
        else:
            super().__setattr__(name, value)

    # ---------------------------------------------------------------------------------------- fit
    def fit(self, db: Database, checkpoint_dir: str | Path | None = None) -> Synthesizer:
        """Learn ``db``. With ``checkpoint_dir``, training checkpoints there and resumes from it."""
        started = time.monotonic()
        resolve_device(self.config.training.device)  # a device torch does not see: refused before any work
        prepared = prepare(db, self.metadata, self.config.relations.orphans, self.config.structure)
        stages = Stages(schema=prepared.schema, fixed_tables=list(prepared.fixed_tables))
        fingerprint = fit_fingerprint(prepared.db, self.config) if checkpoint_dir is not None else ""
        checkpoints = Path(checkpoint_dir) if checkpoint_dir else None
        for name, cls in STAGE_CLASSES.items():  # each stage is given those fitted before it
            stage = FeaturesStage(checkpoints, self.progress, fingerprint) if cls is FeaturesStage else cls()
            with Phase(f"fitting {name}"):
                setattr(stages, name, stage.fit(prepared, self.config, stages))
        self.stages_ = stages
        self.fit_seconds_ = time.monotonic() - started
        return self

    def with_structure(self, structure: str, db: Database) -> Synthesizer:
        """A copy that draws its links with another structure model (fitted here on ``db``, the data
        this synthesizer was fitted on) and shares the trained denoiser: structures compared without
        training again."""
        self._check_fitted()
        started = time.monotonic()
        other = copy.copy(self)
        other.structure = structure
        prepared = prepare(db, self.metadata, self.config.relations.orphans, self.config.structure)
        stages = copy.copy(self.stages_)
        stages.structure = StructureStage().fit(prepared, other.config, stages)
        stages.structure.blocks = self.stages_.structure.blocks  # the blocks the denoiser was trained with
        other.stages_ = stages
        other.fit_seconds_ = getattr(self, "fit_seconds_", 0.0) + time.monotonic() - started
        return other

    def derived_columns(self, table: str) -> set[str]:
        """Columns of ``table`` that rules compute from others."""
        self._check_fitted()
        return self.stages_.relations.derived_columns(table)

    def blocks_of(self, picks: dict[str, np.ndarray] | None) -> dict[str, torch.Tensor] | None:
        """The block of every synthetic row (that of the real row whose template it took, ``picks``),
        for a denoiser that takes blocks; None otherwise."""
        return self.stages_.structure.blocks_of(picks)

    # ------------------------------------------------------------------------------------- sample
    def sample(
        self,
        scale: float = 1.0,
        random_state: int | None = None,
        given: Database | None = None,
        given_tables: Sequence[str] | None = None,
    ) -> Database:
        """A synthetic database with about ``scale`` times the real rows per table (kept tables keep theirs), validated:
        unique primary keys, every foreign key resolves, NULLs only where the real schema allows them. With ``given``:
        its rows of ``given_tables`` (default: all) and their parents as they are, the rest generated around them."""
        self.check_scale(scale)
        seeds = np.random.SeedSequence(self.random_state if random_state is None else random_state)
        return draw_sample(self.stages_, self.config, scale, seeds, self.progress, given, given_tables)

    def sample_shards(
        self, directory: str | Path, scale: float = 1.0, shards: int = 1, random_state: int | None = None
    ) -> Sharded | None:
        """A sample too large for memory, drawn as ``shards`` samples, each spooled to ``directory`` (removed by
        the caller once written by :func:`dbtwin.sources.write`); under torchrun by the ranks in parallel, the
        whole on rank 0 and None on the others (:mod:`dbtwin.synthesizer.shards`)."""
        self.check_scale(scale, shards=shards)
        seed = self.random_state if random_state is None else random_state
        return sample_in_shards(self.stages_, self.config, Path(directory), scale, shards, seed, self.progress)

    def impute(
        self, db: Database, columns: Sequence[str] | None = None, random_state: int | None = None, draws: int = 1,
        rounds: int = ROUNDS,
    ) -> Database:  # fmt: skip
        """``db`` with its NULL cells filled (of ``columns``, ``table.column``, or of every generated or computed
        column), conditioned on every known cell around them; known cells, keys, row counts unchanged. ``draws=k``:
        each cell's best guess from k draws; ``rounds``: RePaint's resampling (:mod:`dbtwin.synthesizer.impute`)."""
        self._check_fitted()
        seed = self.random_state if random_state is None else random_state
        return impute(self.stages_, self.config, db, columns, seed, self.progress, draws, rounds)

    def expected_rows(self, scale: float) -> int:
        """About how many rows :meth:`sample` draws at ``scale`` (kept tables keep their size)."""
        sizes, fixed = getattr(self.structure_, "sizes_", {}), set(self.fixed_tables_)
        return int(sum(n if t in fixed else n * scale for t, n in sizes.items()))

    def check_scale(self, scale: float, option: str = "scale", shards: int = 1) -> None:
        """Refuse a ``scale`` that is not a finite positive number, that the structure model cannot
        draw, or whose rows (in ``shards``) would not fit in this machine's memory while sampling."""
        self._check_fitted()
        if not isinstance(scale, int | float) or not math.isfinite(scale) or scale <= 0:
            raise OptionError(option, f"must be a finite number above 0, not {scale!r}")
        if self.structure == "real" and scale != 1.0:
            raise OptionError(option, "the 'real' structure keeps the real row counts: only 1 is possible")
        rows = first_shard_rows(self.stages_, scale, shards) if shards > 1 else self.expected_rows(scale)
        need, ranks = machine_bytes(rows, self.model_.hidden, self.config.sampling.memory_gb)
        if (have := physical_memory()) and need > have:
            raise OptionError(
                option,
                f"{scale:g} asks for about {rows:,} rows{' in its largest shard' if shards > 1 else ''}, about "
                f"{need / 2**30:,.0f} GiB while sampling (its rows and the passes' memory budget"
                f"{f', on each of {ranks} processes' if ranks > 1 else ''}), more than this machine's "
                f"{have / 2**30:,.0f} GiB: sample it in (more) shards",
            )

    def _check_fitted(self) -> None:
        if "stages_" not in self.__dict__:
            raise NotFittedError("this Synthesizer is not fitted yet: call fit(db) or Synthesizer.load(directory)")

    # -------------------------------------------------------------------------------- persistence
    def save(self, directory: str | Path, replace: bool = False) -> None:
        """Write the fitted synthesizer as ``config.json`` + ``weights.pt`` + arrays, atomically."""
        self._check_fitted()
        refuse_foreign_directory(Path(directory), replace)
        with atomic_directory(Path(directory), replace=replace) as tmp:
            fields: dict[str, Any] = {
                "format": MODEL_FORMAT,
                "version": MODEL_VERSION,
                "config": self.config.to_dict(),
                "schema": schema_to_dict(self.stages_.schema),
            }
            for stage in self.stages_.fitted():
                fields.update(stage.save(tmp))
            (tmp / CONFIG_FILE).write_text(json.dumps(fields, indent=1) + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> Synthesizer:
        """Load a saved synthesizer (no code from the directory is executed). A missing, tampered or
        foreign file raises :class:`InvalidFileError` naming the file and the field."""
        return load_synthesizer(cls, Path(directory))
