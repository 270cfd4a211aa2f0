"""The free-text model: seeded, serialisable, and writing like the column it was trained on."""

from __future__ import annotations

import json

import numpy as np

from dbtwin.semantic.text_model import TextModel


def test_text_model_is_seeded_and_round_trips_json(chinook):
    titles = [str(v) for v in chinook["album"]["title"]]
    model = TextModel.fit(titles)
    again = TextModel.from_dict(json.loads(json.dumps(model.to_dict())))
    a = model.sample(50, np.random.default_rng(4))
    assert a == again.sample(50, np.random.default_rng(4))
    assert all(isinstance(v, str) and v.strip() for v in a)


def test_text_model_writes_like_its_column(chinook):
    titles = [str(v) for v in chinook["track"]["name"]]
    model = TextModel.fit(titles)
    drawn = model.sample(2_000, np.random.default_rng(0))
    real_words = np.mean([len(v.split()) for v in titles])
    drawn_words = np.mean([len(v.split()) for v in drawn])
    assert abs(drawn_words - real_words) < 0.5 * real_words
    assert len(set(drawn)) > 0.5 * len(drawn)  # varied, not a few values repeated
    novel = model.sample(200, np.random.default_rng(1), novel=True)
    vocabulary = {w for v in titles for w in v.split()}
    assert np.mean([all(w in vocabulary for w in v.split()) for v in novel]) < 0.5  # new words spelled


def test_walks_follow_the_chain_probabilities():
    """Every walk of a batch steps at once: each value still follows the word chain's probabilities,
    stops at its end, and a state no chain continues ends the value after its word."""
    start, end = "\x02", "\x03"
    words = {start: {"a": 4}, "a": {"b": 3, "c": 1}, "b": {end: 1}, "c": {"d": 1}}  # 'd' continues nothing
    model = TextModel(words, {start * 3: {"z": 1}, "\x02\x02z": {end: 1}}, new_word_rate=0.0)
    drawn = model.sample(8_000, np.random.default_rng(0))
    assert set(drawn) == {"a b", "a c d"}
    assert abs(drawn.count("a b") / len(drawn) - 0.75) < 0.02
    novel = model.sample(50, np.random.default_rng(1), novel=True)  # every word spelled: 'z'
    assert {v for v in novel} == {"z z", "z z z"}
