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
