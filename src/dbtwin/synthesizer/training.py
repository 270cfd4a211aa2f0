"""Training of the denoiser on K-hop subgraphs of the real row graph.

Each step draws seed rows from every modelled table, takes their disjoint K-hop neighbourhoods, draws
one diffusion time per seed subgraph, noises every node of the subgraph at that time (dimension tables
stay clean), and scores the denoiser on every noised row, the rows at hop K (which miss all their
neighbours but one) with a lower weight (``TrainConfig.outer_weight``): the mean squared error of the
predicted noise plus the cross-entropy of the masked codes, weighted means per table summed over tables.
AdamW, an exponential moving average of the weights, a linearly decaying learning rate, early stopping
on a held-out loss, a time limit, and checkpoints from which an interrupted run resumes.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from dbtwin.diffusion import GaussianScheduler, MaskedScheduler
from dbtwin.errors import DbtwinError
from dbtwin.graph import KHopSampler, RowGraph
from dbtwin.nn import HeteroDenoiser
from dbtwin.nn.device import to_device
from dbtwin.privacy.dp_sgd import PrivateStep
from dbtwin.progress import Progress
from dbtwin.synthesizer.run_settings import TrainConfig, TrainState

log = logging.getLogger(__name__)
CHECKPOINT = "checkpoint.pt"


class CheckpointError(DbtwinError):
    """A checkpoint directory holds a checkpoint that cannot be resumed by this fit."""


class Trainer:
    """Trains ``model`` on ``graph`` whose rows carry ``num``/``cat`` features."""

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
        self.full_edges = all_edges if config.batches == "full" else {}
        self.structure = model.structure_inputs(dict(graph.num_nodes), all_edges, blocks)
        self.mask_codes = {t: torch.tensor(model.tables[t].cardinalities, dtype=torch.long) for t in model.tables}
        self.trainable = [
            t for t, s in model.tables.items() if s.has_features and t not in fixed and graph.num_nodes[t]
        ]
        self._split_rows()
        self.private = (
            PrivateStep(model, num, cat, self.trainable, gaussian, masked, config.private) if config.private else None
        )
        self.ema = copy.deepcopy(model).requires_grad_(False)
        self.optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay, fused=True
        )
        self.params = list(model.parameters())
        self.ema_params = list(self.ema.parameters())
        self.state = TrainState()
        self.fingerprint = ""

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
        x_num, x_cat, times, targets = {}, {}, {}, {}
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
            if self.config.loss_on == "seeds":
                if table in seed_local:
                    s = torch.from_numpy(seed_local[table])
                    targets[table] = (s, noise[s], clean_cat[s], masked[s], None)
                continue
            targets[table] = self._subgraph_targets(hop[table], noise, clean_cat, masked)
        targets = {t: v for t, v in targets.items() if v is not None}
        structure = {t: self.structure[t][torch.from_numpy(r)] for t, r in nodes.items() if t in self.structure}
        return x_num, x_cat, times, edges, targets, structure

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

    def _full_batch(self, loss_rows: dict[str, np.ndarray], generator: torch.Generator) -> tuple:
        """Every row of the graph, noised at a time of its own, its real neighbours attached; the loss
        on ``loss_rows``."""
        x_num, x_cat, times, targets = {}, {}, {}, {}
        for table in self.model.tables:
            clean_num, clean_cat = self.num[table], self.cat[table]
            n = clean_num.shape[0]
            if table not in loss_rows:
                x_num[table], x_cat[table], times[table] = clean_num, clean_cat, torch.zeros(n)
                continue
            tt = torch.rand(n, generator=generator)
            noise = torch.randn(clean_num.shape, generator=generator)
            x_num[table] = self.gaussian.add_noise(clean_num, tt, noise)
            x_cat[table], masked = self.masked.add_noise(clean_cat, tt, self.mask_codes[table], generator)
            times[table] = tt
            s = torch.from_numpy(loss_rows[table])
            targets[table] = (s, noise[s], clean_cat[s], masked[s], None)
        return x_num, x_cat, times, self.full_edges, targets, self.structure

    def _loss(self, model: HeteroDenoiser, batch: tuple) -> torch.Tensor:
        x_num, x_cat, times, edges, targets, structure = to_device(batch, self.device)
        out = model(x_num, x_cat, times, edges, structure=structure)
        total = torch.zeros((), device=self.device)
        for table, (s, noise, clean_cat, masked, w) in targets.items():
            eps_hat, logits = out[table]
            loss = _mean((eps_hat[s] - noise).pow(2).mean(1), w) if noise.shape[1] else eps_hat.new_zeros(())
            for j, lg in enumerate(logits):
                m = masked[:, j]
                if m.any():
                    ce = F.cross_entropy(lg[s][m], clean_cat[m, j], reduction="none")
                    loss = loss + _mean(ce, None if w is None else w[m]) / max(len(logits), 1)
            total = total + loss
        return total

    # ------------------------------------------------------------------------------ loop
    def _validation_loss(self) -> float:
        if not any(len(v) for v in self.val_rows.values()):
            return float("nan")
        rng = np.random.default_rng(self.seed + 1)
        generator = torch.Generator().manual_seed(self.seed + 1)
        losses = []
        with torch.no_grad():
            if self.config.batches == "full":
                rows = {t: np.sort(v) for t, v in self.val_rows.items() if len(v)}
                return float(
                    np.mean([float(self._loss(self.ema, self._full_batch(rows, generator))) for _ in range(2)])
                )
            for _ in range(4):
                seeds = self._seeds(
                    {t: v if len(v) else self.train_rows[t] for t, v in self.val_rows.items()},
                    self.config.batch_size,
                    rng,
                )
                losses.append(float(self._loss(self.ema, self._batch(seeds, rng, generator))))
        return float(np.mean(losses))

    def fit(self, checkpoint_dir: Path | None = None, progress: bool = True, fingerprint: str = "") -> TrainState:
        """Train; with ``checkpoint_dir``, checkpoint there and resume a checkpoint left by an
        interrupted run, but only one whose ``fingerprint`` (data, schema, parameters) matches."""
        cfg = self.config
        if cfg.steps is None and cfg.max_minutes is None:
            raise ValueError("training needs a budget: steps, max_minutes or both")
        self.fingerprint = fingerprint
        if not self.trainable:
            self.state.stopped = "nothing to learn: no table has attribute columns that vary"
            return self.state
        if checkpoint_dir is not None and (checkpoint_dir / CHECKPOINT).exists():
            self._resume(checkpoint_dir / CHECKPOINT)
        start = time.monotonic() - self.state.seconds
        # a bar over the steps when they are the budget, else over the minutes of the time budget
        by_time = not cfg.steps
        bar = Progress(
            "training",
            cfg.max_minutes * 60 if by_time else cfg.steps,
            unit="s" if by_time else "steps",
            enabled=progress,
            initial=self.state.seconds if by_time else self.state.step,
        )
        budget = [f"{cfg.steps} steps"] if cfg.steps else []
        if cfg.max_minutes:
            budget.append(f"{cfg.max_minutes:g} minutes")
        log.info("training for %s (early stopping on the held-out loss may end it sooner)", " or ".join(budget))
        while (cfg.steps is None or self.state.step < cfg.steps) and not self.state.stopped:
            self.model.train()
            loss = self._private_step() if self.private is not None else self._step()
            self.optimizer.step()
            self._decay_learning_rate()
            with torch.no_grad():
                decay = min(cfg.ema_decay, (1 + self.state.step) / (10 + self.state.step))
                torch._foreach_lerp_(self.ema_params, self.params, 1 - decay)
            self.state.step += 1
            self.state.seconds = time.monotonic() - start
            bar.moveto(self.state.seconds if by_time else self.state.step, step=self.state.step, loss=f"{loss:.4f}")
            if self.state.step % cfg.eval_every == 0 or self.state.step == cfg.steps:
                val = self._validation_loss()
                self.state.history.append(
                    {
                        "step": self.state.step,
                        "loss": loss,
                        "val_loss": val,
                        "seconds": round(self.state.seconds, 2),
                    }
                )
                log.info("step %d: loss %.4f, held-out loss %.4f", self.state.step, loss, val)
                if self.private is not None:
                    pass  # no rows are held out under DP: the last weights are kept
                elif val < self.state.best_val - 1e-4:
                    self.state.best_val, self.state.bad_evals = val, 0
                    self.best_weights = copy.deepcopy(self.ema.state_dict())
                else:
                    self.state.bad_evals += 1
                    if self.state.bad_evals >= cfg.patience:
                        self.state.stopped = "early stopping: the held-out loss stopped improving"
            if cfg.max_minutes is not None and self.state.seconds > cfg.max_minutes * 60 and not self.state.stopped:
                self.state.stopped = self._cut_short(cfg)
            if checkpoint_dir is not None and self.state.step % cfg.checkpoint_every == 0:
                self._checkpoint(checkpoint_dir / CHECKPOINT)
        bar.close()
        if not self.state.stopped:
            self.state.stopped = f"{cfg.steps} steps done"
        if getattr(self, "best_weights", None) is not None:
            self.ema.load_state_dict(self.best_weights)
        if checkpoint_dir is not None:
            (checkpoint_dir / CHECKPOINT).unlink(missing_ok=True)
        log.info(
            "training stopped after %d steps (%.1f s, %s rows denoised and %s passed a second on %d threads): %s",
            self.state.step,
            self.state.seconds,
            f"{self.state.rows_per_second:,.0f}",
            f"{self.state.nodes_per_second:,.0f}",
            torch.get_num_threads(),
            self.state.stopped,
        )
        return self.state

    def _cut_short(self, cfg: TrainConfig) -> str:
        """Why training stopped when the time cap ended it, with what that costs."""
        unit = "minute" if cfg.max_minutes == 1 else "minutes"
        if not cfg.steps or cfg.schedule == "time":
            return f"time budget of {cfg.max_minutes:g} {unit} used"
        self.state.cut_short = True
        seen = [h["val_loss"] for h in self.state.history if np.isfinite(h["val_loss"])]
        loss = f"; held-out loss {seen[-1]:.4f} (it was {seen[0]:.4f} at step {self.config.eval_every})" if seen else ""
        message = (
            f"time cap of {cfg.max_minutes:g} {unit} reached at step {self.state.step} of the {cfg.steps} planned "
            f"({self.state.step / cfg.steps:.1%}){loss}: the model is less trained than the same fit on a faster "
            "or quieter machine; drop the cap or raise it for the full budget"
        )
        log.warning("%s", message)
        return message

    def _step(self) -> float:
        """Gradients of one batch of K-hop subgraphs (or of the full graph), clipped to norm 1."""
        cfg = self.config
        if cfg.batches == "full":
            batch = self._full_batch(self.train_rows, self.generator)
        else:
            alone = cfg.alone_share > 0 and self.rng.random() < cfg.alone_share
            seeds = self._seeds(self.train_rows, cfg.batch_size, self.rng)
            batch = self._batch(seeds, self.rng, self.generator, alone=alone)
        loss = self._loss(self.model, batch)
        self.state.rows += sum(len(target[0]) for target in batch[4].values())
        self.state.nodes += sum(x.shape[0] for x in batch[0].values())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        return loss.item()

    def _private_step(self) -> float:
        """Noised gradients of Poisson-sampled rows, each row's clipped (DP-SGD)."""
        assert self.private is not None
        loss, rows = self.private(self.rng, self.generator)
        self.state.rows += rows
        self.state.nodes += rows
        return loss

    def progress(self) -> float:
        """The share of the budget spent: steps done over ``steps``; with the "time" schedule (or no
        steps) time used over ``max_minutes`` as well, whichever is further (the schedule then depends
        on the machine's speed)."""
        cfg = self.config
        done = self.state.step / cfg.steps if cfg.steps else 0.0
        if cfg.max_minutes and (cfg.schedule == "time" or not cfg.steps):
            done = max(done, self.state.seconds / (cfg.max_minutes * 60))
        return min(done, 1.0)

    def _decay_learning_rate(self) -> None:
        """Linear decay to a tenth of the learning rate over the budget (steps or time)."""
        lr = self.config.learning_rate * max(0.1, 1.0 - self.progress())
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def _checkpoint(self, path: Path) -> None:
        payload = {
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict(),
            "best": getattr(self, "best_weights", None) or {},
            "optimizer": self.optimizer.state_dict(),
            "state": asdict(self.state),
            "rng": self.rng.bit_generator.state,
            "generator": self.generator.get_state(),
            "fingerprint": self.fingerprint,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(payload, tmp)
        tmp.replace(path)

    def _resume(self, path: Path) -> None:
        directory = path.parent
        try:
            payload = torch.load(path, weights_only=True, map_location=self.device)
        except Exception as exc:
            raise CheckpointError(
                f"the checkpoint in '{directory}' cannot be read ({type(exc).__name__}); delete that directory "
                "or pass --replace (replace=True) to start afresh"
            ) from None
        if not isinstance(payload, dict) or payload.get("fingerprint") != self.fingerprint:
            raise CheckpointError(
                f"'{directory}' holds the checkpoint of another fit (other data, schema, parameters or seed); "
                "it is not resumed: delete that directory or pass --replace (replace=True) to start afresh"
            )
        log.warning("resuming the interrupted fit from '%s' at step %d", directory, payload["state"]["step"])
        self.model.load_state_dict(payload["model"])
        self.ema.load_state_dict(payload["ema"])
        if payload["best"]:
            self.best_weights = payload["best"]
        self.optimizer.load_state_dict(payload["optimizer"])
        self.state = TrainState(**payload["state"])
        self.rng.bit_generator.state = payload["rng"]
        self.generator.set_state(payload["generator"].cpu())
        log.info("resumed training at step %d from %s", self.state.step, path)


def _mean(values: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """The mean of ``values``, weighted by ``weights`` when given."""
    return values.mean() if weights is None else (values * weights).sum() / weights.sum()
