"""A quantile-to-normal transform whose fitted state is a short list of numbers (JSON-friendly).

Values are mapped through the empirical CDF to a standard normal; ties are handled by averaging the
forward and backward interpolation, as scikit-learn's QuantileTransformer does, so a column with many
equal values does not collapse onto one end of its range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

_EPS = 1e-7
#: Bounds of the normal scores, as far out as the (1e-7, 1 - 1e-7) quantiles.
BOUND = float(ndtri(1 - _EPS))


@dataclass
class QuantileNormal:
    """Fitted quantiles of one column (``quantiles[i]`` is the ``levels[i]`` quantile)."""

    quantiles: list[float]

    @classmethod
    def fit(cls, values: np.ndarray, max_quantiles: int = 1000) -> QuantileNormal:
        values = np.asarray(values, dtype=np.float64)
        values = values[np.isfinite(values)]
        if not len(values):
            return cls([0.0, 0.0])
        n = int(np.clip(len(values) // 30, 10, max_quantiles))
        levels = np.linspace(0.0, 1.0, n)
        return cls(np.quantile(values, levels).tolist())

    @property
    def _levels(self) -> np.ndarray:
        return np.linspace(0.0, 1.0, len(self.quantiles))

    def transform(self, values: np.ndarray) -> np.ndarray:
        q = np.asarray(self.quantiles)
        levels = self._levels
        x = np.clip(np.asarray(values, dtype=np.float64), q[0], q[-1])
        forward = np.interp(x, q, levels)
        backward = -np.interp(-x, -q[::-1], -levels[::-1])
        p = 0.5 * (forward + backward)
        return ndtri(_EPS + p * (1 - 2 * _EPS))  # affine, not clipped, so the inverse is exact

    def inverse(self, scores: np.ndarray) -> np.ndarray:
        from scipy.special import ndtr

        p = (ndtr(np.clip(np.asarray(scores, dtype=np.float64), -BOUND, BOUND)) - _EPS) / (1 - 2 * _EPS)
        return np.interp(np.clip(p, 0.0, 1.0), self._levels, np.asarray(self.quantiles))
