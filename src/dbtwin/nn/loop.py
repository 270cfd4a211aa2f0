"""The one training loop of dbtwin's models: the denoiser (plain or DP-SGD) and the predictor.

What differs between them is an :class:`Objective`: it sets one step's gradients and scores held-out
data. Everything else is done here, alike for every model: the optimiser's steps, an exponential moving
average of the weights (what is validated and kept), the learning-rate schedule over the budget (a
number of steps with time as a cap, or time), an evaluation every ``eval_every`` steps with early
stopping on a watched score and the best average kept, checkpoints from which an interrupted run
resumes, and progress. Under ``torchrun`` (a :class:`~dbtwin.nn.distributed.World` of several ranks)
the ranks stop together, their scores are averaged, and only rank 0 reports and writes checkpoints.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple, Protocol

import numpy as np
import torch
from torch import nn

from dbtwin.errors import DbtwinError
from dbtwin.nn.distributed import World
from dbtwin.progress import Progress

log = logging.getLogger(__name__)


class CheckpointError(DbtwinError):
    """A checkpoint directory holds a checkpoint that cannot be resumed by this fit."""


class StepOutcome(NamedTuple):
    """One step: its loss, the rows (examples) scored and the rows the model passed (its inputs)."""

    loss: float
    rows: int
    nodes: int


class Objective(Protocol):
    """What a model is trained on: the loop asks it for each step's gradients and each evaluation."""

    def step(self) -> StepOutcome:
        """Set the ``.grad`` of every trained parameter for one step."""
        ...

    def validate(self, model: nn.Module) -> dict[str, float]:
        """Scores of ``model`` (the averaged weights) on held-out data, by name."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint must hold to resume the objective's draws (random states)."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


@dataclass(frozen=True)
class LoopConfig:
    """The loop's budget, schedule and stopping rule."""

    #: optimiser steps at most (None: the time budget ends training)
    steps: int | None
    #: minutes at most: a cap on ``steps``, or the budget itself with ``decay_over="time"``
    max_minutes: float | None = None
    #: decay of the moving average of the weights (0: none, the raw weights are validated and kept)
    ema_decay: float = 0.999
    eval_every: int = 100
    #: evaluations without improvement before training stops
    patience: int = 5
    #: the score early stopping watches: a name :meth:`Objective.validate` returns, or "loss" (the mean
    #: training loss since the last evaluation); ``watch_text`` names it in messages
    watch: str = "val_loss"
    watch_text: str = "the held-out loss"
    lower_is_better: bool = True
    #: the least change that counts as an improvement
    min_delta: float = 0.0
    #: False: no early stopping and the last weights kept (DP-SGD, where choosing by held-out rows would
    #: spend privacy the accountant does not count)
    early_stopping: bool = True
    #: "linear": decay to a tenth of each learning rate over the budget; "constant"
    lr_schedule: Literal["linear", "constant"] = "linear"
    #: "steps": the schedule runs over ``steps`` and a time cap that cuts them is reported; "time": over
    #: ``max_minutes`` (or the steps, whichever runs out first)
    decay_over: Literal["steps", "time"] = "steps"
    checkpoint_every: int = 500
    desc: str = "training"


@dataclass
class TrainState:
    """What training reports: the steps done, the evaluations, the best one and why it stopped."""

    step: int = 0
    #: the best watched score so far (None: no evaluation has counted yet)
    best_score: float | None = None
    #: the step of the weights kept (0: the last weights)
    best_step: int = 0
    bad_evals: int = 0
    history: list[dict] = field(default_factory=list)
    stopped: str = ""
    seconds: float = 0.0
    #: rows scored (summed over steps)
    rows: int = 0
    #: rows passed through the model (summed over steps)
    nodes: int = 0
    #: whether the time cap ended training before the planned number of steps
    cut_short: bool = False
    #: seconds the steps waited for their batches: building them, or for the one built ahead
    #: (the device waits meanwhile)
    batch_seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    @property
    def batch_share(self) -> float:
        """The share of training time the steps waited for their batches."""
        return self.batch_seconds / self.seconds if self.seconds > 0 else 0.0

    @property
    def nodes_per_second(self) -> float:
        return self.nodes / self.seconds if self.seconds > 0 else 0.0


class TrainingLoop:
    """Trains ``model`` on ``objective`` with ``optimizer`` as ``config`` says; :attr:`average` holds
    the weights that are validated and, after :meth:`run`, the ones kept; ``world``: the ranks that
    train together (default: this process alone)."""

    def __init__(
        self,
        model: nn.Module,
        objective: Objective,
        optimizer: torch.optim.Optimizer,
        config: LoopConfig,
        world: World | None = None,
    ) -> None:
        if config.steps is None and config.max_minutes is None:
            raise ValueError("training needs a budget: steps, max_minutes or both")
        self.model, self.objective, self.optimizer, self.config = model, objective, optimizer, config
        self.world = world or World()
        self.average = copy.deepcopy(model).requires_grad_(False) if config.ema_decay else model
        self._params, self._average_params = list(model.parameters()), list(self.average.parameters())
        self._base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.state = TrainState()
        self.best_weights: dict[str, torch.Tensor] | None = None
        self._losses: list[float] = []

    # ------------------------------------------------------------------------------ the loop
    def run(self, checkpoint: Path | None = None, fingerprint: str = "", progress: bool = True) -> TrainState:
        """Train until the budget is spent or early stopping ends it; with ``checkpoint`` (a file),
        checkpoint there and resume a checkpoint an interrupted run left, but only one whose
        ``fingerprint`` matches."""
        cfg, state = self.config, self.state
        if checkpoint is not None and checkpoint.exists():
            self._resume(checkpoint, fingerprint)
            state = self.state
        start = time.monotonic() - state.seconds
        by_time = not cfg.steps
        bar = Progress(
            cfg.desc,
            cfg.max_minutes * 60 if by_time else cfg.steps,
            unit="s" if by_time else "steps",
            enabled=progress and self.world.is_main,
            initial=state.seconds if by_time else state.step,
        )
        log.info("training for %s (early stopping may end it sooner)", self._budget_text())
        while (cfg.steps is None or state.step < cfg.steps) and not state.stopped:
            loss = self._step()
            state.seconds = time.monotonic() - start
            bar.moveto(state.seconds if by_time else state.step, step=state.step, loss=f"{loss:.4f}")
            if state.step % cfg.eval_every == 0 or state.step == cfg.steps:
                self._evaluate()
            if cfg.max_minutes is not None and self._over_time() and not state.stopped:
                if self._losses:
                    self._evaluate()  # the steps since the last evaluation compete too
                state.stopped = state.stopped or self._cut_short()
            if checkpoint is not None and state.step % cfg.checkpoint_every == 0:
                self._checkpoint(checkpoint, fingerprint)
        bar.close()
        state.stopped = state.stopped or f"{cfg.steps} steps done"
        if self.best_weights is not None:
            self.average.load_state_dict(self.best_weights)
        if checkpoint is not None and self.world.is_main:
            checkpoint.unlink(missing_ok=True)
        return state

    def _over_time(self) -> bool:
        """Whether the time cap (set) is spent, on any rank: they stop at the same step."""
        assert self.config.max_minutes is not None
        return self.world.any(self.state.seconds > self.config.max_minutes * 60)

    def _step(self) -> float:
        self.model.train()
        outcome = self.objective.step()
        self.optimizer.step()
        self._schedule_learning_rate()
        if self.average is not self.model:
            with torch.no_grad():
                step = self.state.step
                decay = min(self.config.ema_decay, (1 + step) / (10 + step))
                torch._foreach_lerp_(self._average_params, self._params, 1 - decay)
        self.state.step += 1
        self.state.rows += outcome.rows
        self.state.nodes += outcome.nodes
        self._losses.append(outcome.loss)
        return outcome.loss

    def _evaluate(self) -> None:
        cfg, state = self.config, self.state
        row: dict[str, float] = {"step": state.step}
        row.update(self.world.mean({"loss": float(np.mean(self._losses)), **self.objective.validate(self.average)}))
        row["seconds"] = round(state.seconds, 2)
        self._losses = []
        state.history.append(row)
        log.info("step %d: %s", state.step, ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k != "step"))
        if not cfg.early_stopping:
            return
        score = row.get(cfg.watch, float("nan"))
        if self._improves(score):
            state.best_score, state.best_step, state.bad_evals = score, state.step, 0
            self.best_weights = copy.deepcopy(self.average.state_dict())
            return
        state.bad_evals += 1
        if state.bad_evals >= cfg.patience:
            state.stopped = f"early stopping: {cfg.watch_text} stopped improving"

    def _improves(self, score: float) -> bool:
        best = self.state.best_score
        if math.isnan(score):
            return False
        if best is None:
            return True
        delta = self.config.min_delta
        return score < best - delta if self.config.lower_is_better else score > best + delta

    # ------------------------------------------------------------------------------ budget
    def progress(self) -> float:
        """The share of the budget spent: steps done over ``steps``; when time is the budget (the
        "time" schedule, or no steps) time used over ``max_minutes`` as well, whichever is further."""
        cfg = self.config
        done = self.state.step / cfg.steps if cfg.steps else 0.0
        if cfg.max_minutes and (cfg.decay_over == "time" or not cfg.steps):
            done = max(done, self.state.seconds / (cfg.max_minutes * 60))
        return min(done, 1.0)

    def _schedule_learning_rate(self) -> None:
        if self.config.lr_schedule == "constant":
            return
        factor = max(0.1, 1.0 - self.progress())
        for group, base in zip(self.optimizer.param_groups, self._base_lrs, strict=True):
            group["lr"] = base * factor

    def _budget_text(self) -> str:
        cfg = self.config
        budget = [f"{cfg.steps} steps"] if cfg.steps else []
        if cfg.max_minutes:
            budget.append(f"{cfg.max_minutes:g} minutes")
        return " or ".join(budget)

    def _cut_short(self) -> str:
        """Why training stopped when the time cap ended it, with what that costs."""
        cfg, state = self.config, self.state
        unit = "minute" if cfg.max_minutes == 1 else "minutes"
        if not cfg.steps or cfg.decay_over == "time":
            return f"time budget of {cfg.max_minutes:g} {unit} used"
        state.cut_short = True
        seen = [h[cfg.watch] for h in state.history if cfg.watch in h and np.isfinite(h[cfg.watch])]
        first = next((h["step"] for h in state.history if cfg.watch in h and np.isfinite(h[cfg.watch])), 0)
        watched = f"; {cfg.watch_text} {seen[-1]:.4f} (it was {seen[0]:.4f} at step {first})" if seen else ""
        message = (
            f"time cap of {cfg.max_minutes:g} {unit} reached at step {state.step} of the {cfg.steps} planned "
            f"({state.step / cfg.steps:.1%}){watched}: the model is less trained than the same fit on a faster "
            "or quieter machine; drop the cap or raise it for the full budget"
        )
        log.warning("%s", message)
        return message

    # ------------------------------------------------------------------------------ checkpoints
    def _checkpoint(self, path: Path, fingerprint: str) -> None:
        objective = self.world.gather(self.objective.state_dict())  # every rank's draws, each resumed by its rank
        if not self.world.is_main:
            return
        payload = {
            "model": self.model.state_dict(),
            "average": self.average.state_dict(),
            "best": self.best_weights or {},
            "optimizer": self.optimizer.state_dict(),
            "state": asdict(self.state),
            "losses": self._losses,
            "objective": objective if self.world.is_distributed else objective[0],
            "ranks": self.world.size,
            "fingerprint": fingerprint,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(payload, tmp)
        tmp.replace(path)

    def _resume(self, path: Path, fingerprint: str) -> None:
        directory = path.parent
        device = next((p.device for p in self.model.parameters()), torch.device("cpu"))
        try:
            payload = torch.load(path, weights_only=True, map_location=device)
            readable = isinstance(payload, dict) and "average" in payload
        except Exception:
            readable = False
        if not readable:
            raise CheckpointError(
                f"the checkpoint in '{directory}' cannot be read (damaged, or left by another version of dbtwin); "
                "delete that directory or pass --replace (replace=True) to start afresh"
            )
        if payload.get("fingerprint") != fingerprint:
            raise CheckpointError(
                f"'{directory}' holds the checkpoint of another fit (other data, schema, parameters or seed); "
                "it is not resumed: delete that directory or pass --replace (replace=True) to start afresh"
            )
        ranks = int(payload.get("ranks", 1))
        if ranks != self.world.size:
            raise CheckpointError(
                f"the checkpoint in '{directory}' was left by a fit of {ranks} process(es), not {self.world.size}: "
                "resume it with as many, or pass --replace (replace=True) to start afresh"
            )
        log.warning("resuming the interrupted fit from '%s' at step %d", directory, payload["state"]["step"])
        self.model.load_state_dict(payload["model"])
        self.average.load_state_dict(payload["average"])
        self.best_weights = payload["best"] or None
        self.optimizer.load_state_dict(payload["optimizer"])
        self.state = TrainState(**payload["state"])
        self._losses = list(payload["losses"])
        objective = payload["objective"]
        self.objective.load_state_dict(objective[self.world.rank] if self.world.is_distributed else objective)


__all__ = ["CheckpointError", "LoopConfig", "Objective", "StepOutcome", "TrainState", "TrainingLoop"]
