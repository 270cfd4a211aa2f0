"""The GNN predictor on Chinook: it learns the purchase rhythm that the customer's own columns
cannot show, is deterministic, saves and loads, and handles regression and multiclass tasks."""

from __future__ import annotations

import numpy as np
import pytest

from dbtwin.errors import DbtwinError
from dbtwin.predict import EntityTask
from dbtwin.predict.baselines import run_baseline
from dbtwin.predict.predictor import Predictor

from .conftest import CHINOOK_CHURN

SMALL = {"hidden": 32, "max_epochs": 15, "steps_per_epoch": 20, "batch_size": 128, "progress": False}


@pytest.fixture(scope="module")
def chinook_gnn(chinook):
    task = EntityTask.from_dict(dict(CHINOOK_CHURN))
    return Predictor(use_text=False, **SMALL).fit(chinook, task)


def test_history_beats_the_customer_row(chinook, chinook_gnn):
    task = chinook_gnn.task_
    gnn = chinook_gnn.evaluate(chinook)["test"]["roc_auc"]
    entity = run_baseline(chinook, task, "entity", num_threads=1)["scores"]["test"]["roc_auc"]
    assert gnn > 0.7 and gnn > entity + 0.2


def test_fit_is_deterministic(chinook, chinook_gnn):
    short = {**SMALL, "max_epochs": 2}
    one = Predictor(use_text=False, **short).fit(chinook, chinook_gnn.task_)
    two = Predictor(use_text=False, **short).fit(chinook, chinook_gnn.task_)
    other = Predictor(use_text=False, random_state=1, **short).fit(chinook, chinook_gnn.task_)
    examples = chinook_gnn.task_.examples(chinook).subset("test")
    np.testing.assert_array_equal(one.predict(chinook, examples), two.predict(chinook, examples))
    assert not np.allclose(one.predict(chinook, examples), other.predict(chinook, examples))


def test_save_load_gives_the_same_predictions(chinook, chinook_gnn, tmp_path):
    chinook_gnn.save(tmp_path / "model")
    with pytest.raises(DbtwinError, match="already holds files"):
        chinook_gnn.save(tmp_path / "model")
    loaded = Predictor.load(tmp_path / "model")
    examples = chinook_gnn.task_.examples(chinook).subset("val")
    np.testing.assert_allclose(loaded.predict(chinook, examples), chinook_gnn.predict(chinook, examples), rtol=1e-6)
    assert loaded.history_.best_epoch == chinook_gnn.history_.best_epoch


def test_text_columns_are_embedded_and_cached(chinook, tmp_path):
    task = EntityTask.from_dict(dict(CHINOOK_CHURN))
    model = Predictor(use_text=True, text_cache=tmp_path, **{**SMALL, "max_epochs": 1}).fit(chinook, task)
    assert model.encoder_.tables["customer"].text  # names, addresses, e-mails ...
    assert model.model_.text_dims["customer"] == 384 * len(model.encoder_.tables["customer"].text)
    cached = sorted(p.name for p in tmp_path.iterdir())
    assert any(name.startswith("customer.first_name-") for name in cached)
    Predictor(use_text=True, text_cache=tmp_path, **{**SMALL, "max_epochs": 1}).fit(chinook, task)
    assert sorted(p.name for p in tmp_path.iterdir()) == cached  # read back, not embedded again


def test_regression_and_multiclass(chinook):
    spend = (
        "SELECT c.customer_id AS entity, t.timestamp AS timestamp, "
        "(SELECT COALESCE(SUM(i.total), 0) FROM invoice i WHERE i.customer_id = c.customer_id "
        "AND i.invoice_date > t.timestamp AND i.invoice_date <= t.timestamp + INTERVAL {window_days} DAY) AS label "
        "FROM timestamps t CROSS JOIN customer c"
    )
    task = EntityTask.from_dict({**CHINOOK_CHURN, "task_type": "regression", "query": spend})
    short = {**SMALL, "max_epochs": 2}
    scores = Predictor(use_text=False, **short).fit(chinook, task).evaluate(chinook)
    assert set(scores) == {"train", "val", "test"} and scores["test"]["mae"] > 0
    count = spend.replace("COALESCE(SUM(i.total), 0)", "LEAST(COUNT(*), 2)")
    task = EntityTask.from_dict({**CHINOOK_CHURN, "task_type": "multiclass", "query": count})
    model = Predictor(use_text=False, **short).fit(chinook, task)
    assert model.classes_ == [0, 1, 2]
    probs = model.predict(chinook, task.examples(chinook).subset("test"))
    assert probs.shape[1] == 3 and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert 0 <= model.evaluate(chinook)["test"]["accuracy"] <= 1


def test_finetuned_text_layers(chinook, tmp_path):
    import torch

    from dbtwin.predict.text import FinetunedText, TextEmbedder, token_states

    embedder = TextEmbedder(tmp_path / "cache")
    values = chinook["customer"]["first_name"]
    states = token_states(embedder, values, layers=1)
    untrained = FinetunedText(1, embedder)
    with torch.no_grad():
        vectors = untrained(torch.from_numpy(states.states), torch.from_numpy(states.mask)).numpy()
    np.testing.assert_allclose(vectors[states.index], embedder.embed_column(values, "customer.first_name"), atol=1e-5)

    task = EntityTask.from_dict(dict(CHINOOK_CHURN))
    quick = {**SMALL, "max_epochs": 1, "steps_per_epoch": 3, "batch_size": 32}
    model = Predictor(finetune_text_layers=1, text_cache=tmp_path / "cache", **quick)
    model.fit(chinook, task)
    before, after = untrained.state_dict(), model.model_.text_tower.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)  # the copied layer was trained
    model.save(tmp_path / "model")
    loaded = Predictor.load(tmp_path / "model")
    examples = task.examples(chinook).subset("test")
    np.testing.assert_allclose(loaded.predict(chinook, examples), model.predict(chinook, examples), rtol=1e-5)


def test_the_kept_weights_are_the_validated_average(chinook, chinook_gnn):
    history = chinook_gnn.history_
    best = history.epochs[history.best_epoch]["val_roc_auc"]
    assert best == max(e["val_roc_auc"] for e in history.epochs)
    assert chinook_gnn.evaluate(chinook)["val"]["roc_auc"] == pytest.approx(best, abs=1e-9)
    raw = Predictor(use_text=False, ema_decay=0.0, **{**SMALL, "max_epochs": 2})
    averaged = Predictor(use_text=False, **{**SMALL, "max_epochs": 2})
    examples = chinook_gnn.task_.examples(chinook).subset("val")
    one = raw.fit(chinook, chinook_gnn.task_).predict(chinook, examples)
    two = averaged.fit(chinook, chinook_gnn.task_).predict(chinook, examples)
    assert not np.allclose(one, two)


def test_neighbour_caps_follow_the_layers(chinook):
    from dbtwin.predict.predictor import per_hop

    assert per_hop((16, 8), 2) == [16, 8] and per_hop((16, 8), 3) == [16, 8, 8] and per_hop((16, 8), 1) == [16]
    assert per_hop(12, 3) == 12
    task = EntityTask.from_dict(dict(CHINOOK_CHURN))
    three = Predictor(num_layers=3, **{**SMALL, "max_epochs": 1, "steps_per_epoch": 2}).fit(chinook, task)
    assert three.model_.num_layers == 3 and len(three.history_.epochs) == 1
