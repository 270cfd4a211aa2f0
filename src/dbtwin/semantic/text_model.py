"""A small text model of one free-text column (titles, names of things, comments), trained in a
fraction of a second on the CPU: a word chain (which word follows which, and which ends a value) over
the column's values, and a character chain over its words for the new words a chain of known words
cannot give (single-word titles, band names).

A value is drawn as a walk of the word chain; with probability ``new_word_rate`` (the share of the
column's words that are seen once) a word is replaced by one the character chain spells. The caller
filters what comes out (:func:`dbtwin.semantic.plan`): no real value seen fewer than
``text_min_count`` times is ever returned.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

_START, _END = "\x02", "\x03"
_ORDER = 3  # characters of context of the character chain
MAX_WORDS = 40
#: values drawn together (each holds ``MAX_WORDS`` draws while its batch is drawn)
BATCH = 50_000


@dataclass
class _Chain:
    """A chain's transitions for many walks at once. Each state has its edges, each edge a token it
    emits (``-1``: the end of the walk, nothing emitted) and a state it leads to (``-1``: the walk ends
    after the token). ``key`` holds, per edge, its state's id plus its cumulative probability within
    the state, so one sorted search draws the next edge of every walk. ``spelling[i]`` is token
    ``i``, and ``spelling[-1]`` the empty string, so a walk's tokens index it directly."""

    spelling: np.ndarray
    states: dict[str, int]
    key: np.ndarray
    first: np.ndarray
    emit: np.ndarray
    target: np.ndarray

    @classmethod
    def from_counts(cls, counts: dict[str, dict[str, int]], following) -> _Chain:
        """``counts[state][token]``; ``following(state, token)`` the state a token leads to."""
        states = {state: i for i, state in enumerate(counts)}
        tokens = sorted({t for nexts in counts.values() for t in nexts if t != _END})
        token_ids = {t: i for i, t in enumerate(tokens)}
        key, emit, target, first = [], [], [], [0]
        for i, (state, nexts) in enumerate(counts.items()):
            weights = np.array(list(nexts.values()), dtype=np.float64)
            cumulative = np.cumsum(weights) / weights.sum()
            cumulative[-1] = 1.0
            key.extend(i + cumulative)
            emit.extend(token_ids.get(t, -1) for t in nexts)
            target.extend(-1 if t == _END else states.get(following(state, t), -1) for t in nexts)
            first.append(len(key))
        return cls(
            np.array([*tokens, ""], dtype=object),
            states,
            np.array(key, dtype=np.float64),
            np.array(first, dtype=np.int64),
            np.array(emit, dtype=np.int64),
            np.array(target, dtype=np.int64),
        )

    def walk(self, n: int, start: str, max_steps: int, rng: np.random.Generator) -> np.ndarray:
        """The tokens ``n`` walks from ``start`` emit (``n x max_steps``, ``-1`` after a walk's end)."""
        out = np.full((n, max_steps), -1, dtype=np.int64)
        state = np.full(n, self.states.get(start, -1), dtype=np.int64)
        live = np.flatnonzero(state >= 0)
        for step in range(max_steps):
            if not len(live):
                break
            now = state[live]
            edge = np.searchsorted(self.key, now + rng.random(len(live)), side="right")
            edge = np.clip(edge, self.first[now], self.first[now + 1] - 1)
            out[live, step] = self.emit[edge]
            state[live] = self.target[edge]
            live = live[(self.emit[edge] >= 0) & (self.target[edge] >= 0)]
        return out


@dataclass
class TextModel:
    """Word and character transition counts of one column (JSON-serialisable)."""

    words: dict[str, dict[str, int]]
    chars: dict[str, dict[str, int]]
    new_word_rate: float

    @classmethod
    def fit(cls, values: list[str]) -> TextModel:
        words: dict[str, Counter] = defaultdict(Counter)
        chars: dict[str, Counter] = defaultdict(Counter)
        seen: Counter = Counter()
        for value in values:
            tokens = value.split()
            if not tokens:
                continue
            for prev, nxt in zip([_START, *tokens], [*tokens, _END], strict=True):
                words[prev][nxt] += 1
            seen.update(tokens)
        for word in seen:
            padded = _START * _ORDER + word + _END
            for i in range(_ORDER, len(padded)):
                chars[padded[i - _ORDER : i]][padded[i]] += 1
        singles = sum(1 for c in seen.values() if c == 1)
        rate = singles / max(sum(seen.values()), 1)
        return cls({k: dict(v) for k, v in words.items()}, {k: dict(v) for k, v in chars.items()}, round(rate, 4))

    def __post_init__(self) -> None:
        self._words = _Chain.from_counts(self.words, lambda _, word: word)
        self._chars = _Chain.from_counts(self.chars, lambda context, ch: context[1:] + ch)

    def sample(self, n: int, rng: np.random.Generator, novel: bool = False) -> list[str]:
        """``n`` values; ``novel`` spells every word anew (for when known words only give real values).
        Drawn ``BATCH`` values at a time, every walk of a batch one step at a time."""
        out: list[str] = []
        for start in range(0, n, BATCH):
            out.extend(self._values(min(BATCH, n - start), rng, novel))
        return out

    def _values(self, n: int, rng: np.random.Generator, novel: bool) -> list[str]:
        walks = self._words.walk(n, _START, MAX_WORDS, rng)
        emitted = walks >= 0
        spelled = emitted & (rng.random(walks.shape) < (1.0 if novel else self.new_word_rate))
        spelled[~emitted.any(axis=1), 0] = True  # a value of no word: one spelled word
        words = self._words.spelling[walks]
        words[spelled] = self._spelled(int(spelled.sum()), rng)
        return [
            " ".join(row[: count or 1]) for row, count in zip(words.tolist(), emitted.sum(axis=1).tolist(), strict=True)
        ]

    def _spelled(self, n: int, rng: np.random.Generator, max_chars: int = 24) -> list[str]:
        """``n`` words spelled by the character chain."""
        if not n:
            return []
        chars = self._chars.spelling[self._chars.walk(n, _START * _ORDER, max_chars, rng)]
        return ["".join(word) or "x" for word in chars.tolist()]

    def to_dict(self) -> dict[str, Any]:
        return {"words": self.words, "chars": self.chars, "new_word_rate": self.new_word_rate}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextModel:
        return cls(dict(data["words"]), dict(data["chars"]), float(data["new_word_rate"]))
