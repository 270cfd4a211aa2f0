"""Data-parallel training across processes with ``torch.distributed``, as ``torchrun`` starts them.

``torchrun --nproc-per-node N -m dbtwin fit ...`` starts N processes (ranks), each with ``RANK``,
``WORLD_SIZE``, ``LOCAL_RANK`` and a rendezvous address in its environment; :func:`join` connects them
(gloo on the CPU, NCCL between GPUs, each rank on the GPU of its local rank). Every rank reads the
data and prepares the same row graph and stages (the same seed gives the same ones); the denoiser is
wrapped in ``DistributedDataParallel``, each rank draws its own seed rows, a share of the batch, and
the gradients are averaged across ranks at every step, so N ranks train the model one process would
train on the whole batch. Decisions that end training (the time cap, early stopping) are taken
together, and only rank 0 writes checkpoints and the model.

Outside ``torchrun`` (or with one process) :func:`world` is a world of one and nothing here runs.
Inside :func:`alone` it is a world of one too: a rank drawing a shard of a sample on its own
(:mod:`dbtwin.synthesizer.shards`) denoises all of that shard's rows itself.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from dbtwin.errors import OptionError
from dbtwin.nn.device import available_cpus

log = logging.getLogger(__name__)

#: How long a rank waits for the others while sampling: in shards, for the first shard and for the
#: slowest rank's shards (training's collectives wait at most 30 minutes)
SAMPLE_WAIT_MINUTES = 12 * 60


@dataclass(frozen=True)
class World:
    """This process's place among the ranks training together (a world of one by default)."""

    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the one that writes and reports."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.size > 1

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` holds on any rank (every rank must call this at the same point)."""
        if not self.is_distributed:
            return flag
        value = torch.tensor([1.0 if flag else 0.0], device=_collective_device())
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return bool(value.item() > 0)

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """``values`` averaged over the ranks (every rank must call this with the same names in the same order)."""
        if not self.is_distributed or not values:
            return values
        tensor = torch.tensor(list(values.values()), dtype=torch.float64, device=_collective_device())
        dist.all_reduce(tensor)
        return dict(zip(values, (tensor / self.size).tolist(), strict=True))

    def gather(self, value: Any) -> list[Any]:
        """``value`` of every rank, by rank (pickled: for small objects such as random states)."""
        if not self.is_distributed:
            return [value]
        out: list[Any] = [None] * self.size
        dist.all_gather_object(out, value)
        return out

    def to_main(self, value: Any) -> list[Any] | None:
        """``value`` of every rank, by rank, on rank 0 (None on the others; pickled)."""
        if not self.is_distributed:
            return [value]
        out: list[Any] | None = [None] * self.size if self.is_main else None
        dist.gather_object(value, out, dst=0)
        return out

    def from_main(self, value: Any) -> Any:
        """Rank 0's ``value`` on every rank (pickled; the others' ``value`` is ignored)."""
        if not self.is_distributed:
            return value
        box = [value if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def total(self, value: int) -> int:
        """``value`` summed over the ranks."""
        if not self.is_distributed:
            return value
        tensor = torch.tensor([float(value)], dtype=torch.float64, device=_collective_device())
        dist.all_reduce(tensor)
        return int(tensor.item())


def launched() -> bool:
    """Whether ``torchrun`` (or another launcher setting ``WORLD_SIZE``) started more than one process."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False


def local_ranks() -> int:
    """How many ranks ``torchrun`` started on this machine (1 outside it): they share its memory."""
    if not launched():
        return 1
    try:
        return max(1, int(os.environ.get("LOCAL_WORLD_SIZE", os.environ.get("WORLD_SIZE", "1"))))
    except ValueError:
        return 1


def join(device: str | None = "auto", timeout_minutes: float = 30.0) -> World:
    """Connect this process to the ranks ``torchrun`` started (nothing to do for one process): gloo
    on the CPU, NCCL when ``device`` resolves to a GPU, each rank then on the GPU of its local rank.
    A launcher's environment that does not say where to meet is refused with :class:`OptionError`."""
    if dist.is_available() and dist.is_initialized():
        return world()
    if not launched():
        return World()
    for name in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
        if name not in os.environ:
            raise OptionError(
                "WORLD_SIZE", f"is above 1 but {name} is not set: start the ranks with torchrun (docs/scale.md)"
            )
    gpu = _wants_gpu(device)
    if gpu:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    else:  # the ranks on this machine share its CPUs
        torch.set_num_threads(max(1, min(torch.get_num_threads(), available_cpus() // local_ranks())))
    from datetime import timedelta

    dist.init_process_group("nccl" if gpu else "gloo", timeout=timedelta(minutes=timeout_minutes))
    here = world()
    if not here.is_main:  # one voice: the other ranks say only what goes wrong
        logging.getLogger("dbtwin").setLevel(logging.ERROR)
    log.info("rank %d of %d joined (%s)", here.rank, here.size, dist.get_backend())
    return here


def world() -> World:
    """The world this process trains in: torch.distributed's when it is initialised (and not
    :func:`alone`), else a world of one."""
    if _alone or not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(dist.get_rank(), dist.get_world_size())


_alone = False


@contextmanager
def alone() -> Iterator[None]:
    """Within it, :func:`world` is a world of one: this rank works on its own, with no collective."""
    global _alone
    before, _alone = _alone, True
    try:
        yield
    finally:
        _alone = before


def leave() -> None:
    """Disconnect from the other ranks (nothing to do outside a distributed run), once every rank is
    here: a rank that tears its connections down while another's gloo threads still use them can end
    that rank with SIGABRT at exit ("terminate called without an active exception")."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def wrap(model: torch.nn.Module, here: World) -> torch.nn.Module:
    """``model`` as the step's forward pass sees it: wrapped in ``DistributedDataParallel`` across the
    ranks of ``here`` (a table absent from one rank's batch leaves some weights unused on that rank,
    hence ``find_unused_parameters``), or itself in a world of one."""
    if not here.is_distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    first = next(model.parameters(), None)
    on_gpu = first is not None and first.device.type == "cuda"
    return DistributedDataParallel(model, device_ids=[first.device] if on_gpu else None, find_unused_parameters=True)


def _wants_gpu(device: str | None) -> bool:
    text = (device or "auto").strip().lower()
    return text.startswith("cuda") or (text == "auto" and torch.cuda.is_available())


def _collective_device() -> torch.device:
    """Where collectives' tensors live: the rank's GPU under NCCL, the CPU under gloo."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


__all__ = ["SAMPLE_WAIT_MINUTES", "World", "alone", "join", "launched", "leave", "local_ranks", "world", "wrap"]
