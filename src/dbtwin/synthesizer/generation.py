"""Reverse diffusion over a whole synthetic row graph: every row of every table starts as noise
(numerics) or fully masked (categoricals) and all rows are denoised together, step by step; each step
is one pass of the denoiser over the graph (each row with at most ``fanout`` neighbours of each edge
type, as in training), layer by layer in chunks of rows when the whole pass would not fit the memory
budget (:mod:`dbtwin.synthesizer.memory`), and in batches of rows with their K-hop neighbourhoods,
each sized to fit, when not even the graph's state matrices fit it. Kept
tables hold their real values throughout. With ``known`` (imputation), the known values of a table
are held too: its known codes are never masked, and its known numbers are given
clean and flagged to a denoiser trained to complete rows (``known_inputs``), else noised to each
step's time and put back after every step (RePaint), so the rest is drawn conditioned on them.

The rows' states and every random draw stay on the CPU; each pass of the denoiser runs on ``device``
(the model is moved there), so a seed draws the same noise whatever the device."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from dbtwin.config import TrainingConfig
from dbtwin.diffusion import GaussianScheduler, MaskedScheduler
from dbtwin.diffusion.masked import fill
from dbtwin.graph import KHopSampler, RowGraph
from dbtwin.nn import HeteroDenoiser, distributed
from dbtwin.nn.device import to_device
from dbtwin.nn.distributed import World
from dbtwin.progress import Progress
from dbtwin.synthesizer.memory import chunk_rows, pass_budget, pass_rows

CPU = torch.device("cpu")


@dataclass
class Known:
    """The values inpainting holds in one table: clean numeric scores and categorical codes, each with
    a mask of the cells known; ``forbidden``: per categorical column, a code never drawn for its
    unknown cells (NULL, for cells that must be filled); ``probs``: when not None, filled per
    categorical column with the distribution each unknown cell was drawn from (rows x codes)."""

    num: torch.Tensor
    num_mask: torch.Tensor
    cat: torch.Tensor
    cat_mask: torch.Tensor
    forbidden: dict[int, int] = field(default_factory=dict)
    probs: dict[int, torch.Tensor] | None = None

    @property
    def whole_rows(self) -> torch.Tensor:
        """Rows whose every value is known: they enter the denoiser clean, at time 0."""
        return self.num_mask.all(1) & self.cat_mask.all(1)


def denoise_graph(
    model: HeteroDenoiser,
    graph: RowGraph,
    fixed_num: dict[str, torch.Tensor],
    fixed_cat: dict[str, torch.Tensor],
    gaussian: GaussianScheduler,
    masked: MaskedScheduler,
    steps: int,
    generator: torch.Generator,
    memory_gb: float | None = None,
    fanout: int = TrainingConfig.fanout,
    progress: bool = True,
    blocks: dict[str, torch.Tensor] | None = None,
    device: torch.device | None = None,
    known: dict[str, Known] | None = None,
    rounds: int = 1,
    noised: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Features of every row after ``steps`` reverse steps; ``fixed_*`` hold the kept tables;
    ``blocks`` each row's block, for a denoiser that takes them; ``known`` the values held in other
    tables (inpainting), with the numbers of each step denoised ``rounds`` times (RePaint's resampling:
    after each round but the last they are noised back to the step's start); ``noised`` the clean
    numbers and codes of tables held as they are but shown to the denoiser as every other table, noised
    to each step's time (a shard's shared rows: clean, at time 0, they are unlike anything it was
    trained on next to noisy rows, and their neighbours come out worse); the denoiser runs on
    ``device`` (default: the CPU); its passes hold at most about ``memory_gb`` GiB (default: a
    quarter of the machine's memory)."""
    device = device or CPU
    model.to(device).eval()
    known = known or {}
    x_num, x_cat, mask_codes = _start(model, graph, fixed_num, fixed_cat, known, generator)
    flags = {tb: held.num_mask for tb, held in known.items()} if model.known_inputs else {}
    noised = noised or {}
    moving = [
        t
        for t, spec in model.tables.items()
        if spec.has_features and t not in fixed_num and t not in noised and graph.num_nodes[t]
    ]
    total = sum(graph.num_nodes.values())
    structure, predict = _passes(model, graph, blocks, memory_gb, fanout, generator, device)
    times = np.linspace(1.0, 0.0, steps + 1)
    rounds = rounds if known else 1
    bar = Progress("sampling", steps, unit="steps", enabled=progress)
    started = time.monotonic()
    for i in range(steps):
        elapsed = time.monotonic() - started
        bar.advance(rows_per_s=f"{total * i / steps / elapsed:,.0f}" if i else "-")
        t, s = float(times[i]), float(times[i + 1])
        t_node = {tb: torch.full((graph.num_nodes[tb],), 0.0 if tb in fixed_num else t) for tb in model.tables}
        for tb, held in known.items():
            t_node[tb][held.whole_rows] = 0.0
        for tb, (num, cat) in noised.items():  # the held rows noised to this step's time, as in training
            x_num[tb], x_cat[tb] = _noised(num, cat, t, mask_codes[tb], gaussian, masked, generator)
        # the rows each categorical unmasks in this step, drawn first: logits are computed for them only
        chosen = {tb: masked.choose(x_cat[tb], mask_codes[tb], t, s, generator) for tb in moving}
        for r in range(rounds):
            with torch.no_grad():
                out = predict((x_num, x_cat, t_node, structure, flags), chosen, moving)
            last = r == rounds - 1
            for table in moving:
                eps, logits = out[table]
                if x_num[table].shape[1]:
                    x_num[table] = gaussian.step(x_num[table], eps, t, s, generator)
                    if table in known:
                        at = 0.0 if model.known_inputs else s  # given clean, or noised to the step's time
                        x_num[table] = _put_back(known[table], x_num[table], gaussian, at, generator)
                        if not last:  # RePaint: back to time t, to be denoised again in harmony with the known
                            x_num[table] = _jumped_back(known[table], x_num[table], gaussian, s, t, generator)
                if logits and last:
                    _unmask(x_cat, table, chosen[table], logits, known.get(table), generator)
    bar.close()
    return x_num, x_cat


def _passes(model, graph, blocks, memory_gb, fanout, generator, device):
    """The rows' structure inputs, and the function that predicts, in each step, the noise and the
    logits of the moving tables' rows from their ``state`` (numbers, codes, times, structure inputs,
    known flags): layer-wise chunks of the whole graph when its state matrices fit the budget, else
    batches of K-hop neighbourhoods (as every rank's shard does under torchrun)."""
    budget = pass_budget(memory_gb)
    here = distributed.world()
    total = sum(graph.num_nodes.values())
    chunk = 0 if here.is_distributed else chunk_rows(total, budget, model.hidden)
    all_edges = {et: torch.from_numpy(graph.edge_index(et)) for et in graph.edge_types()}
    structure = model.structure_inputs(dict(graph.num_nodes), all_edges, blocks)
    if chunk:
        edges = to_device({et: capped(ei, fanout, generator) for et, ei in all_edges.items()}, device)
        del all_edges
        packed = model.pack({t: graph.num_nodes[t] for t in model.tables}, edges)

        def whole(state, chosen, moving):
            x, c, when, struct, flag, rows = to_device((*state, chosen), device)
            return to_device(model.forward_chunked(x, c, when, packed, rows, chunk, struct, flag), CPU)

        return structure, whole
    sampler = (
        KHopSampler(graph, num_hops=model.num_layers, max_neighbors=fanout, disjoint=False)
        if model.num_layers
        else None
    )
    batch_rows = pass_rows(budget, model.hidden)  # rows, neighbours included, a batch may hold

    def batched(state, chosen, moving):  # each batch's predictions come back to the CPU as they are made
        return _batched(model, graph, sampler, state, moving, batch_rows, chosen, device, here)

    return structure, batched


def _unmask(
    x_cat: dict[str, torch.Tensor],
    table: str,
    chosen: list[torch.Tensor],
    logits: list[torch.Tensor],
    held: Known | None,
    generator: torch.Generator,
) -> None:
    """The ``chosen`` cells of each categorical column of ``table`` drawn from their logits (one row
    of logits per chosen cell), in place; a cell to fill never draws its column's forbidden code."""
    picked = list(logits)
    for j, code in held.forbidden.items() if held is not None else ():
        picked[j] = picked[j].clone()
        picked[j][:, code] = -torch.inf
    if held is not None and held.probs is not None:
        _record(held.probs, chosen, picked, x_cat[table].shape[0])
    x_cat[table] = fill(x_cat[table], chosen, picked, generator)


def _record(probs: dict[int, torch.Tensor], chosen: list[torch.Tensor], logits: list[torch.Tensor], n: int) -> None:
    """The distributions the ``chosen`` rows of each categorical column are drawn from, into ``probs``."""
    for j, (rows, lg) in enumerate(zip(chosen, logits, strict=True)):
        if rows.numel():
            probs.setdefault(j, torch.zeros(n, lg.shape[1]))[rows] = torch.softmax(lg.float(), dim=1)


def _start(model, graph, fixed_num, fixed_cat, known, generator):
    """The rows' states before the first step: noise and masks, the kept tables' and known values."""
    x_num, x_cat, mask_codes = {}, {}, {}
    for table, spec in model.tables.items():
        n = graph.num_nodes[table]
        mask_codes[table] = torch.tensor(spec.cardinalities, dtype=torch.long)
        if table in fixed_num:
            x_num[table], x_cat[table] = fixed_num[table], fixed_cat[table]
        else:
            x_num[table] = torch.randn((n, spec.num_numeric), generator=generator)
            x_cat[table] = mask_codes[table].expand(n, -1).clone()
            if table in known:
                x_cat[table] = torch.where(known[table].cat_mask, known[table].cat, x_cat[table])
                if model.known_inputs:
                    x_num[table] = torch.where(known[table].num_mask, known[table].num, x_num[table])
    return x_num, x_cat, mask_codes


def _noised(num, cat, t: float, mask_codes, gaussian: GaussianScheduler, masked: MaskedScheduler, generator):
    """Clean numbers and codes noised to time ``t``, as the forward process of training noises them."""
    when = torch.full((num.shape[0],), t)
    noise = torch.randn(num.shape, generator=generator, dtype=num.dtype)
    return gaussian.add_noise(num, when, noise), masked.add_noise(cat, when, mask_codes, generator)[0]


def _put_back(
    held: Known, x_num: torch.Tensor, gaussian: GaussianScheduler, s: float, generator: torch.Generator
) -> torch.Tensor:
    """``x_num`` with the known numbers put back, noised to time ``s`` (clean at ``s = 0``)."""
    if s <= 0:
        return torch.where(held.num_mask, held.num, x_num)
    noise = torch.randn(held.num.shape, generator=generator)
    noised = gaussian.add_noise(held.num, torch.full((held.num.shape[0],), s), noise)
    return torch.where(held.num_mask, noised, x_num)


def _jumped_back(
    held: Known, x_num: torch.Tensor, gaussian: GaussianScheduler, s: float, t: float, generator: torch.Generator
) -> torch.Tensor:
    """``x_num`` at time ``s`` noised forward to the later time ``t`` (one RePaint jump back), its known
    numbers left as they are."""
    noise = torch.randn(x_num.shape, generator=generator, dtype=x_num.dtype)
    return torch.where(held.num_mask, x_num, gaussian.noise_forward(x_num, s, t, noise))


def capped(edge_index: torch.Tensor, fanout: int, generator: torch.Generator) -> torch.Tensor:
    """At most ``fanout`` edges into each destination, drawn at random: the neighbourhoods the
    denoiser was trained on (a mean over 5 noisy neighbours is noisier than one over 30; measured on
    F1, column shapes 0.831 with capped neighbourhoods against 0.814 with all of them)."""
    if edge_index.shape[1] <= fanout:
        return edge_index
    dst = edge_index[1]
    order = torch.argsort(dst.double() + torch.rand(dst.shape, generator=generator, dtype=torch.float64))
    sorted_dst = dst[order]
    first = torch.searchsorted(sorted_dst, sorted_dst, side="left")
    keep = order[torch.arange(len(order)) - first < fanout]
    return edge_index[:, keep]


def _batched(model, graph, sampler, state, moving, batch_rows, logit_rows, device, here: World):
    """Predictions for every row of the moving tables, a batch of rows and its neighbourhood at a time,
    each batch at most ``batch_rows`` rows with its neighbours (per categorical column, logits for its
    rows in ``logit_rows`` only, in that order); ``state``: the rows' numbers, codes, times, structure
    inputs and known flags. Ranks (``here``) each predict a contiguous shard of every table's rows and
    share them, so that every rank takes the same step."""
    out = {}
    for table in moving:
        n = graph.num_nodes[table]
        eps_parts, logit_parts = [], []
        start, end = n * here.rank // here.size, n * (here.rank + 1) // here.size
        size = max(1, batch_rows // 64)
        while start < end:
            rows, held, (sub_nodes, seed_local, edges) = _fitting_batch(
                sampler, table, start, min(size, end - start), batch_rows
            )
            sel = torch.from_numpy(seed_local[table])
            wanted = {tb: [_NONE] * len(model.tables[tb].cardinalities) for tb in sub_nodes}
            wanted[table] = [sel[c[(c >= start) & (c < start + len(rows))] - start] for c in logit_rows[table]]
            inputs = (*_rows_of(state, sub_nodes), edges, wanted)
            x_num, x_cat, times, structure, flags, edges, wanted = to_device(inputs, device)
            found = model(x_num, x_cat, times, edges, logit_rows=wanted, structure=structure, known=flags)
            eps, logits = to_device(found[table], CPU)
            eps_parts.append(eps[sel])
            logit_parts.append(logits)
            start += len(rows)
            size = max(1, min(int(len(rows) * batch_rows / held), 2 * len(rows)))  # the next batch sized to fit
        out[table] = (eps_parts, logit_parts)
    shards = here.gather(out) if here.is_distributed else [out]
    return {table: _joined(model, table, [shard[table] for shard in shards]) for table in moving}


def _joined(model, table: str, shards) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A table's predicted noise and logits per categorical column, from its batches, shard by shard."""
    eps = torch.cat([e for eps_parts, _ in shards for e in eps_parts])
    batches = [lg for _, logit_parts in shards for lg in logit_parts]
    columns = len(model.tables[table].cardinalities)
    return eps, [torch.cat([b[j] for b in batches]) for j in range(columns)] if batches else []


def _fitting_batch(sampler, table: str, start: int, size: int, batch_rows: int):
    """Rows ``start`` to ``start + size`` of ``table`` (fewer, down to one, until their neighbourhood
    holds at most ``batch_rows`` rows), the rows that neighbourhood holds, and the neighbourhood:
    nodes, the seeds' positions, edges."""
    while True:
        rows = np.arange(start, start + size)
        if sampler is None:
            return rows, size, ({table: rows}, {table: np.arange(size)}, {})
        sub = sampler.sample({table: rows}, random_state=0)
        held = sum(len(v) for v in sub.nodes.values())
        if held <= batch_rows or size == 1:
            edges = {et: torch.from_numpy(ei) for et, ei in sub.edge_index.items()}
            return rows, held, (sub.nodes, sub.seed_local, edges)
        size = max(1, int(size * batch_rows / held * 0.9))


_NONE = torch.zeros(0, dtype=torch.long)


def _rows_of(state, nodes: dict[str, np.ndarray]) -> tuple[dict[str, torch.Tensor], ...]:
    """The numbers, codes, times, structure inputs and known flags of ``nodes`` (rows per table)."""
    idx = {tb: torch.from_numpy(r) for tb, r in nodes.items()}
    return tuple({tb: part[tb][i] for tb, i in idx.items() if tb in part} for part in state)
