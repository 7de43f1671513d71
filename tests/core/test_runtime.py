"""srgan.core.runtime on the CPU: the Runtime record's behaviour, the device and precision resolved from params
(CUDA's branch with torch.cuda faked), joining a process group (torch.distributed faked) and seeding."""

from __future__ import annotations

import logging
import random

import numpy as np
import pytest
import torch
from torch import nn

from srgan.core import runtime as rt
from srgan.core.config import RuntimeParams
from srgan.core.errors import SrganError
from srgan.core.runtime import Runtime, resolve_eval_runtime, resolve_runtime, seed_everything, shutdown

CPU = torch.device("cpu")


def _params(**kw) -> RuntimeParams:
    values = {"device": "auto", "precision": "bf16", "channels_last": True, "compile": True, "cuda_graphs": "auto",
              "processes": 1, **kw}
    return RuntimeParams(**values)


def test_is_main_and_distributed() -> None:
    assert Runtime(CPU, None, False).is_main and not Runtime(CPU, None, False).distributed
    two = Runtime(CPU, None, False, rank=1, world_size=2)
    assert not two.is_main and two.distributed


def test_autocast_only_with_a_dtype_and_without_the_weight_cache() -> None:
    with Runtime(CPU, None, False).autocast():
        assert not torch.is_autocast_enabled("cpu")
    for dtype in (torch.bfloat16, torch.float16):  # bf16 is the CPU's default: fp16 shows the dtype is passed
        with Runtime(CPU, dtype, False).autocast():
            assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == dtype
            assert not torch.is_autocast_cache_enabled()


def test_prepare_model_and_to_device_move_and_lay_out_nhwc_only_when_asked() -> None:
    conv = Runtime(torch.device("meta"), None, True).prepare_model(nn.Conv2d(3, 8, 3))
    assert conv.weight.device.type == "meta" and conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert not conv.weight.is_contiguous()
    plain = Runtime(CPU, None, False).prepare_model(nn.Conv2d(3, 8, 3))
    assert plain.weight.is_contiguous()
    batch = torch.zeros(2, 3, 4, 5)
    nhwc = Runtime(torch.device("meta"), None, True).to_device(batch)
    assert nhwc.device.type == "meta" and nhwc.is_contiguous(memory_format=torch.channels_last)
    assert not nhwc.is_contiguous()
    assert Runtime(CPU, None, False).to_device(batch).is_contiguous()
    image = Runtime(torch.device("meta"), None, True).to_device(torch.zeros(3, 4, 5))  # 3-D: as it is
    assert image.device.type == "meta" and image.is_contiguous()


def test_barrier_and_shutdown_only_in_a_process_group(monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(rt.dist, "barrier", lambda: calls.append("barrier"))
    monkeypatch.setattr(rt.dist, "destroy_process_group", lambda: calls.append("destroy"))
    monkeypatch.setattr(rt.dist, "is_initialized", lambda: True)
    single, group = Runtime(CPU, None, False), Runtime(CPU, None, False, rank=0, world_size=2)
    single.barrier()
    shutdown(single)
    assert calls == []
    group.barrier()
    shutdown(group)
    assert calls == ["barrier", "destroy"]
    monkeypatch.setattr(rt.dist, "is_initialized", lambda: False)
    shutdown(group)
    assert calls == ["barrier", "destroy"]


def test_the_cpu_runs_fp32_eager_whatever_the_training_settings(monkeypatch, caplog) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    with caplog.at_level(logging.INFO, logger="srgan.core.runtime"):
        runtime = resolve_runtime(_params())
    assert runtime == Runtime(CPU, None, True, compile=False, cuda_graphs="auto")
    assert caplog.messages == ["device cpu, autocast None, channels_last True, compile False, CUDA graphs auto, "
                               "process 0 of 1"]
    assert resolve_runtime(_params(device="cpu", channels_last=False)).channels_last is False
    assert resolve_eval_runtime("auto") == Runtime(CPU, None, True, compile=False, cuda_graphs="never")
    with pytest.raises(SrganError) as error:
        resolve_runtime(_params(device="cuda"))
    assert str(error.value) == ("runtime.device is 'cuda' but no CUDA device is available; set runtime.device: auto "
                                "or cpu")


@pytest.fixture
def fake_cuda(monkeypatch):
    """torch.cuda claims a device; the backend flags the runtime sets start False and are restored afterwards
    (torch's flag objects take a set, not monkeypatch's delete)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    flags = ((torch.backends.cudnn, "benchmark"), (torch.backends.cudnn, "allow_tf32"),
             (torch.backends.cuda.matmul, "allow_tf32"))
    before = [getattr(module, name) for module, name in flags]
    for module, name in flags:
        setattr(module, name, False)
    yield
    for (module, name), value in zip(flags, before):
        setattr(module, name, value)


@pytest.mark.parametrize(("precision", "dtype"), [("fp32", None), ("bf16", torch.bfloat16), ("fp16", torch.float16)])
@pytest.mark.parametrize("device", ["auto", "cuda"])
def test_cuda_gets_autocast_compile_and_tf32(fake_cuda, caplog, device: str, precision: str, dtype) -> None:
    with caplog.at_level(logging.INFO, logger="srgan.core.runtime"):
        runtime = resolve_runtime(_params(device=device, precision=precision, compile=True))
    assert caplog.messages == [f"device cuda, autocast {dtype}, channels_last True, compile True, CUDA graphs auto, "
                               "process 0 of 1"]
    assert runtime == Runtime(torch.device("cuda"), dtype, True, compile=True, cuda_graphs="auto")
    assert torch.backends.cudnn.benchmark and torch.backends.cudnn.allow_tf32
    assert torch.backends.cuda.matmul.allow_tf32
    assert resolve_runtime(_params(device=device, compile=False)).compile is False
    assert resolve_runtime(_params(device="cpu")).device == CPU  # asked for the CPU: the CPU
    # evaluation: the device asked for, fp32, NHWC, eager, whatever training would use
    assert resolve_eval_runtime(device) == Runtime(torch.device("cuda"), None, True, compile=False,
                                                   cuda_graphs="never")
    assert resolve_eval_runtime("cpu").device == CPU


def _fake_dist(monkeypatch, initialized: bool = False) -> list:
    calls: list = []
    monkeypatch.setattr(rt.dist, "is_initialized", lambda: initialized)
    monkeypatch.setattr(rt.dist, "init_process_group", lambda backend: calls.append(("init", backend)))
    monkeypatch.setattr(rt.dist, "get_rank", lambda: 1)
    monkeypatch.setattr(rt.dist, "get_world_size", lambda: 3)
    return calls


def test_under_torchrun_the_cpu_joins_a_gloo_group(monkeypatch, caplog) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    calls = _fake_dist(monkeypatch)
    monkeypatch.setenv("WORLD_SIZE", "2")  # the smallest group
    monkeypatch.setenv("LOCAL_RANK", "1")
    with caplog.at_level(logging.INFO, logger="srgan.core.runtime"):
        runtime = resolve_runtime(_params())
    assert runtime == Runtime(CPU, None, True, compile=False, cuda_graphs="auto", rank=1, world_size=3)
    assert calls == [("init", "gloo")]
    assert caplog.messages[-1].endswith("process 1 of 3")
    calls.clear()
    _fake_dist(monkeypatch, initialized=True)
    monkeypatch.setattr(rt.dist, "init_process_group", lambda backend: calls.append(("init", backend)))
    assert resolve_runtime(_params()).world_size == 3 and calls == []  # a group already joined is kept


def test_under_torchrun_each_gpu_process_takes_its_local_rank(monkeypatch, fake_cuda) -> None:
    calls = _fake_dist(monkeypatch)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: calls.append(("set", device)))
    monkeypatch.setenv("WORLD_SIZE", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    runtime = resolve_runtime(_params())
    assert runtime.device == torch.device("cuda", 1) and (runtime.rank, runtime.world_size) == (1, 3)
    assert calls == [("set", torch.device("cuda", 1)), ("init", "nccl")]
    monkeypatch.setenv("LOCAL_RANK", "2")
    with pytest.raises(SrganError) as error:
        resolve_runtime(_params())
    assert str(error.value) == "process 2 has no GPU (only 2); lower runtime.processes"
    monkeypatch.delenv("LOCAL_RANK")
    calls.clear()
    assert resolve_runtime(_params()).device == torch.device("cuda", 0)  # LOCAL_RANK unset: 0


def test_seed_everything_seeds_python_numpy_and_torch() -> None:
    seed_everything(7)
    drawn = (random.random(), np.random.random(), torch.rand(1).item())
    random.seed(7)
    np.random.seed(7)
    torch.manual_seed(7)
    assert drawn == (random.random(), np.random.random(), torch.rand(1).item())
    seed_everything(8)
    assert random.random() != drawn[0]

