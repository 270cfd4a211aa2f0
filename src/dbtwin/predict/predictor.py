"""Fit, apply, score, save and load the relational GNN on an entity task.

Training draws mini-batches of training examples, samples each one's temporal neighbourhood, and
minimises binary cross-entropy (binary), L1 on standardised labels (regression, as RelBench) or
cross-entropy (multiclass), by the one training loop (:mod:`dbtwin.nn.loop`, the objective in
:mod:`dbtwin.predict.objective`). After every epoch the validation examples are scored with an
exponential moving average of the weights (smoother than the raw weights, whose validation score jumps
from epoch to epoch); training stops when the primary score has not improved for ``patience`` epochs (or
at ``max_epochs`` / ``max_minutes``), and the best epoch's averaged weights are kept. Everything is
seeded by ``random_state``.

A fitted predictor is saved as ``config.json`` (task, settings, encoder, model layout, history) plus
``weights.pt`` (a state dict, loaded with ``weights_only``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from dbtwin.atomic import atomic_directory
from dbtwin.database import Database
from dbtwin.errors import DbtwinError
from dbtwin.nn.denoiser import TableSpec
from dbtwin.nn.loop import LoopConfig, TrainingLoop, TrainState
from dbtwin.predict.batches import GraphInputs, reachable_tables
from dbtwin.predict.encoder import RowEncoder
from dbtwin.predict.metrics import LOWER_IS_BETTER, primary, score
from dbtwin.predict.model import RelationalGNN
from dbtwin.predict.objective import TaskObjective
from dbtwin.predict.task import SPLITS, EntityTask, TaskExamples, TaskType
from dbtwin.predict.text import FinetunedText, TextEmbedder, token_states

log = logging.getLogger(__name__)

MODEL_FORMAT = "dbtwin-predictor"
MODEL_VERSION = 1


@dataclass
class FitHistory:
    epochs: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    seconds: float = 0.0
    stopped: str = ""


class Predictor:
    """A heterogeneous GraphSAGE over temporal neighbourhoods, for one :class:`EntityTask`.

    Args:
        hidden: width of the row states.
        num_layers: GraphSAGE layers, also the hops sampled (K).
        max_neighbors: neighbours kept per row, edge type and hop (the most recent ones): one number for
            every hop, or one per hop (a list shorter than the hops repeats its last number for the rest).
        batch_size: examples per step.
        lr, weight_decay: AdamW settings.
        max_epochs, patience: early stopping on the validation score.
        steps_per_epoch: cap on the training steps of one epoch (large tasks see a fresh sample of
            their examples each epoch).
        max_minutes: cap on the training time.
        use_text: embed text columns with MiniLM (the hybrid model). Off by default: on five of the six
            benchmark tasks the GNN without text scored as well or better (rel-f1 driver-dnf test ROC-AUC
            0.830 against 0.804, driver-position MAE 2.64 against 2.99; docs/predict.md).
        finetune_text_layers: train a copy of MiniLM's last layers on the task (0: frozen embeddings);
            above 0 it embeds text columns whatever ``use_text`` says.
        text_lr: learning rate of those layers.
        text_cache: folder for cached text embeddings.
        random_state: seed of the weights, the batches and the neighbour draws.
        progress: show a progress bar.
        num_bins: quantile bins per numeric column, embedded beside its standardised value (0: none).
        max_categories: most frequent values of a categorical column that get their own code.
        dropout: dropout of the prediction head.
        ema_decay: decay of an exponential moving average of the weights; the average is what is
            validated and kept (0: the raw weights).
        message_passing: "sage" (a ``SAGEConv`` per edge type, the default) or "relational" (the
            denoiser's layer: one sparse product and one scatter-max per layer for all edge types). On
            the three bundled tasks the two score alike, but the relational layer costs about twice
            as much per step on the predictor's temporal batches (docs/prediction.md).
    """

    def __init__(
        self,
        hidden: int = 64,
        num_layers: int = 2,
        max_neighbors: int | list[int] = (16, 8),  # type: ignore[assignment]
        batch_size: int = 256,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        max_epochs: int = 30,
        patience: int = 4,
        steps_per_epoch: int = 100,
        max_minutes: float | None = None,
        use_text: bool = False,
        finetune_text_layers: int = 0,
        text_lr: float = 1e-4,
        text_cache: str | Path | None = None,
        random_state: int = 0,
        progress: bool = True,
        num_bins: int = 0,
        max_categories: int = 64,
        dropout: float = 0.1,
        ema_decay: float = 0.98,
        message_passing: str = "sage",
    ) -> None:
        self.hidden = hidden
        self.num_layers = num_layers
        self.max_neighbors = max_neighbors
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.patience = patience
        self.steps_per_epoch = steps_per_epoch
        self.max_minutes = max_minutes
        self.use_text = use_text or finetune_text_layers > 0
        self.finetune_text_layers = finetune_text_layers
        self.text_lr = text_lr
        self.text_cache = text_cache
        self.random_state = random_state
        self.progress = progress
        self.num_bins = num_bins
        self.max_categories = max_categories
        self.dropout = dropout
        self.ema_decay = ema_decay
        self.message_passing = message_passing

    def _params(self) -> dict[str, Any]:
        return {
            "hidden": self.hidden,
            "num_layers": self.num_layers,
            "max_neighbors": list(self.max_neighbors)
            if not isinstance(self.max_neighbors, int)
            else self.max_neighbors,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "max_epochs": self.max_epochs,
            "patience": self.patience,
            "steps_per_epoch": self.steps_per_epoch,
            "max_minutes": self.max_minutes,
            "use_text": self.use_text,
            "finetune_text_layers": self.finetune_text_layers,
            "text_lr": self.text_lr,
            "random_state": self.random_state,
            "num_bins": self.num_bins,
            "max_categories": self.max_categories,
            "dropout": self.dropout,
            "ema_decay": self.ema_decay,
            "message_passing": self.message_passing,
        }

    # ------------------------------------------------------------------------------ fitting
    def fit(self, db: Database, task: EntityTask, examples: TaskExamples | None = None) -> Predictor:
        """Train on ``task``'s training examples in ``db``, stopping early on its validation examples."""
        started = time.monotonic()
        torch.manual_seed(self.random_state)
        self.task_ = task
        examples = examples if examples is not None else task.examples(db)
        train, val = examples.subset("train"), examples.subset("val")
        if not len(train):
            raise DbtwinError(f"task '{task.name}' has no training examples before {task.val_timestamp}")
        self.classes_ = list(examples.classes)
        self.encoder_ = RowEncoder(self.max_categories, self.use_text, TextEmbedder(self.text_cache), self.num_bins)
        self.encoder_.fit_task(db, task)
        inputs = self._inputs(db)
        self.label_mean_, self.label_std_ = 0.0, 1.0
        if task.task_type == TaskType.REGRESSION:
            self.label_mean_, self.label_std_ = float(train.labels.mean()), float(train.labels.std()) or 1.0
        self.model_ = self._build(inputs)
        objective = TaskObjective(
            self.model_,
            lambda batch, labels: self._loss(self._forward(batch), labels),
            lambda model: score(task.task_type, val.labels, self._predict(inputs, val, model)),
            inputs,
            train,
            val,
            self.steps_per_epoch,
            self.batch_size,
            np.random.default_rng(self.random_state),
        )
        loop = TrainingLoop(self.model_, objective, self._optimizer(), self._loop_config(len(val), objective.per_epoch))
        state = loop.run(progress=self.progress)
        if loop.average is not self.model_:
            self.model_.load_state_dict(loop.average.state_dict())
        self.history_ = _history(state, objective.per_epoch)
        self.history_.seconds = time.monotonic() - started
        return self

    def _optimizer(self) -> torch.optim.Optimizer:
        """AdamW; a fine-tuned text tower at its own learning rate."""
        tower = set(self.model_.text_tower.parameters()) if self.model_.text_tower is not None else set()
        groups = [{"params": [p for p in self.model_.parameters() if p not in tower]}]
        if tower:
            groups.append({"params": list(tower), "lr": self.text_lr})
        return torch.optim.AdamW(groups, lr=self.lr, weight_decay=self.weight_decay)

    def _loop_config(self, validation_examples: int, per_epoch: int) -> LoopConfig:
        """An evaluation each epoch, early stopping on the primary validation score (without
        validation examples, on the training loss), a constant learning rate."""
        metric = primary(self.task_.task_type)
        watch = f"val_{metric}" if validation_examples else "loss"
        return LoopConfig(
            steps=self.max_epochs * per_epoch,
            max_minutes=self.max_minutes,
            ema_decay=self.ema_decay,
            eval_every=per_epoch,
            patience=self.patience,
            watch=watch,
            watch_text=f"validation {metric}" if validation_examples else "the training loss",
            lower_is_better=(metric if validation_examples else "loss") in LOWER_IS_BETTER,
            lr_schedule="constant",
            desc=f"fit {self.task_.name}",
        )

    def _inputs(self, db: Database) -> GraphInputs:
        states = {}
        if self.use_text and self.finetune_text_layers:
            embedder = self.encoder_.embedder
            for table in reachable_tables(db.schema, self.task_.entity_table, self.num_layers):
                enc = self.encoder_.tables[table]
                if enc.text:
                    states[table] = [
                        token_states(embedder, db[table][col], self.finetune_text_layers) for col in enc.text
                    ]
        return GraphInputs(
            db,
            self.encoder_,
            self.task_.entity_table,
            self.task_.row_times,
            self.num_layers,
            per_hop(self.max_neighbors, self.num_layers),
            text_states=states,
        )

    def _build(self, inputs: GraphInputs) -> RelationalGNN:
        tables = {t: TableSpec(e.num_numeric, e.cardinalities) for t, e in self.encoder_.tables.items()}
        text_dims = {t: e.text_dim for t, e in self.encoder_.tables.items()}
        out_dim = len(self.classes_) if self.task_.task_type == TaskType.MULTICLASS else 1
        tower = None
        if self.use_text and self.finetune_text_layers and any(text_dims.values()):
            tower = FinetunedText(self.finetune_text_layers, self.encoder_.embedder)
        return RelationalGNN(
            tables,
            text_dims,
            sorted(inputs.times),
            inputs.graph.edge_types(),
            out_dim,
            self.hidden,
            self.num_layers,
            dropout=self.dropout,
            text_tower=tower,
            message_passing=self.message_passing,
        )

    def _forward(self, batch, model: RelationalGNN | None = None) -> torch.Tensor:
        return (model or self.model_)(
            batch.numeric,
            batch.codes,
            batch.text,
            batch.age_days,
            batch.edge_index,
            self.task_.entity_table,
            batch.seed_local,
            batch.text_tokens,
        )

    def _loss(self, out: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        kind = self.task_.task_type
        if kind == TaskType.BINARY:
            return nn.functional.binary_cross_entropy_with_logits(out.squeeze(-1), labels.float())
        if kind == TaskType.REGRESSION:
            return nn.functional.l1_loss(out.squeeze(-1), (labels.float() - self.label_mean_) / self.label_std_)
        return nn.functional.cross_entropy(out, labels.long())

    # ------------------------------------------------------------------------------ applying
    @torch.no_grad()
    def _predict(
        self, inputs: GraphInputs, examples: TaskExamples, model: RelationalGNN | None = None, batch_size: int = 1024
    ) -> np.ndarray:
        model = model or self.model_
        model.eval()
        parts = []
        for start in range(0, len(examples), batch_size):
            sl = slice(start, start + batch_size)
            out = self._forward(inputs.batch(examples.entity_rows[sl], examples.times[sl], random_state=0), model)
            kind = self.task_.task_type
            if kind == TaskType.BINARY:
                parts.append(torch.sigmoid(out.squeeze(-1)).numpy())
            elif kind == TaskType.REGRESSION:
                parts.append(out.squeeze(-1).numpy() * self.label_std_ + self.label_mean_)
            else:
                parts.append(torch.softmax(out, dim=-1).numpy())
        if not parts:
            return np.zeros(0)
        return np.concatenate(parts)

    def predict(self, db: Database, examples: TaskExamples) -> np.ndarray:
        """Probabilities (binary: of class 1; multiclass: per class) or values, one per example."""
        self._check_fitted()
        return self._predict(self._inputs(db), examples)

    def evaluate(self, db: Database, examples: TaskExamples | None = None) -> dict[str, dict[str, float]]:
        """Scores per split of the task's examples on ``db`` (by default computed from ``db``)."""
        self._check_fitted()
        examples = examples if examples is not None else self.task_.examples(db)
        inputs = self._inputs(db)
        out = {}
        for split in SPLITS:
            part = examples.subset(split)
            if len(part):
                out[split] = score(self.task_.task_type, part.labels, self._predict(inputs, part))
        return out

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise DbtwinError("this Predictor is not fitted yet: call fit(db, task) or Predictor.load(directory)")

    # ------------------------------------------------------------------------------ persistence
    def save(self, directory: str | Path, replace: bool = False) -> None:
        self._check_fitted()
        with atomic_directory(Path(directory), replace=replace) as tmp:
            torch.save(self.model_.state_dict(), tmp / "weights.pt")
            config = {
                "format": MODEL_FORMAT,
                "version": MODEL_VERSION,
                "params": self._params(),
                "task": self.task_.to_dict(),
                "classes": [_plain(c) for c in self.classes_],
                "labels": {"mean": self.label_mean_, "std": self.label_std_},
                "encoder": self.encoder_.to_dict(),
                "model": self.model_.config(),
                "history": {
                    "epochs": self.history_.epochs,
                    "best_epoch": self.history_.best_epoch,
                    "seconds": round(self.history_.seconds, 2),
                    "stopped": self.history_.stopped,
                },
            }
            (tmp / "config.json").write_text(json.dumps(config, indent=1) + "\n")

    @classmethod
    def load(cls, directory: str | Path, text_cache: str | Path | None = None) -> Predictor:
        directory = Path(directory)
        path = directory / "config.json"
        if not path.exists():
            raise DbtwinError(f"'{directory}' holds no dbtwin predictor (no config.json)")
        config = json.loads(path.read_text())
        if config.get("format") != MODEL_FORMAT or config.get("version") != MODEL_VERSION:
            raise DbtwinError(f"'{directory}' is not a dbtwin predictor of version {MODEL_VERSION}")
        pred = cls(**config["params"], text_cache=text_cache, progress=False)
        pred.task_ = EntityTask.from_dict(config["task"])
        pred.classes_ = config["classes"]
        pred.label_mean_, pred.label_std_ = config["labels"]["mean"], config["labels"]["std"]
        pred.encoder_ = RowEncoder.from_dict(config["encoder"], TextEmbedder(text_cache))
        pred.model_ = RelationalGNN.from_config(config["model"])
        pred.message_passing = pred.model_.message_passing  # a predictor saved before the choice: "sage"
        pred.model_.load_state_dict(torch.load(directory / "weights.pt", weights_only=True))
        history = config["history"]
        pred.history_ = FitHistory(history["epochs"], history["best_epoch"], history["seconds"], history["stopped"])
        return pred


def per_hop(max_neighbors: int | Sequence[int], num_layers: int) -> int | list[int]:
    """``max_neighbors`` as the sampler takes it for ``num_layers`` hops: a number as it is, a list cut
    to the hops or lengthened with its last number (the default ``(16, 8)`` gives 16, 8, 8 for three)."""
    if isinstance(max_neighbors, int):
        return max_neighbors
    caps = list(max_neighbors)
    if not caps:
        raise ValueError("max_neighbors needs at least one number")
    return (caps + [caps[-1]] * num_layers)[: max(num_layers, 1)]


def _history(state: TrainState, per_epoch: int) -> FitHistory:
    """The loop's evaluations as epochs (the last one partial when the time cap ended training)."""
    epochs = [
        {
            "epoch": -(-int(row["step"]) // per_epoch) - 1,
            **{k: v for k, v in row.items() if k not in ("step", "seconds")},
        }
        for row in state.history
    ]
    best = next((i for i, row in enumerate(state.history) if row["step"] == state.best_step), -1)
    return FitHistory(epochs, best, state.seconds, state.stopped)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
