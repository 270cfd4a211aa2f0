"""One (ε, δ) budget for a whole fit: the structure's noised histograms take a tenth of it, DP-SGD
the rest, both accounted together in RDP (:mod:`dbtwin.privacy.accountant`).

What the guarantee covers, and what it does not, is written down in docs/privacy.md: it bounds what
the denoiser's weights and the structure's degree histograms reveal about any one row; the schema,
the row counts, the categories' vocabularies (values seen at least ``text_min_count`` times), the
numeric columns' quantile grids and ranges, the semantic plan's frequent values and text models, and
the tables copied whole (dimension tables) are taken as public and are not noised.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from dbtwin.privacy.accountant import calibrate, epsilon_of, gaussian_rdp, subsampled_gaussian_rdp

STRUCTURE_SHARE = 0.1


@dataclass
class PrivacyBudget:
    """The noise levels that spend ``epsilon`` at ``delta`` over ``steps`` DP-SGD steps."""

    epsilon: float
    delta: float
    steps: int
    sampling_rate: float
    noise_multiplier: float
    structure_sensitivity: float
    structure_sigma: float
    clip: float = 1.0

    @classmethod
    def plan(cls, epsilon: float, delta: float, steps: int, sampling_rate: float, sensitivity: float) -> PrivacyBudget:
        structure_sigma = calibrate(STRUCTURE_SHARE * epsilon, delta, lambda s: gaussian_rdp(sensitivity, s))
        released = gaussian_rdp(sensitivity, structure_sigma)
        noise = calibrate(epsilon, delta, lambda s: steps * subsampled_gaussian_rdp(sampling_rate, s) + released)
        return cls(epsilon, delta, steps, sampling_rate, noise, sensitivity, structure_sigma)

    def spent(self, steps: int) -> float:
        """The ε spent after ``steps`` DP-SGD steps (at most ``epsilon``), the structure's included."""
        rdp = steps * subsampled_gaussian_rdp(self.sampling_rate, self.noise_multiplier) + gaussian_rdp(
            self.structure_sensitivity, self.structure_sigma
        )
        return epsilon_of(rdp, self.delta)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PrivacyBudget:
        return cls(**data)


def default_delta(rows: int) -> float:
    """δ well below one over the number of rows: ``min(1e-5, 1 / (10 n))``."""
    return min(1e-5, 1.0 / (10 * max(rows, 1)))


#: What a DP fit's guarantee bounds and what it takes as public (docs/privacy.md).
COVERED = [
    "the denoiser's weights (DP-SGD: each row one example, clipped and noised)",
    "the structure's degree histograms and NULL-link counts (Gaussian noise); which row has which degree",
]
NOT_COVERED = [
    "the schema, the number of rows of each table and whether a foreign key holds any NULL link",
    "the categories' vocabularies (values seen at least text_min_count times) and the semantic plan's "
    "frequent values, e-mail domains and text models",
    "numeric columns' quantile grids and ranges, datetime resolutions, key formats",
    "exact relations (a dependency's mapping of frequent values, copies, sums)",
    "tables copied whole by design (dimension tables)",
]


def privacy_report(budget: PrivacyBudget, steps_done: int) -> dict[str, Any]:
    """What a DP fit saves and reports: the budget, the ε spent in the steps done, and the scope."""
    return {
        **budget.to_dict(),
        "steps_done": steps_done,
        "epsilon_spent": round(budget.spent(steps_done), 6),
        "unit": "one row (added or removed; a row no other row references)",
        "covered": COVERED,
        "not_covered": NOT_COVERED,
    }
