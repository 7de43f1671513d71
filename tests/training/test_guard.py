"""srgan.training.guard: the non-finite record's tensors (dtype, device, counting past float32's integers), the
guard's skip flag as fused Adam reads it, the distributed decision (a fake all_reduce stands for the other
process), and the gradient check of networks without gradients. The whole guarded step is pinned in test_train.py.
"""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist

from srgan.core.runtime import Runtime
from srgan.training.guard import Health, StepGuard, StepHealth, nonfinite_grads

from train_driver import CPU

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

META = torch.device("meta")


# ---------------------------------------------------------------- nonfinite_grads


def _params(count: int, device: torch.device = CPU.device) -> list[torch.nn.Parameter]:
    return [torch.nn.Parameter(torch.ones(3, device=device)) for _ in range(count)]


@pytest.mark.parametrize("count", [0, 1, 2])
def test_networks_without_gradients_have_no_non_finite_gradient(count):
    """No parameter has a gradient (a frozen network, or none at all): one False flag, bool, shape (1,)."""
    flag = nonfinite_grads(_params(count))
    assert flag.dtype == torch.bool and flag.shape == (1,) and flag.device == CPU.device
    assert flag.tolist() == [False]


def test_the_flag_of_networks_without_gradients_is_on_their_device():
    """Parameters on another device than the default (a CUDA network; here the meta device): the flag is
    there too, as the gradients' flag would be."""
    flag = nonfinite_grads(_params(2, META))
    assert flag.device == META and flag.dtype == torch.bool and flag.shape == (1,)


@pytest.mark.parametrize("bad", [None, float("nan"), float("inf"), -float("inf")])
def test_one_non_finite_gradient_among_finite_ones_is_flagged(bad):
    params = _params(3)
    for p in params[:2]:
        p.grad = torch.full((3,), 1.0e18)  # large, and their norms' squares still fit in float32
    if bad is not None:
        params[1].grad[2] = bad
    flag = nonfinite_grads(params)
    assert flag.dtype == torch.bool and flag.shape == (1,) and flag.tolist() == [bad is not None]


# ---------------------------------------------------------------- StepHealth


def test_the_records_tensors_are_on_its_device_with_their_dtypes(float64_by_default):
    """On another device than the default (here meta) and under a float64 default: the step numbers and the
    count are int64, the failed checks bool, each on the record's device."""
    health = StepHealth(["loss 'a'", "loss 'b'", "gradient"], META)
    tensors = {"step": health.step, "bad": health.bad, "first_bad_step": health.first_bad_step,
               "first_bad_checks": health.first_bad_checks}
    assert {name: (t.device, t.dtype, tuple(t.shape)) for name, t in tensors.items()} == {
        "step": (META, torch.int64, ()), "bad": (META, torch.int64, ()), "first_bad_step": (META, torch.int64, ()),
        "first_bad_checks": (META, torch.bool, (3,))}


def test_step_numbers_past_float32s_integers_are_exact():
    """A run resumed at step 2**24 (float32 holds no odd integer above it): its next bad step is 2**24 + 1."""
    health = StepHealth(["loss 'a'", "gradient"], CPU.device)
    health.step.fill_(2**24)
    health.record(torch.tensor([False, False]))
    health.record(torch.tensor([False, True]))
    health.record(torch.tensor([True, True]))
    assert health.read() == Health(2, 2**24 + 2, ["gradient"])
    assert int(health.step) == 2**24 + 3


def test_a_read_gives_python_numbers_and_check_names():
    health = StepHealth(["loss 'a'", "gradient"], CPU.device)
    health.record(torch.tensor([True, True]))
    bad, first, failed = health.read()
    assert (type(bad), type(first), failed) == (int, int, ["loss 'a'", "gradient"]) and (bad, first) == (1, 1)


# ---------------------------------------------------------------- StepGuard


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))


def test_the_guards_tensors_are_on_the_runtimes_device():
    """A runtime on another device than the default (a CUDA run; here meta): the record and the skip flag are
    there, where the fused optimisers and the captured step read them."""
    runtime = Runtime(META, None, False)
    guard = StepGuard([_net().to(META)], ["loss", "gradient"], runtime)
    assert guard.found_inf.device == META and guard.found_inf.dtype == torch.float32
    assert {t.device for t in (guard.health.step, guard.health.bad, guard.health.first_bad_step,
                               guard.health.first_bad_checks)} == {META}


def test_the_skip_flag_is_float32_as_fused_adam_reads_it_whatever_the_default_dtype(float64_by_default):
    """Fused Adam stops on a float64 `found_inf` ("expected scalar type Float but found Double")."""
    with torch.device("cpu"):
        net = _net().float()
    guard = StepGuard([net], ["loss"], CPU)
    assert guard.found_inf.dtype == torch.float32 and guard.found_inf.shape == ()
    opt = torch.optim.Adam(net.parameters(), fused=True, lr=0.1)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    for failed, moves in ((True, False), (False, True)):
        net(torch.randn(5, 3, dtype=torch.float32)).square().sum().backward()
        before = [p.detach().clone() for p in net.parameters()]
        guard.begin()
        guard.decide(torch.tensor([failed]))
        assert float(guard.found_inf) == float(failed)
        guard.step(opt, scaler)
        assert [not torch.equal(a, p) for a, p in zip(before, net.parameters())] == [moves] * 4
        opt.zero_grad()


class _OtherProcess:
    """torch.distributed.all_reduce between this process and one other whose flags are `other`: MAX and SUM as
    the collective computes them; any other op is refused as torch refuses it."""

    def __init__(self, other: list[bool]) -> None:
        self.other, self.calls = torch.tensor(other), 0

    def __call__(self, tensor: torch.Tensor, op: dist.ReduceOp = dist.ReduceOp.SUM) -> None:
        self.calls += 1
        both = torch.stack([tensor.to(torch.int64), self.other.to(torch.int64)])
        if op == dist.ReduceOp.MAX:
            tensor.copy_(both.amax(0))
        elif op == dist.ReduceOp.SUM:
            tensor.copy_(both.sum(0))
        else:
            raise TypeError(f"all_reduce: unsupported op {op!r}")


@pytest.mark.parametrize(("mine", "other", "first_failed"), [
    ([False, False], [False, False], []),
    ([False, False], [False, True], ["gradient"]),  # only the other process saw it: both skip
    ([True, False], [False, True], ["loss", "gradient"]),
    ([True, False], [False, False], ["loss"]),
])
def test_under_ddp_every_process_skips_a_step_that_any_process_found_non_finite(monkeypatch, mine, other,
                                                                                  first_failed):
    """Two processes (rank 0 of 2; the other one's flags come through a fake all_reduce): a step is skipped, its
    BatchNorm statistics put back and its checks recorded when either process failed a check."""
    reduce = _OtherProcess(other)
    monkeypatch.setattr(dist, "all_reduce", reduce)
    runtime = Runtime(CPU.device, None, False, rank=0, world_size=2)
    net = _net().train()
    guard = StepGuard([net], ["loss", "gradient"], runtime)
    saved = [b.clone() for b in net.buffers()]
    guard.begin()
    net(torch.randn(6, 3))  # moves the running statistics and the batch count
    moved = [b.clone() for b in net.buffers()]
    guard.decide(torch.tensor(mine))
    skipped = bool(first_failed)
    assert reduce.calls == 1
    assert float(guard.found_inf) == float(skipped)
    expected = saved if skipped else moved
    assert all(torch.equal(b, e) for b, e in zip(net.buffers(), expected, strict=True))
    assert guard.health.read() == Health(int(skipped), 1 if skipped else 0, first_failed)
