"""Masked (absorbing-state) diffusion for categorical features: at time t each code is replaced by a
mask token with probability t; the network predicts the original category of masked codes, and a
reverse step from t to s unmasks each masked code with probability (t - s) / t."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch


@dataclass
class MaskedScheduler:
    """Absorbing-state noise with a linear masking rate (the mask token of a column of ``k``
    categories is code ``k``)."""

    min_t: float = 1e-3

    def mask_probability(self, t: torch.Tensor) -> torch.Tensor:
        return t.clamp(self.min_t, 1.0)

    def add_noise(
        self, codes: torch.Tensor, t: torch.Tensor, mask_codes: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Masked codes and the boolean mask; ``mask_codes[j]`` is column ``j``'s mask token."""
        p = self.mask_probability(t).unsqueeze(-1)
        masked = torch.rand(codes.shape, generator=generator) < p
        return torch.where(masked, mask_codes.expand_as(codes), codes), masked

    def step(
        self,
        codes: torch.Tensor,
        logits: list[torch.Tensor],
        mask_codes: torch.Tensor,
        t: float,
        s: float,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Unmask some of the masked codes, drawing their category from ``softmax(logits[j])`` (rows x
        categories). Only the rows unmasked in this step are normalised and drawn from (by inverse
        transform sampling: one uniform number and a binary search per row)."""
        out = codes.clone()
        unmask_p = 1.0 if s <= 0 else (t - s) / t
        for j, lg in enumerate(logits):
            masked = out[:, j] == mask_codes[j]
            if not masked.any():
                continue
            chosen = (masked & (torch.rand(masked.shape, generator=generator) < unmask_p)).nonzero().squeeze(-1)
            if chosen.numel():
                out[chosen, j] = draw_categories(lg.index_select(0, chosen), generator)
        return out

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, float]) -> MaskedScheduler:
        return cls(**data)


def draw_categories(logits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One category per row of ``logits`` (rows x categories), drawn from their softmax."""
    cdf = torch.softmax(logits.float(), dim=-1).cumsum_(dim=-1)
    u = torch.rand((logits.shape[0], 1), generator=generator) * cdf[:, -1:]
    return torch.searchsorted(cdf, u).squeeze(-1).clamp_(max=logits.shape[1] - 1)
