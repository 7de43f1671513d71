"""srgan.training.task: the networks as a task trains them (SyncBatchNorm under DDP on CUDA, the DDP and compile
wrappers), the optimisers, schedules and loss scaler `TaskBase` builds, and what `load_state_dict` restores.

No GPU here: a runtime that says CUDA but keeps its models on the host (`_HostCuda`) and a stand-in for
DistributedDataParallel test the host-side choices; a one-process gloo group runs the real DDP wrapper.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

import srgan.training.task
from srgan.core.runtime import Runtime
from srgan.losses.content import ContentLoss
from srgan.nets.srresnet import SRResNet
from srgan.training.srresnet import SRResNetTask
from srgan.training.task import for_training, wrapped

from train_driver import CPU, srresnet_params

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

CUDA = torch.device("cuda")  # a device name only: nothing is put there


class _HostCuda(Runtime):
    """A CUDA runtime whose models stay where they are (the host-side logic of a CUDA run, without a GPU)."""

    def prepare_model(self, model: torch.nn.Module) -> torch.nn.Module:
        return model


def _generator() -> SRResNet:
    torch.manual_seed(0)
    return SRResNet(num_blocks=2, channels=4)


def _norms(model: torch.nn.Module) -> dict[str, str]:
    return {name: type(m).__name__ for name, m in model.named_modules() if "BatchNorm" in type(m).__name__}


# ---------------------------------------------------------------- for_training, wrapped


@pytest.mark.parametrize(("device", "world_size", "sync"), [
    (CUDA, 2, True), (CUDA, 1, False), (CPU.device, 2, False), (CPU.device, 1, False)])
def test_batchnorm_is_synchronised_across_processes_only_under_ddp_on_cuda(device, world_size, sync):
    """gloo has no SyncBatchNorm: on the CPU each process keeps its own BatchNorm, as does a single process."""
    model = _generator()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    runtime = _HostCuda(device, None, False, world_size=world_size)
    trained = for_training(model, runtime)
    assert trained is model
    norms = _norms(trained)
    assert len(norms) == 5  # two blocks of two, and the one after them
    assert set(norms.values()) == {"SyncBatchNorm" if sync else "BatchNorm2d"}
    after = trained.state_dict()
    assert after.keys() == before.keys() and all(torch.equal(after[k], v) for k, v in before.items())


def test_for_training_puts_the_model_in_the_runtimes_memory_format():
    trained = for_training(_generator(), Runtime(CPU.device, None, True, world_size=1))
    assert trained.head[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert set(_norms(trained).values()) == {"BatchNorm2d"}


class _FakeDDP(torch.nn.Module):
    """Records how DistributedDataParallel was built."""

    def __init__(self, module: torch.nn.Module, device_ids: list | None = None) -> None:
        super().__init__()
        self.module, self.device_ids = module, device_ids


@pytest.mark.parametrize(("device", "world_size", "device_ids"), [
    (CUDA, 2, [CUDA]), (CPU.device, 2, None), (CUDA, 1, "plain"), (CPU.device, 1, "plain")])
def test_ddp_wraps_the_model_on_its_gpu_or_on_the_cpu_only_with_several_processes(monkeypatch, device, world_size,
                                                                                   device_ids):
    monkeypatch.setattr(srgan.training.task, "DistributedDataParallel", _FakeDDP)
    model = _generator()
    seen = wrapped(model, _HostCuda(device, None, False, world_size=world_size))
    if device_ids == "plain":
        assert seen is model
    else:
        assert type(seen) is _FakeDDP and seen.module is model and seen.device_ids == device_ids


@pytest.fixture
def one_process_group():
    """A real gloo process group of one process, in this process."""
    dist.init_process_group("gloo", rank=0, world_size=1, store=dist.HashStore())
    yield
    dist.destroy_process_group()


def test_the_real_ddp_wrapper_holds_the_model_and_computes_what_it_computes(one_process_group):
    model = _generator().eval()
    seen = wrapped(model, Runtime(CPU.device, None, False, world_size=2))
    assert type(seen) is DistributedDataParallel and seen.module is model and seen.device_ids is None
    x = torch.rand(1, 3, 6, 6)
    assert torch.equal(seen(x), model(x))


@pytest.mark.parametrize("compile", [True, False])
def test_the_model_is_compiled_exactly_when_the_runtime_compiles(compile):
    model = _generator()
    seen = wrapped(model, Runtime(CPU.device, None, False, compile=compile))
    if compile:
        assert isinstance(seen, torch._dynamo.eval_frame.OptimizedModule) and seen._orig_mod is model
    else:
        assert seen is model


# ---------------------------------------------------------------- TaskBase: optimisers, schedules, scaler, graphs


def _task(runtime: Runtime = CPU, generator: SRResNet | None = None, **p) -> SRResNetTask:
    p = srresnet_params(**{"steps": 10, "ema_decay": 0.9, **p})
    return SRResNetTask(generator or _generator(), ContentLoss({"mse": 1.0}), p, p.steps, runtime)


def test_the_optimisers_are_fused_capturable_adam_with_a_float32_learning_rate_on_the_device(float64_by_default):
    """Built under another default device (meta) and dtype (float64) than the runtime's: the learning rate is a
    float32 tensor on the runtime's device, which the fused kernel and a captured graph read."""
    generator = _generator().float()
    with torch.device("meta"):
        task = _task(generator=generator, learning_rate=2.0**-10, lr_schedule="constant")
    (group,) = task.optimizers["generator"].param_groups
    assert (group["fused"], group["capturable"], group["betas"]) == (True, True, (0.9, 0.999))
    lr = group["lr"]
    assert isinstance(lr, torch.Tensor) and lr.dtype == torch.float32 and lr.device == CPU.device
    assert float(lr) == 2.0**-10


def _hand_factor(schedule: str, step: int, total: int, decay_step: int) -> float:
    if schedule == "cosine":
        return (1.0 + math.cos(math.pi * step / total)) / 2.0
    return 0.1 if schedule == "step" and step >= decay_step else 1.0


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")
@pytest.mark.parametrize(("schedule", "decay_step"), [("cosine", 0), ("step", 4), ("constant", 0)])
def test_the_learning_rate_follows_the_schedule_over_the_steps(schedule, decay_step):
    """The rate after `end_step` has been called s times is learning_rate x the schedule's factor at s (cosine to
    0 at the last step; step: x0.1 from lr_decay_step, at it and after, not before)."""
    task = _task(lr_schedule=schedule, lr_decay_step=decay_step, learning_rate=1.0e-3)
    seen = []
    for _ in range(11):
        seen.append(task.learning_rate)
        task.end_step()
    expected = [1.0e-3 * _hand_factor(schedule, s, 10, decay_step) for s in range(11)]
    assert seen == pytest.approx(expected, rel=1e-6, abs=1e-12)
    if schedule == "step":
        assert seen[3] == pytest.approx(1.0e-3) and seen[4] == pytest.approx(1.0e-4)


FP16 = Runtime(CPU.device, torch.float16, False)  # fp16 loss scaling (a CUDA precision; its scaler runs here)


def test_fp16_has_a_loss_scaler_on_the_runtimes_device():
    """The scaler takes a new scale as a tensor on its own device only."""
    assert not _task().scaler.is_enabled()
    task = _task(FP16)
    assert task.scaler.is_enabled() and task.scaler.get_scale() == 65536.0
    assert float(task.scaler.scale(torch.tensor(1.0))) == 65536.0
    task.scaler.update(new_scale=torch.tensor(1024.0))
    assert task.scaler.get_scale() == 1024.0


@pytest.mark.parametrize("mode", ["auto", "required"])
def test_a_graphed_task_captures_its_eager_step_in_the_runtimes_mode(monkeypatch, mode):
    """Where graphs apply (CUDA; the plan is faked here) the captured step is the eager step, over the task's
    optimisers on the runtime's device, and keeps runtime.cuda_graphs: "required" stops where "auto" goes on."""
    monkeypatch.setattr(srgan.training.task, "graph_plan", lambda runtime: (True, "training steps run as CUDA graphs"))
    task = _task(Runtime(CPU.device, None, False, cuda_graphs=mode))
    captured = task.captured
    assert captured is not None and captured.mode == mode and captured.device == CPU.device
    assert captured.step == task._eager_step and captured.optimizers == [task.optimizers["generator"]]
    assert captured.graph is None and not task.graphed


# ---------------------------------------------------------------- TaskBase.load_state_dict


@pytest.mark.parametrize("saved_lr", [0.25, torch.tensor(0.25, dtype=torch.float64)],
                         ids=["python float", "float64 tensor"])
def test_a_restored_learning_rate_is_a_float32_tensor_on_the_device(saved_lr):
    """A saved rate as a Python float (optimisers without a tensor rate save it so) or a float64 tensor comes back
    as the fused kernel reads it; the group gains no other key."""
    task = _task(lr_schedule="constant")
    state = task.state_dict()
    state["optimizers"]["generator"]["param_groups"][0]["lr"] = saved_lr
    keys = set(task.optimizers["generator"].param_groups[0])
    restored = _task(lr_schedule="constant")
    restored.load_state_dict(state)
    (group,) = restored.optimizers["generator"].param_groups
    assert set(group) == keys
    assert isinstance(group["lr"], torch.Tensor) and group["lr"].dtype == torch.float32
    assert group["lr"].device == CPU.device and float(group["lr"]) == 0.25


def test_a_restored_learning_rate_lands_on_the_runtimes_device_not_the_hosts():
    """The saved rate comes back on the CPU (torch.load's map_location); it must move to the runtime's device,
    where the fused kernel and a captured graph read it. The meta device stands in for a GPU."""
    task = _task(lr_schedule="constant")
    state = task.state_dict()
    restored = _task(lr_schedule="constant")
    restored.runtime = dataclasses.replace(restored.runtime, device=torch.device("meta"))
    restored.load_state_dict(state)
    (group,) = restored.optimizers["generator"].param_groups
    assert group["lr"].device == torch.device("meta") and group["lr"].dtype == torch.float32


def test_the_loss_scalers_scale_and_growth_are_restored():
    task = _task(FP16)
    task.scaler.scale(torch.tensor(1.0))
    task.scaler.update(new_scale=512.0)
    task.scaler._growth_tracker.fill_(7)  # seven clean steps since the last change of scale
    state = task.state_dict()
    restored = _task(FP16)
    restored.load_state_dict(state)
    assert restored.scaler.get_scale() == 512.0 and restored.scaler.state_dict() == task.scaler.state_dict()
    assert restored.scaler.state_dict()["_growth_tracker"] == 7
