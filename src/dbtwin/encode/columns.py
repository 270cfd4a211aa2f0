"""Column encoders: each turns one column into model features and back, with JSON-serialisable state.

* :class:`NumericEncoder`: quantile-to-normal score, integer kind and decimals restored, range clipped;
  missing values and infinities become a separate categorical feature (a flag: value, NULL, +inf,
  -inf, those that occur) plus a filled score of 0, so no infinity turns into NULL.
* :class:`CategoricalEncoder`: codes for masked diffusion; a missing value is a category of its own.
  For text, identifier-like strings and (protecting rare categories) categoricals only values seen
  at least ``min_count`` times become categories; the rest share an "other" code, sampled as a
  placeholder of the same shape (letters, digits and punctuation where the real values have them)
  that :mod:`dbtwin.semantic.plan` fills in, or for a non-string column as a frequent category, so
  no rare real value is copied.
* :class:`ConstantEncoder`: a column with one value is kept aside and restored.
"""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from dbtwin.encode.quantile import QuantileNormal

MAX_DECIMALS = 6
#: The largest float64 that is an int64.
_LARGEST_INT64_FLOAT = float(np.nextafter(2.0**63, 0))
#: The ASCII characters as :func:`_shape` writes them: digits 9, letters A or a, the rest themselves.
_ASCII_SHAPES = str.maketrans(
    {c: "9" if c.isdigit() else ("A" if c.isupper() else "a") if c.isalpha() else c for c in map(chr, range(128))}
)


@dataclass
class NumericEncoder:
    """A numeric (or datetime-offset) column as one normal score plus an optional flag: code 0 is a
    finite value, the next codes stand for NULL (``has_missing``) and then each of ``infinities``."""

    column: str
    quantile: QuantileNormal
    integer: bool
    decimals: int | None
    lower: float
    upper: float
    has_missing: bool
    infinities: list[float] = field(default_factory=list)
    #: a power of two the values are multiplied by before the quantile transform, so that the
    #: differences it takes cannot overflow (values near 1.8e308)
    scale: float = 1.0
    #: the column holds NaN as a value apart from NULL
    nan: bool = False

    @classmethod
    def fit(
        cls, column: str, values: np.ndarray, integer: bool, nan_values: np.ndarray | None = None
    ) -> NumericEncoder:
        """``nan_values`` marks the NaNs of ``values`` that are values, not NULL (a column read from
        Parquet or PostgreSQL, which keep the two apart)."""
        values = np.asarray(values, dtype=np.float64)
        nan_values = _nan_mask(values, nan_values)
        present = values[np.isfinite(values)]
        largest = float(np.abs(present).max()) if len(present) else 0.0
        scale = 2.0 ** -max(0, int(np.ceil(np.log2(largest / 1e300)))) if largest > 1e300 else 1.0
        return cls(
            column=column,
            quantile=QuantileNormal.fit(present * scale),
            integer=integer,
            decimals=None if integer else _decimals(present),
            lower=float(present.min()) if len(present) else 0.0,
            upper=float(present.max()) if len(present) else 0.0,
            has_missing=bool((np.isnan(values) & ~nan_values).any()),
            infinities=[v for v in (np.inf, -np.inf) if (values == v).any()],
            scale=scale,
            nan=bool(nan_values.any()),
        )

    @property
    def flag_values(self) -> list[float]:
        """What each flag code above 0 stands for (NaN for NULL, then NaN for the value NaN)."""
        return ([np.nan] if self.has_missing else []) + ([np.nan] if self.nan else []) + list(self.infinities)

    @property
    def has_flag(self) -> bool:
        return bool(self.flag_values)

    def transform(
        self, values: np.ndarray, nan_values: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        values = np.asarray(values, dtype=np.float64)
        special = ~np.isfinite(values)
        scores = self.quantile.transform(np.where(special, self.lower, values) * self.scale)
        scores[special] = 0.0
        if not self.has_flag:
            return scores, None
        nan_values = _nan_mask(values, nan_values)
        flag = np.zeros(len(values), dtype=np.int64)
        code = 1
        if self.has_missing:
            flag[np.isnan(values) & ~nan_values] = code
            code += 1
        if self.nan:
            flag[nan_values] = code
            code += 1
        for value in self.infinities:
            flag[values == value] = code
            code += 1
        return scores, flag

    def null_rows(self, flag: np.ndarray | None) -> np.ndarray | None:
        """Rows whose flag says NULL (as opposed to the value NaN), for a column that holds both."""
        if flag is None or not self.nan:
            return None
        return np.asarray(flag) == 1 if self.has_missing else np.zeros(len(flag), dtype=bool)

    def inverse(self, scores: np.ndarray, flag: np.ndarray | None) -> np.ndarray:
        values = np.clip(self.quantile.inverse(scores) / self.scale, self.lower, self.upper)
        if self.integer:  # inside int64 as float64 holds it (2**63 - 1 rounds up to 2**63 otherwise)
            values = np.clip(np.round(values), -(2.0**63), _LARGEST_INT64_FLOAT)
        elif self.decimals is not None:
            values = np.round(values, self.decimals)
        if flag is not None:
            lookup = np.array([0.0, *self.flag_values])
            flag = np.clip(np.asarray(flag, dtype=np.int64), 0, len(lookup) - 1)
            values = np.where(flag > 0, lookup[flag], values)
        return values

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["quantile"] = self.quantile.quantiles
        data["infinities"] = ["inf" if v > 0 else "-inf" for v in self.infinities]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NumericEncoder:
        infinities = [float(v) for v in data.get("infinities", [])]
        quantiles = np.asarray([_finite(v, "quantile") for v in data["quantile"]], dtype=np.float64)
        if len(quantiles) and (np.diff(quantiles) < 0).any():
            raise ValueError(f"column '{data.get('column')}': quantiles must be sorted")
        for name in ("lower", "upper", "scale"):
            _finite(data.get(name, 1.0), name)
        decimals = data.get("decimals")
        if decimals is not None and (not isinstance(decimals, int) or not 0 <= decimals <= MAX_DECIMALS):
            raise ValueError(f"column '{data.get('column')}': decimals must be a whole number from 0 to {MAX_DECIMALS}")
        return cls(**{**data, "quantile": QuantileNormal(quantiles.tolist()), "infinities": infinities})


@dataclass
class CategoricalEncoder:
    """Codes ``0..cardinality-1``; ``categories`` hold the values (``None`` for missing) and, when
    ``shapes`` (strings) or ``other_weights`` (other values) is not empty, the last code stands for
    "any other value" and becomes a placeholder of one of the shapes, or a category drawn by weight."""

    column: str
    categories: list[Any]
    shapes: list[str] = field(default_factory=list)
    shape_weights: list[float] = field(default_factory=list)
    other_weights: list[float] = field(default_factory=list)

    @classmethod
    def fit(
        cls, column: str, values: pd.Series, min_count: int | None = None, max_categories: int | None = None
    ) -> CategoricalEncoder:
        """``min_count=None`` keeps every value; an int keeps only values seen that often (text), and
        of those at most the ``max_categories`` most frequent: the others are "any other value" too."""
        array = values.to_numpy(dtype=object)
        counts = text_counts(array)
        if counts is None:
            counts = Counter(_json_value(v) for v in array)
        if min_count is None:
            kept = sorted(counts, key=_sort_key)
            return cls(column, kept)
        frequent = sorted((v for v, c in counts.items() if c >= min_count and v is not None), key=_sort_key)
        if max_categories is not None and len(frequent) > max_categories:
            frequent = sorted(frequent, key=lambda v: -counts[v])[:max_categories]  # stable: ties by value
        kept = sorted(frequent + ([None] if None in counts else []), key=_sort_key)
        chosen = set(frequent)
        rare = {v: c for v, c in counts.items() if v not in chosen and v is not None}
        if rare and not all(isinstance(v, str) for v in rare):
            weights = [float(counts[v]) for v in kept]
            return (
                cls(column, kept, other_weights=weights)
                if any(v is not None for v in kept)
                else cls(column, sorted(counts, key=_sort_key))
            )
        shape_counts: Counter = Counter()
        for value, count in rare.items():  # as many times as it was seen, in the order first seen
            shape_counts[_shape(str(value))] += count
        top = shape_counts.most_common(200)
        total = sum(c for _, c in top) or 1
        shapes = [s for s, _ in top]
        return cls(column, kept, shapes, [c / total for _, c in top])

    @property
    def has_other(self) -> bool:
        return bool(self.shapes or self.other_weights)

    @property
    def cardinality(self) -> int:
        return len(self.categories) + int(self.has_other)

    def transform(self, values: pd.Series) -> np.ndarray:
        array, other = values.to_numpy(dtype=object), len(self.categories)
        missing = _text_missing(array)
        if missing is not None and all(v is None or isinstance(v, str) for v in self.categories):
            return self._text_codes(array, missing)
        index = {v: i for i, v in enumerate(self.categories)}
        return np.array([index.get(k, other) for k in map(_json_value, array)], dtype=np.int64)

    def _text_codes(self, array: np.ndarray, missing: np.ndarray) -> np.ndarray:
        """:meth:`transform` of text (``missing`` where a value is) by a hash lookup of the whole array at once."""
        texts = [i for i, v in enumerate(self.categories) if v is not None]
        found = pd.Index([self.categories[i] for i in texts], dtype=object).get_indexer(array)
        codes = np.append(np.asarray(texts, dtype=np.int64), len(self.categories))[found]  # not found: the last
        if missing.any():
            codes[missing] = self.categories.index(None) if None in self.categories else len(self.categories)
        return codes

    def inverse(self, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        lookup = np.empty(len(self.categories) + 1, dtype=object)
        lookup[: len(self.categories)] = self.categories
        values = lookup[np.clip(codes, 0, len(self.categories))]
        other = np.flatnonzero(codes >= len(self.categories))
        if len(other) and self.shapes:
            picks = rng.choice(len(self.shapes), size=len(other), p=np.asarray(self.shape_weights))
            values[other] = [_fill_shape(self.shapes[p], rng) for p in picks]
        elif len(other) and self.other_weights:
            weights = np.asarray(self.other_weights) * np.array([v is not None for v in self.categories])
            values[other] = lookup[rng.choice(len(self.categories), size=len(other), p=weights / weights.sum())]
        return values

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CategoricalEncoder:
        return cls(**data)


@dataclass
class ConstantEncoder:
    """A column holding a single value (or only NULLs)."""

    column: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConstantEncoder:
        return cls(**data)


def _decimals(values: np.ndarray) -> int | None:
    sample = values[:10_000]
    for d in range(MAX_DECIMALS + 1):
        with np.errstate(over="ignore", invalid="ignore"):  # values near the float limit overflow: not whole
            scaled = sample * 10**d
            whole = np.abs(scaled - np.round(scaled)) < 1e-6
        if np.all(whole):
            return d
    return None


def _finite(value: Any, name: str) -> float:
    """A finite number from a saved model (a string or NaN there is a tampered or broken file)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
        raise ValueError(f"'{name}' must be a finite number, not {value!r}")
    return float(value)


def _nan_mask(values: np.ndarray, nan_values: np.ndarray | None) -> np.ndarray:
    if nan_values is None:
        return np.zeros(len(values), dtype=bool)
    return np.asarray(nan_values, dtype=bool) & np.isnan(values)


def _json_value(value: Any) -> Any:
    """A value JSON can hold exactly (numpy scalars to Python, NaN/NA to None)."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, Decimal):  # exact, as text (a decimal column's values compare as decimals)
        return format(value, "f")
    return value


def _sort_key(value: Any) -> tuple[int, str]:
    return (0, "") if value is None else (1, f"{type(value).__name__}:{value}")


def _text_missing(array: np.ndarray) -> np.ndarray | None:
    """Where the object ``array`` is missing, if every value is text or missing (a hash lookup of the
    whole array then treats its values as one lookup of each does); None otherwise. Missing values
    must be None, NaN or NA, which :func:`_json_value` makes None (not NaT or a decimal NaN, which it
    keeps apart)."""
    if pd.api.types.infer_dtype(array, skipna=True) not in ("string", "empty"):
        return None
    missing = pd.isna(array)
    if missing.any() and not all(v is None or v is pd.NA or isinstance(v, float) for v in array[missing]):
        return None
    return missing


def text_counts(array: np.ndarray, key: Callable[[Any], Any] = _json_value) -> Counter | None:
    """``Counter(key(v) for v in array)``, counted by hashing the whole array at once where it holds
    only text and missing values (the keys in the order first seen, as value by value); None for any
    other array, to be counted value by value."""
    if _text_missing(array) is None:
        return None
    codes, uniques = pd.factorize(array, use_na_sentinel=False)
    counts: Counter = Counter()
    for value, count in zip(uniques, np.bincount(codes, minlength=len(uniques)).tolist(), strict=True):
        counts[key(value)] += count
    return counts


def _shape(text: str) -> str:
    head = text[:64]
    if head.isascii():
        return head.translate(_ASCII_SHAPES)
    out = []
    for ch in head:
        if ch.isdigit():
            out.append("9")
        elif ch.isalpha():
            out.append("A" if ch.isupper() else "a")
        else:
            out.append(ch)
    return "".join(out)


def _fill_shape(shape: str, rng: np.random.Generator) -> str:
    codes = rng.integers(0, 26, size=len(shape))
    out = []
    for ch, c in zip(shape, codes, strict=True):
        if ch == "9":
            out.append(string.digits[c % 10])
        elif ch == "a":
            out.append(string.ascii_lowercase[c])
        elif ch == "A":
            out.append(string.ascii_uppercase[c])
        else:
            out.append(ch)
    return "".join(out)
