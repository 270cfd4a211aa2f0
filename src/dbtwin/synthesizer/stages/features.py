"""The features stage: the denoiser over the row graph, its noise schedulers and the sequences that
order rows in time, trained by the one training loop and run backwards to generate every row's values
(:mod:`dbtwin.synthesizer.training`, :mod:`dbtwin.synthesizer.generation`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from dbtwin.config import SynthesizerConfig
from dbtwin.database import Database
from dbtwin.diffusion import GaussianScheduler, MaskedScheduler
from dbtwin.errors import InvalidFileError
from dbtwin.graph import RowGraph
from dbtwin.graph.sequences import Sequence, add_sequences, find_sequences
from dbtwin.nn import HeteroDenoiser, TableSpec
from dbtwin.nn.device import freed_memory_reused, resolve_device
from dbtwin.privacy.budget import privacy_report
from dbtwin.privacy.dp_sgd import DPConfig
from dbtwin.progress import Phase
from dbtwin.synthesizer.generation import Known, denoise_graph
from dbtwin.synthesizer.keys import structural_columns
from dbtwin.synthesizer.run_settings import TrainConfig, TrainState, planned_steps
from dbtwin.synthesizer.stages.base import CONFIG_FILE, Prepared, Stages, reading, same_tables
from dbtwin.synthesizer.training import Trainer

log = logging.getLogger(__name__)
WEIGHTS_FILE = "weights.pt"


class FeaturesStage:
    """The trained denoiser (``model``, its EMA weights), its ``gaussian`` and ``masked`` schedulers,
    the ``sequences`` it sees as edges, how training went (``state``) and the privacy spent
    (``privacy``). ``checkpoint_dir``, ``progress`` and ``fingerprint`` only concern a fit."""

    name: ClassVar[str] = "features"

    def __init__(self, checkpoint_dir: Path | None = None, progress: bool = True, fingerprint: str = "") -> None:
        self.checkpoint_dir, self.progress, self.fingerprint = checkpoint_dir, progress, fingerprint
        self.model: HeteroDenoiser | None = None
        self.gaussian, self.masked = GaussianScheduler(), MaskedScheduler()
        self.sequences: list[Sequence] = []
        self.state = TrainState()
        self.privacy: dict[str, Any] | None = None

    def fit(self, prepared: Prepared, config: SynthesizerConfig, stages: Stages) -> FeaturesStage:
        assert stages.encoders is not None and stages.structure is not None and stages.relations is not None
        device = resolve_device(config.training.device)
        self.sequences = self._find_sequences(prepared, config, stages)
        graph = add_sequences(RowGraph.from_database(prepared.db), self.sequences, prepared.db)
        blocks = stages.structure.blocks
        self.model = _denoiser(stages, graph, config, {t: int(b.max()) + 1 for t, b in blocks.items()})
        num, cat = stages.encoders.real
        budget = stages.structure.budget
        trainer = Trainer(
            self.model,
            graph,
            num,
            cat,
            set(prepared.fixed_tables),
            self.gaussian,
            self.masked,
            self._train_config(prepared, config, budget),
            config.random_state,
            blocks={t: torch.from_numpy(b) for t, b in blocks.items()},
            device=device,
        )
        self.state = trainer.fit(self.checkpoint_dir, self.progress, self.fingerprint)
        self.model = trainer.ema
        self.privacy = privacy_report(budget, self.state.step) if budget else None
        if self.privacy and budget:
            log.info("differential privacy: (%.3g, %.2g)-DP spent", self.privacy["epsilon_spent"], budget.delta)
        return self

    def _train_config(self, prepared: Prepared, config: SynthesizerConfig, budget: Any) -> TrainConfig:
        """The training run: the config's steps (by default planned from the data), DP-SGD under a budget."""
        training = config.training
        steps = budget.steps if budget is not None else training.steps
        if steps is None and training.budget == "steps":
            steps = planned_steps(prepared.modelled_rows, training.batch_size)
        private = DPConfig(budget.sampling_rate, budget.noise_multiplier, budget.clip) if budget else None
        return TrainConfig.from_settings(training, steps, private)

    @staticmethod
    def _find_sequences(prepared: Prepared, config: SynthesizerConfig, stages: Stages) -> list[Sequence]:
        if not config.relations.sequences:
            return []
        assert stages.relations is not None
        derived = stages.relations.derived_columns
        generated = {t: structural_columns(prepared.schema, t) | derived(t) for t in prepared.schema.tables}
        found = [s for s in find_sequences(prepared.db, generated) if s.table not in prepared.fixed_tables]
        for seq in found:
            log.info("sequence: rows of %s ordered by %s within %s", seq.table, seq.time_column, seq.foreign_key)
        return found

    def generate(
        self,
        graph: RowGraph,
        fixed: dict[str, tuple[torch.Tensor, torch.Tensor]],
        config: SynthesizerConfig,
        generator: torch.Generator,
        blocks: dict[str, torch.Tensor] | None,
        progress: bool,
        known: dict[str, Known] | None = None,
        real: Database | None = None,
        rounds: int = 1,
        noised: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """Every row's features of the synthetic ``graph`` (its sequences added here), by reverse
        diffusion; the kept tables' rows (``fixed``) held as they are, and the ``known`` values
        (imputation of ``real``, the database ``graph`` was built from: its own order in time), each
        step's numbers denoised ``rounds`` times, and tables held as they are but ``noised`` to each
        step's time (:func:`~dbtwin.synthesizer.generation.denoise_graph`)."""
        assert self.model is not None
        add_sequences(graph, self.sequences, real)
        with Phase("denoising", sum(graph.num_nodes.values())), freed_memory_reused():
            return self._denoised(graph, fixed, config, generator, blocks, progress, known, rounds, noised)

    def _denoised(self, graph, fixed, config, generator, blocks, progress, known, rounds, noised):
        assert self.model is not None
        return denoise_graph(
            self.model,
            graph,
            {t: f[0] for t, f in fixed.items()},
            {t: f[1] for t, f in fixed.items()},
            self.gaussian,
            self.masked,
            config.sampling.steps,
            generator,
            fanout=config.training.fanout,
            progress=progress,
            blocks=blocks,
            device=resolve_device(config.training.device),
            memory_gb=config.sampling.memory_gb,
            known=known,
            rounds=rounds,
            noised=noised,
        )

    def save(self, directory: Path) -> dict[str, Any]:
        assert self.model is not None
        torch.save({k: v.detach().cpu() for k, v in self.model.state_dict().items()}, directory / WEIGHTS_FILE)
        state = self.state
        return {
            "denoiser": self.model.config(),
            "gaussian": self.gaussian.to_dict(),
            "masked": self.masked.to_dict(),
            "sequences": [q.to_dict() for q in self.sequences],
            "differential_privacy": self.privacy,
            "training": {
                "steps": state.step,
                "seconds": round(state.seconds, 2),
                "stopped": state.stopped,
                "rows": state.rows,
                "rows_per_second": round(state.rows_per_second, 1),
                "batch_share": round(state.batch_share, 3),
                "nodes": state.nodes,
                "threads": torch.get_num_threads(),
                "history": state.history,
            },
        }

    @classmethod
    def load(cls, directory: Path, fields: dict[str, Any], stages: Stages) -> FeaturesStage:
        assert stages.schema is not None and stages.structure is not None
        file = directory / CONFIG_FILE
        stage = cls()
        with reading(file, "denoiser"):
            stage.model = HeteroDenoiser.from_config(fields["denoiser"])
        same_tables(file, "denoiser.tables", set(stage.model.tables), stages.schema.table_names)
        _load_weights(stage.model, directory)
        if set(stages.structure.blocks) != set(stage.model.block_counts):
            raise InvalidFileError(
                f"{directory / 'row_blocks.npz'} does not hold the blocks of the tables the denoiser takes blocks of"
            )
        with reading(file, "gaussian"):
            stage.gaussian = GaussianScheduler.from_dict(fields["gaussian"])
        with reading(file, "masked"):
            stage.masked = MaskedScheduler.from_dict(fields["masked"])
        with reading(file, "sequences"):
            stage.sequences = [Sequence.from_dict(q) for q in fields["sequences"]]
        with reading(file, "differential_privacy"):
            stage.privacy = fields["differential_privacy"]
            if stage.privacy is not None and not isinstance(stage.privacy, dict):
                raise TypeError("must be a JSON object or null")
        with reading(file, "training"):
            training = fields["training"]
            stage.state = TrainState(
                step=int(training["steps"]),
                history=list(training["history"]),
                stopped=str(training["stopped"]),
                seconds=float(training["seconds"]),
                rows=int(training.get("rows", 0)),
                nodes=int(training.get("nodes", 0)),
            )
        return stage


def _denoiser(
    stages: Stages, graph: RowGraph, config: SynthesizerConfig, block_counts: dict[str, int]
) -> HeteroDenoiser:
    """A fresh denoiser for the encoded tables, initialised from the seed (the caller's torch RNG untouched)."""
    assert stages.encoders is not None
    private = config.privacy.enabled
    specs = {t: TableSpec(e.num_numeric, e.cardinalities) for t, e in stages.encoders.encoders.items()}
    with torch.random.fork_rng():
        torch.manual_seed(int(np.random.SeedSequence(config.random_state).generate_state(1)[0]))
        return HeteroDenoiser(
            specs,
            graph.edge_types(),
            hidden=config.denoiser.hidden,
            num_layers=0 if private else config.denoiser.num_hops,
            degree_inputs=config.denoiser.degree_inputs and not private,
            block_counts=block_counts,
            known_inputs=config.training.known_share > 0 and not private,
        )


def _load_weights(model: HeteroDenoiser, directory: Path) -> None:
    weights = directory / WEIGHTS_FILE
    try:
        model.load_state_dict(torch.load(weights, weights_only=True, map_location="cpu"))
    except FileNotFoundError:
        raise InvalidFileError(f"'{directory}' lacks weights.pt") from None
    except Exception as exc:
        raise InvalidFileError(
            f"{weights} cannot be read or does not fit {CONFIG_FILE}'s field 'denoiser' ({type(exc).__name__})"
        ) from None
