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


@dataclass
class _Chain:
    """Transitions ``state -> (next states, cumulative probabilities)`` for fast draws."""

    table: dict[str, tuple[list[str], np.ndarray]]

    @classmethod
    def from_counts(cls, counts: dict[str, Counter]) -> _Chain:
        table = {}
        for state, nexts in counts.items():
            keys = list(nexts)
            weights = np.array([nexts[k] for k in keys], dtype=np.float64)
            table[state] = (keys, np.cumsum(weights) / weights.sum())
        return cls(table)

    def step(self, state: str, u: float) -> str | None:
        entry = self.table.get(state)
        if entry is None:
            return None
        keys, cumulative = entry
        return keys[min(int(np.searchsorted(cumulative, u, side="right")), len(keys) - 1)]


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
        self._words = _Chain.from_counts({k: Counter(v) for k, v in self.words.items()})
        self._chars = _Chain.from_counts({k: Counter(v) for k, v in self.chars.items()})

    def sample(self, n: int, rng: np.random.Generator, novel: bool = False) -> list[str]:
        """``n`` values; ``novel`` spells every word anew (for when known words only give real values)."""
        return [self._value(rng, novel) for _ in range(n)]

    def _value(self, rng: np.random.Generator, novel: bool) -> str:
        out: list[str] = []
        state = _START
        for _ in range(MAX_WORDS):
            nxt = self._words.step(state, rng.random())
            if nxt is None or nxt == _END:
                break
            state = nxt
            out.append(self._word(rng) if novel or rng.random() < self.new_word_rate else nxt)
        return " ".join(out) if out else self._word(rng)

    def _word(self, rng: np.random.Generator, max_chars: int = 24) -> str:
        context, out = _START * _ORDER, []
        for _ in range(max_chars):
            ch = self._chars.step(context, rng.random())
            if ch is None or ch == _END:
                break
            out.append(ch)
            context = context[1:] + ch
        return "".join(out) or "x"

    def to_dict(self) -> dict[str, Any]:
        return {"words": self.words, "chars": self.chars, "new_word_rate": self.new_word_rate}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TextModel:
        return cls(dict(data["words"]), dict(data["chars"]), float(data["new_word_rate"]))
