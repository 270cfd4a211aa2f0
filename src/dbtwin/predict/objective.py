"""The predictor's objective for the one training loop (:mod:`dbtwin.nn.loop`): each epoch a fresh
permutation of the training examples (at most ``steps_per_epoch`` batches of it), one batch a step, and
the task's scores of the validation examples."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from dbtwin.nn.loop import StepOutcome
from dbtwin.predict.batches import Batch, GraphInputs
from dbtwin.predict.task import TaskExamples


class TaskObjective:
    """Trains ``model`` by ``loss(batch, labels)``; ``scores(model)`` scores the validation examples."""

    def __init__(
        self,
        model: nn.Module,
        loss: Callable[[Batch, torch.Tensor], torch.Tensor],
        scores: Callable[[nn.Module], dict[str, float]],
        inputs: GraphInputs,
        train: TaskExamples,
        val: TaskExamples,
        steps_per_epoch: int,
        batch_size: int,
        rng: np.random.Generator,
    ) -> None:
        self.model, self.loss, self.scores = model, loss, scores
        self.inputs, self.train, self.val, self.rng = inputs, train, val, rng
        self.batch_size = batch_size
        #: steps of one epoch: one pass over the training examples, or ``steps_per_epoch`` batches of them
        self.per_epoch = -(-min(len(train), steps_per_epoch * batch_size) // batch_size)
        self._batches: list[np.ndarray] = []

    def step(self) -> StepOutcome:
        if not self._batches:
            size = self.batch_size
            order = self.rng.permutation(len(self.train))[: self.per_epoch * size]
            self._batches = [np.sort(order[i : i + size]) for i in range(0, len(order), size)][::-1]
        idx = self._batches.pop()
        batch = self.inputs.batch(self.train.entity_rows[idx], self.train.times[idx], int(self.rng.integers(2**31)))
        loss = self.loss(batch, torch.from_numpy(self.train.labels[idx]))
        self.model.zero_grad(set_to_none=True)
        loss.backward()
        return StepOutcome(loss.item(), len(idx), batch.num_nodes)

    def validate(self, model: nn.Module) -> dict[str, float]:
        if not len(self.val):
            return {}
        return {f"val_{k}": v for k, v in self.scores(model).items()}

    def state_dict(self) -> dict[str, Any]:
        """Nothing: the predictor trains without checkpoints (its loop is given none to resume)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Nothing to restore (see :meth:`state_dict`)."""


__all__ = ["TaskObjective"]
