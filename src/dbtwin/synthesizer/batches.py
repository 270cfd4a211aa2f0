"""Training batches: the seed rows' K-hop subgraphs of the real row graph, noised.

A :class:`Batches` builds them where it is told: on the CPU from NumPy's sampler (the default on the
CPU, where a seed draws the same batches on every device), or on the device itself
(``device_batches``): the row graph's arrays, the rows' features and the noise are then all on the
GPU, and the GPU builds a batch in milliseconds instead of waiting for the CPU to build and copy it.
"""

from __future__ import annotations

import numpy as np
import torch

from dbtwin.diffusion import GaussianScheduler, MaskedScheduler
from dbtwin.graph import KHopSampler, RowGraph, Subgraph
from dbtwin.graph.device_sampler import DeviceKHopSampler, TensorSubgraph
from dbtwin.nn import HeteroDenoiser
from dbtwin.synthesizer.run_settings import TrainConfig


class Batches:
    """Builds the denoiser's training batches on ``device`` (see the module)."""

    def __init__(
        self,
        model: HeteroDenoiser,
        graph: RowGraph,
        num: dict[str, torch.Tensor],
        cat: dict[str, torch.Tensor],
        fixed: set[str],
        gaussian: GaussianScheduler,
        masked: MaskedScheduler,
        config: TrainConfig,
        blocks: dict[str, torch.Tensor] | None = None,
        device: torch.device | None = None,
        on_device: bool = False,
    ) -> None:
        #: where the batches are built: the CPU, or with ``on_device`` the device the denoiser runs on
        self.device = (device or torch.device("cpu")) if on_device else torch.device("cpu")
        #: whether they are built by torch's ops alone (subgraphs sampled with torch, on any device)
        self.on_device = on_device
        self.model, self.fixed, self.config = model, fixed, config
        self.gaussian, self.masked = gaussian, masked
        self.num = {t: v.to(self.device) for t, v in num.items()}
        self.cat = {t: v.to(self.device) for t, v in cat.items()}
        hops = model.num_layers
        self.sampler: KHopSampler | DeviceKHopSampler | None = None
        if hops and on_device:
            self.sampler = DeviceKHopSampler(graph, num_hops=hops, max_neighbors=config.fanout, device=self.device)
        elif hops:
            self.sampler = KHopSampler(graph, num_hops=hops, max_neighbors=config.fanout)
        all_edges = {et: torch.from_numpy(graph.edge_index(et)) for et in graph.edge_types()}
        structure = model.structure_inputs(dict(graph.num_nodes), all_edges, blocks)
        self.structure = {t: v.to(self.device) for t, v in structure.items()}
        self.mask_codes = {
            t: torch.tensor(model.tables[t].cardinalities, dtype=torch.long, device=self.device) for t in model.tables
        }

    def generator(self, seed: int) -> torch.Generator:
        """A generator of the device the batches are built on, seeded with ``seed``."""
        return torch.Generator(self.device).manual_seed(seed)

    def build(
        self, seeds: dict[str, np.ndarray], rng: np.random.Generator, generator: torch.Generator, alone: bool = False
    ) -> tuple:
        """A training batch: the seeds' K-hop subgraphs, noised (``alone``: the seed rows without neighbours)."""
        sub = self._subgraph(seeds, rng, generator, alone)
        t_seed = torch.rand(sub.num_seeds, generator=generator, device=self.device)
        give_known = self.model.known_inputs and float(rng.random()) < self.config.known_share
        x_num, x_cat, times, targets, known = {}, {}, {}, {}, {}
        for table, idx in sub.nodes.items():
            clean_num, clean_cat = self.num[table][idx], self.cat[table][idx]
            if table in self.fixed or not self.model.tables[table].has_features:
                x_num[table], x_cat[table] = clean_num, clean_cat
                times[table] = torch.zeros(len(idx), device=self.device)
                continue
            tt = t_seed[sub.batch[table]]
            noise = torch.randn(clean_num.shape, generator=generator, device=self.device)
            x_num[table] = self.gaussian.add_noise(clean_num, tt, noise)
            x_cat[table], masked = self.masked.add_noise(clean_cat, tt, self.mask_codes[table], generator)
            times[table] = tt
            free = None  # the numbers scored: all, or those not given clean
            if give_known:
                given_num, given_cat = _known_cells(clean_num.shape, clean_cat.shape, generator, self.device)
                x_num[table] = torch.where(given_num, clean_num, x_num[table])
                x_cat[table] = torch.where(given_cat, clean_cat, x_cat[table])
                masked, free, known[table] = masked & ~given_cat, ~given_num, given_num
            if self.config.loss_on == "seeds":
                if table in sub.seed_local:
                    s = sub.seed_local[table]
                    targets[table] = (s, noise[s], clean_cat[s], masked[s], None, None if free is None else free[s])
                continue
            found = self._subgraph_targets(sub.hop[table], noise, clean_cat, masked)
            if found is not None:
                s = found[0]
                targets[table] = (*found, None if free is None else free[s])
        structure = {t: self.structure[t][idx] for t, idx in sub.nodes.items() if t in self.structure}
        return x_num, x_cat, times, sub.edge_index, targets, structure, known

    def _subgraph(
        self, seeds: dict[str, np.ndarray], rng: np.random.Generator, generator: torch.Generator, alone: bool
    ) -> TensorSubgraph:
        """The seeds' subgraphs as tensors on the batches' device."""
        if isinstance(self.sampler, DeviceKHopSampler) and not alone:
            return self.sampler.sample({t: torch.from_numpy(r) for t, r in seeds.items()}, generator)
        if self.sampler is not None and not alone:
            return TensorSubgraph.of(self.sampler.sample(seeds, random_state=int(rng.integers(2**31))), self.device)
        return TensorSubgraph.of(_seeds_alone(seeds), self.device)

    def _subgraph_targets(self, hop: torch.Tensor, noise, clean_cat, masked) -> tuple | None:
        """Loss rows and weights of one table's subgraph nodes: weight 1 for the rows reached in fewer
        than K hops (their neighbourhood is in the subgraph), ``outer_weight`` for the rows at hop K."""
        weight = self.config.outer_weight
        if weight == 1.0:
            return torch.arange(len(hop), device=self.device), noise, clean_cat, masked, None
        inner = hop < max(self.model.num_layers, 1)
        if weight == 0.0:
            s = torch.nonzero(inner).flatten()
            return (s, noise[s], clean_cat[s], masked[s], None) if len(s) else None
        return torch.arange(len(hop), device=self.device), noise, clean_cat, masked, torch.where(inner, 1.0, weight)


def _seeds_alone(seeds: dict[str, np.ndarray]) -> Subgraph:
    """The seed rows without neighbours: each its own one-row subgraph."""
    nodes, batch, seed_local, hop, start = {}, {}, {}, {}, 0
    for t, rows in seeds.items():
        nodes[t], seed_local[t], hop[t] = rows, np.arange(len(rows)), np.zeros(len(rows), np.int64)
        batch[t] = np.arange(start, start + len(rows))
        start += len(rows)
    return Subgraph(nodes, batch, {}, seed_local, start, hop)


def _known_cells(
    num_shape, cat_shape, generator: torch.Generator, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cells given clean in a batch that trains completion: each row keeps a share of its cells drawn
    uniformly from 0 to 1, so the denoiser sees rows from nearly empty to nearly whole."""
    share = torch.rand(num_shape[0], 1, generator=generator, device=device)
    given_num = torch.rand(num_shape, generator=generator, device=device) < share
    given_cat = torch.rand(cat_shape, generator=generator, device=device) < share
    return given_num, given_cat


__all__ = ["Batches"]
