"""The device setting: what it accepts and refuses, batches moved there, CPU counts that follow a
container's quota."""

from __future__ import annotations

import pytest
import torch

from dbtwin.errors import OptionError
from dbtwin.nn.device import available_cpus, resolve_device, to_device, visible_devices


def test_auto_and_cpu_resolve_to_a_device_torch_sees():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device(None) == resolve_device("auto")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize("spec", ["gpu", "cuda:x", "tpu", "", "cuda:-1", 3])
def test_names_that_are_no_device_are_refused(spec):
    with pytest.raises(OptionError, match="device: must be one of auto, cpu, cuda or cuda:N"):
        resolve_device(spec)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
@pytest.mark.parametrize("spec", ["cuda", "CUDA:0", "cuda:1"])
def test_a_gpu_is_refused_where_torch_sees_none(spec):
    with pytest.raises(OptionError, match="torch sees none here; use cpu or auto"):
        resolve_device(spec)


def test_a_gpu_beyond_those_present_is_refused():
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if not count:
        pytest.skip("no GPU: the refusal above covers it")
    with pytest.raises(OptionError, match=f"asks for GPU {count}, but torch sees {count}"):
        resolve_device(f"cuda:{count}")


@pytest.mark.parametrize("device", visible_devices())
def test_nested_batches_move_and_keep_their_shape(device):
    batch = ({"a": torch.ones(2, 3)}, [torch.zeros(1), None], "text", (torch.arange(3),))
    moved = to_device(batch, torch.device(device))
    assert moved[0]["a"].device.type == torch.device(device).type and moved[1][1] is None and moved[2] == "text"
    assert torch.equal(moved[3][0].cpu(), torch.arange(3)) and isinstance(moved[3], tuple)


def test_cpus_follow_a_container_quota(tmp_path):
    cgroup = tmp_path / "cpu.max"
    cgroup.write_text("100000 100000\n")  # one CPU's worth
    assert available_cpus(cgroup) == 1
    cgroup.write_text("max 100000\n")
    unlimited = available_cpus(cgroup)
    assert unlimited >= 1 and available_cpus(tmp_path / "absent") == unlimited
    cgroup.write_text("50000 100000\n")  # half a CPU is still one thread
    assert available_cpus(cgroup) == 1
