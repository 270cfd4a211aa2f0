"""The structure stage: row counts and foreign-key links (:mod:`dbtwin.structure`), each synthetic
row's block for a denoiser that takes blocks, and under differential privacy the noised histograms and
the budget the training spends the rest of."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from dbtwin.config import SynthesizerConfig
from dbtwin.errors import InvalidFileError, OptionError
from dbtwin.graph import RowGraph
from dbtwin.npz import load_arrays, save_arrays
from dbtwin.privacy.budget import PrivacyBudget, default_delta
from dbtwin.privacy.structure_noise import noised_templates
from dbtwin.privacy.structure_noise import sensitivity as structure_sensitivity
from dbtwin.structure import StructureModel, structure_class, structure_model
from dbtwin.structure.templates import GivenRows
from dbtwin.synthesizer.run_settings import planned_steps
from dbtwin.synthesizer.stages.base import CONFIG_FILE, Prepared, Stages, reading, short

log = logging.getLogger(__name__)
BLOCKS_FILE = "row_blocks.npz"


class StructureStage:
    """The fitted structure ``model``; ``blocks`` the block of every real row per table with more than
    one (for a denoiser that takes them); ``budget`` the privacy budget of a DP fit (not saved)."""

    name: ClassVar[str] = "structure"

    def __init__(self, model: StructureModel | None = None, blocks: dict[str, np.ndarray] | None = None) -> None:
        self.model = model
        self.blocks: dict[str, np.ndarray] = blocks or {}
        self.budget: PrivacyBudget | None = None

    def fit(self, prepared: Prepared, config: SynthesizerConfig, stages: Stages) -> StructureStage:
        assert stages.encoders is not None
        kind = config.structure.kind
        if config.privacy.enabled and kind != "degree":
            log.warning(
                "differential privacy: the '%s' structure is replaced by 'degree' (noised degree histograms)", kind
            )
            kind = "degree"
        self.model = structure_model(kind, fixed_tables=prepared.fixed_tables)
        features = None
        if self.groups_by_values(config):
            features = stages.encoders.value_features(*stages.encoders.real)
        self.model.fit(prepared.db, random_state=config.random_state, features=features)
        if config.privacy.enabled:
            self.budget = self._plan_privacy(prepared, config)
        self.blocks = self._row_blocks(config, prepared.fixed_tables)
        return self

    def groups_by_values(self, config: SynthesizerConfig) -> bool:
        """Whether the structure is given the rows' encoded values: a block model, with block inputs."""
        assert self.model is not None
        return config.structure.block_inputs and self.model.takes_features and not config.privacy.enabled

    def _plan_privacy(self, prepared: Prepared, config: SynthesizerConfig) -> PrivacyBudget:
        """The noise levels of a DP fit, and the structure's histograms noised with them."""
        privacy, training = config.privacy, config.training
        assert privacy.epsilon is not None
        db, rows = prepared.db, prepared.modelled_rows
        delta = privacy.delta if privacy.delta is not None else default_delta(rows)
        steps = training.steps or planned_steps(rows, training.batch_size)
        rate = min(1.0, training.batch_size / max(rows, 1))
        try:
            budget = PrivacyBudget.plan(float(privacy.epsilon), delta, steps, rate, structure_sensitivity(db.schema))
        except ValueError:
            raise OptionError(
                "epsilon",
                f"{privacy.epsilon:g} is too small a budget: no amount of noise keeps this fit (its structure "
                f"and {steps} DP-SGD steps) within it at delta {delta:.2g}; try 0.5 or more",
            ) from None
        rng = np.random.default_rng(np.random.SeedSequence(config.random_state).spawn(2)[1])
        templates = self.model.templates_  # type: ignore[union-attr]
        self.model.templates_ = noised_templates(templates, db.schema, budget.structure_sigma, rng)  # type: ignore[union-attr]
        return budget

    def _row_blocks(self, config: SynthesizerConfig, fixed: tuple[str, ...]) -> dict[str, np.ndarray]:
        templates = getattr(self.model, "templates_", None)
        if not config.structure.block_inputs or templates is None:
            return {}
        return {t: b.astype(np.int64) for t, b in templates.blocks.items() if len(b) and b.max() > 0 and t not in fixed}

    def sample(
        self,
        scale: float,
        rng: np.random.Generator,
        given: GivenRows | None = None,
        picks: dict[str, np.ndarray] | None = None,
    ) -> tuple[RowGraph, dict[str, torch.Tensor] | None]:
        """A synthetic row graph at ``scale`` (holding the ``given`` rows; of the real rows' templates
        ``picks`` when given), and the block of each of its rows (None without blocks)."""
        assert self.model is not None
        graph, picks = self.model.sample(scale, rng, given, picks)
        return graph, self.blocks_of(picks)

    def blocks_of(self, picks: dict[str, np.ndarray] | None) -> dict[str, torch.Tensor] | None:
        """The block of every synthetic row (that of the real row whose template it took, ``picks``);
        None without blocks."""
        if not self.blocks or picks is None:
            return None
        return {t: torch.from_numpy(b[picks[t]]) for t, b in self.blocks.items()}

    def save(self, directory: Path) -> dict[str, Any]:
        assert self.model is not None
        if self.blocks:
            save_arrays(directory / BLOCKS_FILE, self.blocks)
        return {"structure": self.model.save(directory)}

    @classmethod
    def load(cls, directory: Path, fields: dict[str, Any], stages: Stages) -> StructureStage:
        assert stages.schema is not None
        with reading(directory / CONFIG_FILE, "structure"):
            model = structure_class(fields["structure"]["name"]).load(directory, fields["structure"], stages.schema)
        path = directory / BLOCKS_FILE
        try:
            blocks = {t: np.asarray(b, dtype=np.int64) for t, b in load_arrays(path).items()}
        except FileNotFoundError:
            blocks = {}
        except Exception as exc:
            raise InvalidFileError(f"{path} cannot be read ({short(exc)})") from None
        return cls(model, blocks)
