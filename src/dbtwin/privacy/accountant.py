"""The privacy accountant: Rényi differential privacy (RDP) of the mechanisms a DP fit runs, composed
and converted to (ε, δ).

* DP-SGD steps: the Poisson-subsampled Gaussian mechanism (sampling rate ``q``, noise multiplier
  ``σ``), whose RDP at integer order α is ``log A_α / (α - 1)`` with
  ``A_α = Σ_k C(α, k) (1 - q)^(α - k) q^k exp((k² - k) / (2σ²))`` (Mironov, Talwar and Zhang, 2019);
* released statistics: the Gaussian mechanism of L2 sensitivity Δ and noise σ, RDP ``α Δ² / (2σ²)``.

RDP adds up over mechanisms and steps; the conversion to (ε, δ) is that of Balle et al. (2020):
``ε = RDP(α) + log((α - 1) / α) - (log δ + log α) / (α - 1)``, the best order taken.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.special import gammaln, logsumexp

#: The integer Rényi orders tried.
ORDERS = np.array([*range(2, 64), 80, 96, 128, 192, 256, 384, 512, 1024], dtype=np.float64)


def subsampled_gaussian_rdp(q: float, sigma: float, orders: np.ndarray = ORDERS) -> np.ndarray:
    """RDP of one step of the Poisson-subsampled Gaussian mechanism, at each integer order."""
    if sigma <= 0:
        return np.full(len(orders), np.inf)
    if q >= 1.0:
        return orders / (2 * sigma**2)
    if q <= 0.0:
        return np.zeros(len(orders))
    out = np.empty(len(orders))
    for i, alpha in enumerate(orders.astype(int)):
        k = np.arange(alpha + 1)
        log_binom = gammaln(alpha + 1) - gammaln(k + 1) - gammaln(alpha - k + 1)
        terms = log_binom + (alpha - k) * math.log1p(-q) + k * math.log(q) + (k * k - k) / (2 * sigma**2)
        out[i] = logsumexp(terms) / (alpha - 1)
    return out


def gaussian_rdp(sensitivity: float, sigma: float, orders: np.ndarray = ORDERS) -> np.ndarray:
    """RDP of the Gaussian mechanism (L2 ``sensitivity``, noise standard deviation ``sigma``)."""
    if sigma <= 0:
        return np.full(len(orders), np.inf)
    return orders * sensitivity**2 / (2 * sigma**2)


def epsilon_of(rdp: np.ndarray, delta: float, orders: np.ndarray = ORDERS) -> float:
    """The smallest ε of (ε, δ)-DP that the RDP curve ``rdp`` gives."""
    eps = rdp + np.log((orders - 1) / orders) - (math.log(delta) + np.log(orders)) / (orders - 1)
    return float(max(np.nanmin(eps), 0.0))


def calibrate(budget: float, delta: float, rdp_of_sigma: Callable[[float], np.ndarray]) -> float:
    """The smallest noise σ whose RDP curve ``rdp_of_sigma(σ)`` gives ε ≤ ``budget`` at ``delta``."""
    low, high = 1e-3, 1.0
    while epsilon_of(rdp_of_sigma(high), delta) > budget:
        high *= 2
        if high > 1e6:
            raise ValueError(f"no noise level reaches ε = {budget:g}")
    for _ in range(60):
        mid = (low + high) / 2
        if epsilon_of(rdp_of_sigma(mid), delta) > budget:
            low = mid
        else:
            high = mid
    return high
