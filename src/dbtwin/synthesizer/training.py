"""Training of the denoiser on K-hop subgraphs of the real row graph.

Each step draws seed rows from every modelled table, takes their disjoint K-hop neighbourhoods, draws
one diffusion time per seed subgraph, noises every node of the subgraph at that time (dimension tables
stay clean), and scores the denoiser on every noised row, the rows at hop K (which miss all their
neighbours but one) with a lower weight (``TrainConfig.outer_weight``): the mean squared error of the
predicted noise plus the cross-entropy of the masked codes, weighted means per table summed over tables.
Under differential privacy a step's gradients are DP-SGD's (:mod:`dbtwin.privacy.dp_sgd`) instead. The
:class:`Trainer` is the denoiser's objective; AdamW, the moving average of the weights, the learning-rate
schedule, early stopping on the held-out loss, the time cap and the checkpoints are the one training
loop's (:mod:`dbtwin.nn.loop`). Under ``torchrun`` each of N ranks draws its own seed rows, a
batch of ``batch_size / N``, and the gradients are averaged across ranks
(:mod:`dbtwin.nn.distributed`): the same steps train on the same number of rows, N at a time.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from dbtwin.diffusion import GaussianScheduler, MaskedScheduler
from dbtwin.errors import OptionError
from dbtwin.graph import RowGraph
from dbtwin.nn import HeteroDenoiser, distributed
from dbtwin.nn.device import to_device
from dbtwin.nn.loop import CheckpointError, StepOutcome, TrainingLoop, TrainState
from dbtwin.privacy.dp_sgd import PrivateStep
from dbtwin.synthesizer.batches import Batches
from dbtwin.synthesizer.run_settings import TrainConfig

log = logging.getLogger(__name__)
CHECKPOINT = "checkpoint.pt"


class Trainer:
    """Trains ``model`` on ``graph`` whose rows carry ``num``/``cat`` features: the denoiser's
    :class:`~dbtwin.nn.loop.Objective`, run by the one training loop (:attr:`loop`)."""

    def __init__(
        self,
        model: HeteroDenoiser,
        graph: RowGraph,
        num: dict[str, torch.Tensor],
        cat: dict[str, torch.Tensor],
        fixed: set[str],
        gaussian: GaussianScheduler,
        masked: MaskedScheduler,
        config: TrainConfig,
        random_state: int | None = None,
        blocks: dict[str, torch.Tensor] | None = None,
        device: torch.device | None = None,
    ) -> None:
        #: where the model and its batches go
        self.device = device or torch.device("cpu")
        self.model = model.to(self.device)
        self.graph = graph
        self.config = config
        on_device = config.device_batches if config.device_batches is not None else self.device.type == "cuda"
        #: the batches' builder: on the device (``device_batches``) or on the CPU, handed over each step
        self.batches = Batches(
            model, graph, num, cat, fixed, gaussian, masked, config, blocks, self.device,
            on_device=bool(on_device) and not config.private,
        )  # fmt: skip
        self.seed = int(np.random.SeedSequence(random_state).generate_state(1)[0])
        self.rng = np.random.default_rng(self.seed)
        self.generator = self.batches.generator(self.seed)
        self.trainable = [
            t for t, s in model.tables.items() if s.has_features and t not in fixed and graph.num_nodes[t]
        ]
        self._split_rows()
        self.world = distributed.world()
        #: seed rows per step on this rank: its share of the batch
        self.batch_rows = -(-config.batch_size // self.world.size)
        if self.world.is_distributed:
            if config.private:
                raise OptionError("epsilon", "DP-SGD trains in one process: run the fit without torchrun")
            draws = np.random.SeedSequence([self.seed, self.world.rank])  # each rank its own seed rows
            self.rng = np.random.default_rng(draws)
            self.generator = self.batches.generator(int(draws.generate_state(1)[0]))
        #: what the step's forward pass runs: the model, wrapped for data parallelism across ranks
        self.forward_model = distributed.wrap(self.model, self.world)
        self.private = (
            PrivateStep(model, num, cat, self.trainable, gaussian, masked, config.private) if config.private else None
        )
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay, fused=True
        )
        self.loop = TrainingLoop(model, self, self.optimizer, config.loop(), self.world)
        ahead = config.prefetch if config.prefetch is not None else self.device.type == "cuda" and not on_device
        #: whether :meth:`fit` builds each step's batch ahead, while the step before runs
        self.prefetch = bool(ahead) and self.private is None
        #: the thread that builds batches ahead during :meth:`fit` (None: each step builds its own)
        self._builder: ThreadPoolExecutor | None = None
        #: the batch being built ahead, and the draws' state before it (what a checkpoint resumes)
        self._ahead: tuple[Future, dict[str, Any]] | None = None

    def _split_rows(self) -> None:
        self.train_rows, self.val_rows = {}, {}
        for t in self.trainable:
            perm = self.rng.permutation(self.graph.num_nodes[t])
            share = 0.0 if self.config.private else self.config.val_fraction
            n_val = int(len(perm) * share) if len(perm) >= 20 else 0
            self.val_rows[t], self.train_rows[t] = perm[:n_val], perm[n_val:]
        weights = np.array([np.sqrt(len(self.train_rows[t])) for t in self.trainable])
        self.table_share = weights / weights.sum() if len(weights) else weights

    # ------------------------------------------------------------------------------ batches
    def _seeds(self, rows: dict[str, np.ndarray], size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        counts = rng.multinomial(size, self.table_share)
        return {
            t: rng.choice(rows[t], size=c, replace=len(rows[t]) < c)
            for t, c in zip(self.trainable, counts, strict=True)
            if c and len(rows[t])
        }

    def _loss(self, model: HeteroDenoiser, batch: tuple) -> torch.Tensor:
        x_num, x_cat, times, edges, targets, structure, known = to_device(batch, self.device)
        out = model(x_num, x_cat, times, edges, structure=structure, known=known)
        total = torch.zeros((), device=self.device)
        for table, (s, noise, clean_cat, masked, w, free) in targets.items():
            eps_hat, logits = out[table]
            loss = _noise_loss(eps_hat[s], noise, w, free) if noise.shape[1] else eps_hat.new_zeros(())
            for j, lg in enumerate(logits):
                m = masked[:, j]
                if m.any():
                    ce = F.cross_entropy(lg[s][m], clean_cat[m, j], reduction="none")
                    loss = loss + _mean(ce, None if w is None else w[m]) / max(len(logits), 1)
            total = total + loss
        return total

    # ------------------------------------------------------------------------------ the objective
    def validate(self, model: torch.nn.Module) -> dict[str, float]:
        """The loss of ``model`` on four batches of held-out seed rows (the same batches each time)."""
        if not any(len(v) for v in self.val_rows.values()):
            return {"val_loss": float("nan")}
        rng = np.random.default_rng(self.seed + 1)
        generator = self.batches.generator(self.seed + 1)
        losses = []
        with torch.no_grad():
            for _ in range(4):
                seeds = self._seeds(
                    {t: v if len(v) else self.train_rows[t] for t, v in self.val_rows.items()},
                    self.config.batch_size,
                    rng,
                )
                losses.append(float(self._loss(model, self.batches.build(seeds, rng, generator))))
        return {"val_loss": float(np.mean(losses))}

    def state_dict(self) -> dict[str, Any]:
        """The draws' state before the next step's batch (also while it is being built ahead)."""
        return self._ahead[1] if self._ahead is not None else self._draws()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._drop_ahead()
        self.rng.bit_generator.state = state["rng"]
        if state.get("batches", "numpy") == self._batches_kind():
            self.generator.set_state(state["generator"].cpu())
        else:  # resumed where batches are drawn otherwise: its generator seeded afresh from the draws
            self.generator = self.batches.generator(int(self.rng.integers(2**62)))

    def _draws(self) -> dict[str, Any]:
        return {
            "rng": self.rng.bit_generator.state,
            "generator": self.generator.get_state(),
            "batches": self._batches_kind(),
        }

    def _batches_kind(self) -> str:
        """How the batches are drawn: ``numpy`` (NumPy's sampler, noise from a CPU generator) or
        ``torch:<device>`` (torch's sampler and noise from that device's generator)."""
        return f"torch:{self.batches.device.type}" if self.batches.on_device else "numpy"

    def step(self) -> StepOutcome:
        """Gradients of one step: DP-SGD's under privacy, else those of one batch of K-hop subgraphs."""
        if self.private is not None:
            loss, rows = self.private(self.rng, self.generator)
            return StepOutcome(loss, rows, rows)
        started = time.perf_counter()
        batch = self._next_batch()
        self.loop.state.batch_seconds += time.perf_counter() - started
        loss = self._loss(self.forward_model, batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        rows = sum(len(target[0]) for target in batch[4].values())
        return StepOutcome(loss.item(), rows, sum(x.shape[0] for x in batch[0].values()))

    def _next_batch(self) -> tuple:
        """This step's batch: built now, or ahead while the step before ran (then the next one is
        started); the same batches in the same order either way."""
        if self._builder is None:
            return self._drawn_batch()
        if self._ahead is None:
            self._ahead = (self._builder.submit(self._drawn_batch), self._draws())
        batch = self._ahead[0].result()
        before = self._draws()  # taken while no batch is being built
        self._ahead = (self._builder.submit(self._drawn_batch), before)
        return batch

    def _drawn_batch(self) -> tuple:
        """A training batch drawn from the training rows: seed rows, their subgraphs, noised."""
        alone = self.config.alone_share > 0 and self.rng.random() < self.config.alone_share
        seeds = self._seeds(self.train_rows, self.batch_rows, self.rng)
        return self.batches.build(seeds, self.rng, self.generator, alone=alone)

    def _drop_ahead(self) -> None:
        """Wait for a batch built ahead and drop it; the draws go back to their state before it."""
        if self._ahead is None:
            return
        future, before = self._ahead
        self._ahead = None
        future.exception()  # waits; a batch that failed to build is dropped too
        self.rng.bit_generator.state = before["rng"]
        self.generator.set_state(before["generator"])

    # ------------------------------------------------------------------------------ training
    def fit(self, checkpoint_dir: Path | None = None, progress: bool = True, fingerprint: str = "") -> TrainState:
        """Train by the one training loop; with ``checkpoint_dir``, checkpoint there and resume a
        checkpoint left by an interrupted run, but only one whose ``fingerprint`` (data, schema,
        parameters) matches."""
        if not self.trainable:
            self.loop.state.stopped = "nothing to learn: no table has attribute columns that vary"
            return self.loop.state
        self._builder = ThreadPoolExecutor(1, "dbtwin-batch") if self.prefetch else None
        try:
            state = self.loop.run(checkpoint_dir / CHECKPOINT if checkpoint_dir else None, fingerprint, progress)
        finally:
            self._drop_ahead()
            if self._builder is not None:
                self._builder.shutdown()
            self._builder = None
        state.rows, state.nodes = self.world.total(state.rows), self.world.total(state.nodes)
        log.info(
            "training stopped after %d steps (%.1f s, %.0f%% of it waiting for batches, %s rows denoised and %s "
            "passed a second on %d threads%s): %s",
            state.step,
            state.seconds,
            100 * state.batch_share,
            f"{state.rows_per_second:,.0f}",
            f"{state.nodes_per_second:,.0f}",
            torch.get_num_threads(),
            f" x {self.world.size} ranks" if self.world.is_distributed else "",
            state.stopped,
        )
        return state

    @property
    def state(self) -> TrainState:
        return self.loop.state

    @property
    def ema(self) -> HeteroDenoiser:
        """The moving average of the weights: the model kept (after :meth:`fit`, the best one)."""
        return self.loop.average  # type: ignore[return-value]


def _noise_loss(eps_hat: torch.Tensor, noise: torch.Tensor, w, free: torch.Tensor | None) -> torch.Tensor:
    """The squared error of the predicted noise per row (over the numbers not given clean), weighted
    mean over rows."""
    err = (eps_hat - noise).pow(2)
    if free is None:
        return _mean(err.mean(1), w)
    per_row = (err * free).sum(1) / free.sum(1).clamp(min=1)
    return _mean(per_row, w)


def _mean(values: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """The mean of ``values``, weighted by ``weights`` when given."""
    return values.mean() if weights is None else (values * weights).sum() / weights.sum()


__all__ = ["CHECKPOINT", "CheckpointError", "Trainer"]
