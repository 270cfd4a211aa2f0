"""Scores of predictions, per task type: ROC-AUC and accuracy (binary), MAE, RMSE and R² (regression),
accuracy and macro-F1 (multiclass). ``primary`` names the score early stopping and reports use."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, r2_score, roc_auc_score

from dbtwin.predict.task import TaskType

PRIMARY = {TaskType.BINARY: "roc_auc", TaskType.REGRESSION: "mae", TaskType.MULTICLASS: "accuracy"}
LOWER_IS_BETTER = {"mae", "rmse", "loss"}


def primary(task_type: TaskType) -> str:
    return PRIMARY[TaskType(task_type)]


def score(task_type: TaskType, labels: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """``predictions``: probabilities of class 1 (binary), values (regression) or per-class
    probabilities, shape (n, classes) (multiclass)."""
    task_type = TaskType(task_type)
    if not len(labels):
        return {}
    if task_type == TaskType.BINARY:
        out = {"accuracy": accuracy_score(labels, predictions >= 0.5)}
        out["roc_auc"] = roc_auc_score(labels, predictions) if len(np.unique(labels)) == 2 else float("nan")
    elif task_type == TaskType.REGRESSION:
        out = {
            "mae": mean_absolute_error(labels, predictions),
            "rmse": float(np.sqrt(np.mean((labels - predictions) ** 2))),
            "r2": r2_score(labels, predictions) if len(labels) > 1 else float("nan"),
        }
    else:
        chosen = predictions.argmax(axis=1)
        out = {"accuracy": accuracy_score(labels, chosen), "macro_f1": f1_score(labels, chosen, average="macro")}
    return {k: round(float(v), 6) for k, v in out.items()}
