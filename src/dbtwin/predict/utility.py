"""RDL utility of a synthetic database: train the GNN on the synthetic database, test it on the real
one's test examples, and compare with the same GNN trained on the real database.

Both models use the same settings and seed, and leave out the same columns: the task's own and the
calendar columns found in the real database (a twin's month need not match its row's time exactly,
so the synthetic model would otherwise keep columns the real one drops). The synthetic model is
validated (early stopping) on the synthetic database's own validation examples, so nothing real
leaks into its training.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dbtwin.database import Database
from dbtwin.predict.metrics import LOWER_IS_BETTER, primary, score
from dbtwin.predict.predictor import Predictor
from dbtwin.predict.task import EntityTask, TaskExamples
from dbtwin.predict.times import calendar_columns, row_times


def rdl_utility(
    real: Database,
    synthetic: Database,
    task: EntityTask,
    real_training: Database | None = None,
    late_validation: float | None = None,
    **predictor_options: Any,
) -> dict[str, Any]:
    """Test scores of the GNN trained on real and on synthetic data, and their ratio on the primary
    score (1.0: the synthetic data teach as much as the real data). The test examples and the rows they
    see are ``real``'s; the real model trains on ``real_training`` (default: ``real``), as the twin was
    fitted on it (a twin fitted on the rows before the validation cut-off has no validation period).
    ``late_validation``: each model early-stops on the latest share of its own training moments
    instead of its database's validation examples (:func:`late_validation_split`)."""
    predictor_options.setdefault("progress", False)
    task = task.dropping(calendar_columns(real, row_times(real, task.row_times)))
    real_examples = task.examples(real)
    test = real_examples.subset("test")
    if not len(test):
        raise ValueError(f"task '{task.name}' has no test examples in the real database")
    training = {
        "train_on_real": (real, real_examples) if real_training is None else (real_training, None),
        "train_on_synthetic": (synthetic, None),
    }
    results: dict[str, Any] = {"task": task.name, "metric": primary(task.task_type), "examples": {}}
    for name, (db, examples) in training.items():
        examples = examples if examples is not None else task.examples(db)
        if late_validation is not None:
            examples = late_validation_split(examples, late_validation)
        if not len(examples.subset("train")):
            raise ValueError(f"task '{task.name}' finds no training examples in the {name.split('_')[-1]} database")
        model = Predictor(**predictor_options).fit(db, task, examples)
        results[name] = score(task.task_type, test.labels, model.predict(real, test))
        results[f"{name}_seconds"] = round(model.history_.seconds, 1)
        results["examples"][name.removeprefix("train_on_")] = examples.summary()
    metric = results["metric"]
    a, b = results["train_on_synthetic"][metric], results["train_on_real"][metric]
    results["ratio"] = round(b / a if metric in LOWER_IS_BETTER else a / b, 6) if a and b else None
    return results


def late_validation_split(examples: TaskExamples, share: float) -> TaskExamples:
    """``examples`` with its training examples of the latest ``share`` of the training moments made
    the validation examples (at least one moment, and one left to train on), the rest as they were;
    its own validation and test examples dropped."""
    if not 0 < share < 1:
        raise ValueError(f"late_validation must lie between 0 and 1, not {share}")
    train = examples.subset("train")
    moments = np.unique(train.times)
    if len(moments) < 2:
        return train
    first_late = moments[min(max(1, round(len(moments) * (1 - share))), len(moments) - 1)]
    split = np.where(train.times >= first_late, "val", "train").astype(object)
    return TaskExamples(train.entity_rows, train.times, train.labels, split, train.classes)
