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
from dbtwin.graph import KHopSampler, RowGraph
from dbtwin.nn import HeteroDenoiser, distributed
from dbtwin.nn.device import to_device
from dbtwin.nn.loop import CheckpointError, StepOutcome, TrainingLoop, TrainState
from dbtwin.privacy.dp_sgd import PrivateStep
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
        #: where the model and its batches go (batches are built on the CPU and handed over)
        self.device = device or torch.device("cpu")
        self.model = model.to(self.device)
        self.graph = graph
        self.num, self.cat = num, cat
        self.fixed = fixed
        self.gaussian, self.masked = gaussian, masked
        self.config = config
        self.seed = int(np.random.SeedSequence(random_state).generate_state(1)[0])
        self.rng = np.random.default_rng(self.seed)
        self.generator = torch.Generator().manual_seed(self.seed)
        hops = model.num_layers
        self.sampler = KHopSampler(graph, num_hops=hops, max_neighbors=config.fanout) if hops else None
        all_edges = {et: torch.from_numpy(graph.edge_index(et)) for et in graph.edge_types()}
        self.structure = model.structure_inputs(dict(graph.num_nodes), all_edges, blocks)
        self.mask_codes = {t: torch.tensor(model.tables[t].cardinalities, dtype=torch.long) for t in model.tables}
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
            self.generator = torch.Generator().manual_seed(int(draws.generate_state(1)[0]))
        #: what the step's forward pass runs: the model, wrapped for data parallelism across ranks
        self.forward_model = distributed.wrap(self.model, self.world)
        self.private = (
            PrivateStep(model, num, cat, self.trainable, gaussian, masked, config.private) if config.private else None
        )
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay, fused=True
        )
        self.loop = TrainingLoop(model, self, self.optimizer, config.loop(), self.world)
        ahead = config.prefetch if config.prefetch is not None else self.device.type == "cuda"
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

    def _batch(
        self, seeds: dict[str, np.ndarray], rng: np.random.Generator, generator: torch.Generator, alone: bool = False
    ) -> tuple:
        """A training batch: the seeds' K-hop subgraphs, noised (``alone``: the seed rows without neighbours)."""
        if self.sampler is not None and not alone:
            sub = self.sampler.sample(seeds, random_state=int(rng.integers(2**31)))
            nodes, batch, seed_local, hop = sub.nodes, sub.batch, sub.seed_local, sub.hop
            edges = {et: torch.from_numpy(ei) for et, ei in sub.edge_index.items()}
            num_seeds = sub.num_seeds
        else:
            nodes, batch, seed_local, hop, start = {}, {}, {}, {}, 0
            for t, rows in seeds.items():
                nodes[t], seed_local[t], hop[t] = rows, np.arange(len(rows)), np.zeros(len(rows), np.int64)
                batch[t] = np.arange(start, start + len(rows))
                start += len(rows)
            edges, num_seeds = {}, start
        t_seed = torch.rand(num_seeds, generator=generator)
        give_known = self.model.known_inputs and float(rng.random()) < self.config.known_share
        x_num, x_cat, times, targets, known = {}, {}, {}, {}, {}
        for table, rows in nodes.items():
            idx = torch.from_numpy(rows)
            clean_num, clean_cat = self.num[table][idx], self.cat[table][idx]
            if table in self.fixed or not self.model.tables[table].has_features:
                x_num[table], x_cat[table] = clean_num, clean_cat
                times[table] = torch.zeros(len(rows))
                continue
            tt = t_seed[torch.from_numpy(batch[table])]
            noise = torch.randn(clean_num.shape, generator=generator)
            x_num[table] = self.gaussian.add_noise(clean_num, tt, noise)
            x_cat[table], masked = self.masked.add_noise(clean_cat, tt, self.mask_codes[table], generator)
            times[table] = tt
            free = None  # the numbers scored: all, or those not given clean
            if give_known:
                given_num, given_cat = _known_cells(clean_num.shape, clean_cat.shape, generator)
                x_num[table] = torch.where(given_num, clean_num, x_num[table])
                x_cat[table] = torch.where(given_cat, clean_cat, x_cat[table])
                masked, free, known[table] = masked & ~given_cat, ~given_num, given_num
            if self.config.loss_on == "seeds":
                if table in seed_local:
                    s = torch.from_numpy(seed_local[table])
                    targets[table] = (s, noise[s], clean_cat[s], masked[s], None, None if free is None else free[s])
                continue
            found = self._subgraph_targets(hop[table], noise, clean_cat, masked)
            if found is not None:
                s = found[0]
                targets[table] = (*found, None if free is None else free[s])
        structure = {t: self.structure[t][torch.from_numpy(r)] for t, r in nodes.items() if t in self.structure}
        return x_num, x_cat, times, edges, targets, structure, known

    def _subgraph_targets(self, hop: np.ndarray, noise, clean_cat, masked) -> tuple | None:
        """Loss rows and weights of one table's subgraph nodes: weight 1 for the rows reached in fewer
        than K hops (their neighbourhood is in the subgraph), ``outer_weight`` for the rows at hop K."""
        weight = self.config.outer_weight
        if weight == 1.0:
            return torch.arange(len(hop)), noise, clean_cat, masked, None
        inner = torch.from_numpy(hop < max(self.model.num_layers, 1))
        if weight == 0.0:
            s = torch.nonzero(inner).flatten()
            return (s, noise[s], clean_cat[s], masked[s], None) if len(s) else None
        return torch.arange(len(hop)), noise, clean_cat, masked, torch.where(inner, 1.0, weight)

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
        generator = torch.Generator().manual_seed(self.seed + 1)
        losses = []
        with torch.no_grad():
            for _ in range(4):
                seeds = self._seeds(
                    {t: v if len(v) else self.train_rows[t] for t, v in self.val_rows.items()},
                    self.config.batch_size,
                    rng,
                )
                losses.append(float(self._loss(model, self._batch(seeds, rng, generator))))
        return {"val_loss": float(np.mean(losses))}

    def state_dict(self) -> dict[str, Any]:
        """The draws' state before the next step's batch (also while it is being built ahead)."""
        return self._ahead[1] if self._ahead is not None else self._draws()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._drop_ahead()
        self.rng.bit_generator.state = state["rng"]
        self.generator.set_state(state["generator"].cpu())

    def _draws(self) -> dict[str, Any]:
        return {"rng": self.rng.bit_generator.state, "generator": self.generator.get_state()}

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
        return self._batch(seeds, self.rng, self.generator, alone=alone)

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


def _known_cells(num_shape, cat_shape, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Cells given clean in a batch that trains completion: each row keeps a share of its cells drawn
    uniformly from 0 to 1, so the denoiser sees rows from nearly empty to nearly whole."""
    share = torch.rand(num_shape[0], 1, generator=generator)
    given_num = torch.rand(num_shape, generator=generator) < share
    given_cat = torch.rand(cat_shape, generator=generator) < share
    return given_num, given_cat


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
