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
        masked = torch.rand(codes.shape, generator=generator, device=codes.device) < p
        return torch.where(masked, mask_codes.expand_as(codes), codes), masked

    def choose(
        self,
        codes: torch.Tensor,
        mask_codes: torch.Tensor,
        t: float,
        s: float,
        generator: torch.Generator | None = None,
    ) -> list[torch.Tensor]:
        """Per column, the rows whose masked code a reverse step from ``t`` to ``s`` unmasks (each
        masked code with probability (t - s) / t; all of them at ``s = 0``). Chosen before the network
        runs, so that it computes logits for these rows only."""
        unmask_p = 1.0 if s <= 0 else (t - s) / t
        masked = codes == mask_codes
        chosen = masked & (torch.rand(masked.shape, generator=generator) < unmask_p)
        return [chosen[:, j].nonzero().squeeze(-1) for j in range(codes.shape[1])]

    def step(
        self,
        codes: torch.Tensor,
        logits: list[torch.Tensor],
        mask_codes: torch.Tensor,
        t: float,
        s: float,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Unmask some of the masked codes, drawing their category from ``softmax(logits[j])`` (one row
        of logits per row of ``codes``)."""
        chosen = self.choose(codes, mask_codes, t, s, generator)
        return fill(
            codes, chosen, [lg.index_select(0, rows) for lg, rows in zip(logits, chosen, strict=True)], generator
        )

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


def fill(
    codes: torch.Tensor,
    chosen: list[torch.Tensor],
    logits: list[torch.Tensor],
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``codes`` with, in each column ``j``, the rows ``chosen[j]`` drawn from ``softmax(logits[j])``
    (one row of logits per chosen row)."""
    out = codes.clone()
    for j, (rows, lg) in enumerate(zip(chosen, logits, strict=True)):
        if rows.numel():
            out[rows, j] = draw_categories(lg, generator)
    return out
