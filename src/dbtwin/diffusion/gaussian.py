"""Gaussian diffusion for numeric features: continuous time t in [0, 1], cosine schedule, the network
predicts the noise, and sampling takes any number of steps (DDIM, with ``eta`` from deterministic 0
to ancestral 1)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from dbtwin.encode.quantile import BOUND


@dataclass
class GaussianScheduler:
    """Noise process ``x_t = sqrt(a(t)) x_0 + sqrt(1 - a(t)) eps`` with a cosine ``a(t)``."""

    offset: float = 0.008
    min_alpha_bar: float = 1e-4
    eta: float = 1.0
    clip: float = BOUND

    def alpha_bar(self, t: torch.Tensor) -> torch.Tensor:
        f = torch.cos((t + self.offset) / (1 + self.offset) * math.pi / 2) ** 2
        f0 = math.cos(self.offset / (1 + self.offset) * math.pi / 2) ** 2
        return (f / f0).clamp(self.min_alpha_bar, 1.0)

    def add_noise(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """Noised features; ``t`` has one entry per row."""
        ab = self.alpha_bar(t).unsqueeze(-1)
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def noise_forward(self, x_s: torch.Tensor, s: float, t: float, noise: torch.Tensor) -> torch.Tensor:
        """Features at time ``s`` noised on to the later time ``t``: ``x_t`` given ``x_s``."""
        ab_s = self.alpha_bar(torch.tensor(s, dtype=x_s.dtype)) if s > 0 else torch.tensor(1.0, dtype=x_s.dtype)
        ratio = self.alpha_bar(torch.tensor(t, dtype=x_s.dtype)) / ab_s
        return ratio.sqrt() * x_s + (1 - ratio).sqrt() * noise

    def step(
        self, x_t: torch.Tensor, eps_hat: torch.Tensor, t: float, s: float, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """One reverse step from time ``t`` to the earlier time ``s``."""
        ab_t = self.alpha_bar(torch.tensor(t, dtype=x_t.dtype))
        ab_s = self.alpha_bar(torch.tensor(s, dtype=x_t.dtype)) if s > 0 else torch.tensor(1.0, dtype=x_t.dtype)
        x0 = ((x_t - (1 - ab_t).sqrt() * eps_hat) / ab_t.sqrt()).clamp(-self.clip, self.clip)
        if s <= 0:
            return x0
        eps = (x_t - ab_t.sqrt() * x0) / (1 - ab_t).sqrt()
        sigma = self.eta * ((1 - ab_s) / (1 - ab_t) * (1 - ab_t / ab_s)).clamp(min=0).sqrt()
        direction = (1 - ab_s - sigma**2).clamp(min=0).sqrt() * eps
        noise = torch.randn(x_t.shape, generator=generator, dtype=x_t.dtype) if self.eta > 0 else 0.0
        return ab_s.sqrt() * x0 + direction + sigma * noise

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> GaussianScheduler:
        return cls(**data)
