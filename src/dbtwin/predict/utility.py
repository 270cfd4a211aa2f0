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

from dbtwin.database import Database
from dbtwin.predict.metrics import LOWER_IS_BETTER, primary, score
from dbtwin.predict.predictor import Predictor
from dbtwin.predict.task import EntityTask
from dbtwin.predict.times import calendar_columns, row_times


def rdl_utility(real: Database, synthetic: Database, task: EntityTask, **predictor_options: Any) -> dict[str, Any]:
    """Test scores of the GNN trained on real and on synthetic data, and their ratio on the primary
    score (1.0: the synthetic data teach as much as the real data)."""
    predictor_options.setdefault("progress", False)
    task = task.dropping(calendar_columns(real, row_times(real, task.row_times)))
    real_examples = task.examples(real)
    test = real_examples.subset("test")
    if not len(test):
        raise ValueError(f"task '{task.name}' has no test examples in the real database")
    synthetic_examples = task.examples(synthetic)
    if not len(synthetic_examples.subset("train")):
        raise ValueError(f"task '{task.name}' finds no training examples in the synthetic database")
    results: dict[str, Any] = {"task": task.name, "metric": primary(task.task_type)}
    for name, db, examples in (
        ("train_on_real", real, real_examples),
        ("train_on_synthetic", synthetic, synthetic_examples),
    ):
        model = Predictor(**predictor_options).fit(db, task, examples)
        results[name] = score(task.task_type, test.labels, model.predict(real, test))
        results[f"{name}_seconds"] = round(model.history_.seconds, 1)
    metric = results["metric"]
    a, b = results["train_on_synthetic"][metric], results["train_on_real"][metric]
    results["ratio"] = round(b / a if metric in LOWER_IS_BETTER else a / b, 6) if a and b else None
    results["examples"] = {"real": real_examples.summary(), "synthetic": synthetic_examples.summary()}
    return results
