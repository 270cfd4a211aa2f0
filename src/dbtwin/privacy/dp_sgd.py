"""DP-SGD for the denoiser: each row one example, its gradient clipped, Gaussian noise added.

Differentially private training needs every example's influence on a step bounded. A row's K-hop
neighbourhood mixes other rows' values into its loss, so under DP the denoiser models each row on
its own (``num_layers = 0``, no degree or block inputs): one row, one example, one clipped
gradient. Each step takes every trainable row with probability ``q`` (Poisson sampling, which the
accountant's amplification assumes), computes the per-row gradients at once (``torch.func``: vmap of
grad), clips each to L2 norm ``clip``, sums them, adds ``N(0, (σ clip)²)`` to each coordinate and
divides by the expected batch size. The optimiser and the moving average of the weights only
post-process the noised gradients; there is no early stopping on held-out rows (choosing a step by
real rows would spend privacy the accountant does not count).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812
from torch import Tensor, nn
from torch.func import functional_call, grad_and_value, vmap

from dbtwin.diffusion import GaussianScheduler, MaskedScheduler
from dbtwin.nn import HeteroDenoiser
from dbtwin.nn.device import module_device, to_device


@dataclass
class DPConfig:
    """DP-SGD's settings: the per-row sampling rate, the noise multiplier and the clipping norm."""

    sampling_rate: float
    noise_multiplier: float
    clip: float = 1.0


class _OneTable(nn.Module):
    """The denoiser's path for the rows of one table alone (what ``num_layers = 0`` computes)."""

    def __init__(self, model: HeteroDenoiser, table: str) -> None:
        super().__init__()
        key = model.keys.table[table]
        self.input, self.time, self.head = model.inputs[key], model.time, model.heads[key]
        self.spec = model.tables[table]

    def forward(self, x_num: Tensor, x_cat: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        h = self.input(x_num, x_cat) + self.time._embed(t)
        y = self.head(torch.relu(h))
        return y[:, : self.spec.num_numeric], y[:, self.spec.num_numeric :]


def _row_loss(module: _OneTable, params: dict[str, Tensor], x_num, x_cat, t, noise, clean_cat, masked) -> Tensor:
    """The diffusion loss of one row (inputs without the batch dimension)."""
    eps, y_cat = functional_call(module, params, (x_num[None], x_cat[None], t[None]))
    spec = module.spec
    loss = (eps[0] - noise).pow(2).mean() if spec.num_numeric else eps.new_zeros(())
    if spec.cardinalities:
        logits = torch.split(y_cat[0], spec.cardinalities)
        ce = torch.stack([F.cross_entropy(lg[None], clean_cat[j : j + 1])[None] for j, lg in enumerate(logits)])
        weight = masked.float()
        loss = loss + (ce.flatten() * weight).sum() / len(spec.cardinalities)
    return loss


class PrivateStep:
    """One DP-SGD step over every trainable table's Poisson-sampled rows."""

    def __init__(
        self,
        model: HeteroDenoiser,
        num: dict[str, Tensor],
        cat: dict[str, Tensor],
        tables: list[str],
        gaussian: GaussianScheduler,
        masked: MaskedScheduler,
        config: DPConfig,
    ) -> None:
        if model.num_layers or model.degree_inputs or model.block_counts:
            raise ValueError("DP-SGD needs a denoiser that models each row alone (no hops, degrees or blocks)")
        self.model, self.num, self.cat, self.tables = model, num, cat, tables
        self.gaussian, self.masked, self.config = gaussian, masked, config
        self.modules = {t: _OneTable(model, t) for t in tables}
        self.mask_codes = {t: torch.tensor(model.tables[t].cardinalities, dtype=torch.long) for t in tables}
        names = {id(p): n for n, p in model.named_parameters()}
        #: per table, each of its module's parameter names -> the model's name for that parameter
        self.names = {t: {n: names[id(p)] for n, p in m.named_parameters()} for t, m in self.modules.items()}
        self.expected = config.sampling_rate * sum(num[t].shape[0] for t in tables)

    def __call__(self, rng: np.random.Generator, generator: torch.Generator) -> tuple[float, int]:
        """Set every parameter's ``.grad`` to the noised mean of clipped per-row gradients; returns the
        mean loss of the sampled rows and how many there were."""
        cfg = self.config
        summed = {n: torch.zeros_like(p) for n, p in self.model.named_parameters()}
        losses, rows = [], 0
        for table in self.tables:
            n = self.num[table].shape[0]
            picked = np.flatnonzero(rng.random(n) < cfg.sampling_rate)
            if not len(picked):
                continue
            grads, loss = self._clipped(table, torch.from_numpy(picked), generator)
            for name, g in grads.items():
                summed[name] += g
            losses.append(float(loss) * len(picked))
            rows += len(picked)
        for name, p in self.model.named_parameters():
            noise = torch.randn(p.shape, generator=generator).to(p.device) * cfg.noise_multiplier * cfg.clip
            p.grad = (summed[name] + noise) / max(self.expected, 1.0)
        return (sum(losses) / rows if rows else float("nan")), rows

    def _clipped(self, table: str, idx: Tensor, generator: torch.Generator) -> tuple[dict[str, Tensor], Tensor]:
        module = self.modules[table]
        params = {n: p.detach() for n, p in module.named_parameters()}
        clean_num, clean_cat = self.num[table][idx], self.cat[table][idx]
        t = torch.rand(len(idx), generator=generator)
        noise = torch.randn(clean_num.shape, generator=generator)
        x_num = self.gaussian.add_noise(clean_num, t, noise)
        x_cat, masked = self.masked.add_noise(clean_cat, t, self.mask_codes[table], generator)

        def loss_of(p, *row):
            return _row_loss(module, p, *row)

        rows = to_device((x_num, x_cat, t, noise, clean_cat, masked), module_device(self.model))
        per_row, losses = vmap(grad_and_value(loss_of), in_dims=(None, 0, 0, 0, 0, 0, 0))(params, *rows)
        norms = torch.sqrt(sum(g.flatten(1).pow(2).sum(1) for g in per_row.values()))
        scale = torch.clamp(self.config.clip / (norms + 1e-12), max=1.0)
        names = self.names[table]
        clipped = {names[n]: torch.einsum("b,b...->...", scale, g) for n, g in per_row.items()}
        return clipped, losses.mean()
