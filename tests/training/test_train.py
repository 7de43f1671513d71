"""srgan.training: the steps, the loop's outputs, epochs mode, best-so-far and the non-finite policy.

Tiny CPU runs (SRResNet 2 blocks x 8 channels, 32-px patches; 16-px patches where the
paper's discriminator takes part, which dominates a step's cost). Helpers: train_driver.py.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import srgan.training.graphs
import srgan.training.loop
import srgan.training.srgan
import srgan.training.task
import srgan.training.validation
from srgan.core.artifacts import load_checkpoint
from srgan.core.config import ModelParams
from srgan.core.errors import SrganError
from srgan.core.images import bicubic_downscale
from srgan.core.records import (
    GeneratorArchitecture,
    GeneratorRecord,
    ScoredCheckpoint,
    point_label,
    read_generator_record,
    read_summary,
)
from srgan.core.runtime import Runtime
from srgan.datasets.patches import (
    DevicePatches,
    PatchPlan,
    PatchSpec,
    StepInputs,
    device_batches,
    device_draws,
    loader_batches,
    patch_batches,
)
from srgan.datasets.prepared import EvalImage, TrainImage
from srgan.losses.content import ContentLoss
from srgan.losses.extractors import feature_content_loss
from srgan.nets.discriminator import Discriminator
from srgan.nets.srresnet import SRResNet
from srgan.training.ema import EMA
from srgan.training.graphs import CapturedStep, check_captured_lrs, use_cuda_graphs
from srgan.training.guard import StepGuard, StepHealth
from srgan.training.loop import TrainData, batch_feed
from srgan.training.srgan import GanContext, SRGANTask, gan_checks, gan_step
from srgan.training.srresnet import PretrainContext, SRResNetTask, pretrain_checks, pretrain_step
from srgan.training.step import StepContext, lr_factor
from srgan.training.validation import score_validation

from train_driver import (
    CPU,
    SCALE,
    TINY,
    execution,
    images,
    run_srgan,
    run_srresnet,
    srgan_params,
    srresnet_params,
)

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _pretrain(gen, content, opt, lr_img, hr_img, runtime=CPU, guard=None):
    """One `pretrain_step` with its context built from the pieces."""
    return pretrain_step(PretrainContext(gen, content, opt, StepContext(runtime, guard=guard)), lr_img, hr_img)


def _gan(gen, disc, content, opt_g, opt_d, lr_img, hr_img, weight, runtime=CPU, guard=None):
    """One `gan_step` (adversarial gradient on) with its context built from the pieces."""
    ctx = GanContext(gen, disc, content, opt_g, opt_d, weight, True, StepContext(runtime, guard=guard))
    return gan_step(ctx, lr_img, hr_img)


def _record(path: Path) -> GeneratorRecord:
    return read_generator_record(load_checkpoint(path), path)


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _finite(weights: dict[str, torch.Tensor]) -> bool:
    return all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())


# ---------------------------------------------------------------- schedules, EMA, the steps


def test_lr_schedules():
    assert lr_factor("constant", 50, 100, 0) == 1.0
    assert lr_factor("cosine", 0, 100, 0) == 1.0
    assert lr_factor("cosine", 50, 100, 0) == pytest.approx(0.5)
    assert lr_factor("cosine", 100, 100, 0) == pytest.approx(0.0, abs=1e-12)
    assert lr_factor("step", 9, 20, 10) == 1.0 and lr_factor("step", 10, 20, 10) == 0.1


def test_ema_tracks_weights_and_copies_integer_buffers():
    model = SRResNet(num_blocks=1, channels=4)
    ema = EMA(model, decay=0.5)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    model.body[0].bn1.num_batches_tracked.fill_(7)
    ema.update(model)  # warm-up decay min(0.5, 2/11)
    decay = 2 / 11
    for (name, avg), cur in zip(ema.model.named_parameters(), model.parameters()):
        expected = (cur - 1.0) * decay + cur * (1 - decay)
        assert torch.allclose(avg, expected, atol=1e-6), name
    assert ema.model.body[0].bn1.num_batches_tracked.item() == 7
    assert not any(p.requires_grad for p in ema.model.parameters())


def _hand_ema(initial: dict[str, np.ndarray], states: list[dict[str, np.ndarray]], skipped: list[bool],
              decay: float) -> dict[str, np.ndarray]:
    """The EMA by hand, in float64: each taken update n = 1, 2, ... keeps min(decay, (1 + n) / (10 + n)) of the
    average and takes the rest from the model; a skipped one changes nothing, its count included."""
    average, taken = {k: v.astype(np.float64) for k, v in initial.items()}, 0
    for state, skip in zip(states, skipped):
        if skip:
            continue
        taken += 1
        keep = min(decay, (1 + taken) / (10 + taken))
        average = {k: keep * average[k] + (1 - keep) * state[k] for k in average}
    return average


def _floats(model: torch.nn.Module) -> dict[str, np.ndarray]:
    return {k: v.detach().double().numpy().copy() for k, v in model.state_dict().items() if v.is_floating_point()}


def test_ema_weights_after_a_run_of_updates_are_the_hand_computed_average():
    """Twelve updates, some told their step was skipped (1.0), some not (0.0, or no flag), with decay 0.5: the
    warm-up weight (1 + n) / (10 + n) reaches the decay exactly at n = 8 and is cut to it after. Every float
    (weights and BatchNorm statistics) after every update is the float64 recursion's; the count is the taken
    updates'; the integer buffer is the last taken update's model's."""
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    rng = np.random.default_rng(0)
    initial = _floats(model)
    ema = EMA(model, decay=0.5)
    flags = [None, 0.0, 1.0, None, 0.0, 0.0, 1.0, 0.0, None, 0.0, 0.0, 1.0, 0.0, 0.0]
    states, skipped, last_taken = [], [], 0
    for k, flag in enumerate(flags, start=1):
        with torch.no_grad():
            for tensor in model.state_dict().values():
                if tensor.is_floating_point():
                    tensor.copy_(torch.from_numpy(rng.normal(size=tuple(tensor.shape))))
        model[1].num_batches_tracked.fill_(k)
        ema.update(model, skipped=None if flag is None else torch.tensor(flag))
        states.append(_floats(model))
        skipped.append(flag == 1.0)
        last_taken = k if flag != 1.0 else last_taken
        expected = _hand_ema(initial, states, skipped, decay=0.5)
        for name, value in _floats(ema.model).items():
            np.testing.assert_allclose(value, expected[name], rtol=1e-6, atol=1e-6, err_msg=f"update {k}: {name}")
        assert float(ema.updates) == skipped.count(False)
        assert ema.model[1].num_batches_tracked.item() == last_taken


def test_the_ema_a_task_keeps_is_the_hand_computed_average_of_its_taken_steps():
    """The path a training stage runs: TaskBase's step updates the EMA with the guard's found_inf. Three steps
    of which the second has a NaN loss (skipped), decay 0.2 (the warm-up 2/11, then cut to 0.2): the average
    is the hand recursion over the generator's weights after the first and third steps only."""
    p = srresnet_params(steps=3, ema_decay=0.2, lr_schedule="constant")
    torch.manual_seed(0)
    task = SRResNetTask(SRResNet(num_blocks=1, channels=8), _NaNAt(bad_call=2), p, 3, CPU)
    initial = _floats(task.generator)
    lr_img, hr_img = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32)
    states, found = [], []
    for _ in range(3):
        task.train_step(lr_img, hr_img)
        states.append(_floats(task.generator))
        found.append(float(task.guard.found_inf))
    assert found == [0.0, 1.0, 0.0]
    expected = _hand_ema(initial, states, [False, True, False], decay=0.2)
    for name, value in _floats(task.ema.model).items():
        np.testing.assert_allclose(value, expected[name], rtol=1e-5, atol=1e-6, err_msg=name)
    assert float(task.ema.updates) == 2.0


def test_gan_step_gives_the_generator_adversarial_gradient():
    """The study's defect: a detached D output gave G no adversarial gradient."""
    torch.manual_seed(0)
    lr_img, hr_img = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32)
    content = ContentLoss({"mse": 1.0})
    grads = {}
    for weight in (0.0, 1.0):
        torch.manual_seed(1)
        gen, disc = SRResNet(num_blocks=1, channels=8), Discriminator(patch_px=32)
        opt_g = torch.optim.SGD(gen.parameters(), lr=0.0)
        opt_d = torch.optim.SGD(disc.parameters(), lr=0.0)
        _gan(gen, disc, content, opt_g, opt_d, lr_img, hr_img, weight, CPU)
        grads[weight] = torch.cat([p.grad.flatten() for p in gen.parameters()])
    difference = (grads[1.0] - grads[0.0]).abs().sum()
    assert difference > 1e-6 * grads[0.0].abs().sum()


def test_gan_step_updates_d_only_in_its_own_step():
    torch.manual_seed(0)
    gen, disc = SRResNet(num_blocks=1, channels=8), Discriminator(patch_px=32)
    opt_g = torch.optim.Adam(gen.parameters(), lr=1e-3)
    opt_d = torch.optim.Adam(disc.parameters(), lr=1e-3)
    before = [p.detach().clone() for p in disc.parameters()]
    scalars = _gan(gen, disc, ContentLoss({"mse": 1.0}), opt_g, opt_d,
                       torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32), 1e-3, CPU)
    assert all(math.isfinite(v) for v in scalars.values())
    assert 0 < scalars["d/real_prob"] < 1 and 0 < scalars["d/fake_prob"] < 1
    assert any(not torch.equal(b, p) for b, p in zip(before, disc.parameters()))
    assert all(p.requires_grad for p in disc.parameters())  # D is trainable again after the step


def test_pretrain_step_lowers_the_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    gen = SRResNet(num_blocks=1, channels=8)
    opt = torch.optim.Adam(gen.parameters(), lr=1e-3)
    lr_img, hr_img = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32)
    losses = [_pretrain(gen, ContentLoss({"mse": 1.0}), opt, lr_img, hr_img, CPU)["loss/content"]
              for _ in range(20)]
    assert losses[-1] < losses[0]


class _NaNAt(ContentLoss):
    """Pixel MSE that returns NaN on its n-th call: an injected non-finite loss."""

    def __init__(self, bad_call: int) -> None:
        super().__init__({"mse": 1.0})
        self.calls, self.bad_call = 0, bad_call

    def forward(self, sr_img, hr_img):
        self.calls += 1
        total, parts = super().forward(sr_img, hr_img)
        if self.calls == self.bad_call:
            parts = {"mse": torch.tensor(float("nan"))}
            total = total * float("nan")
        return total, parts


def _state(model: torch.nn.Module, opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """Weights, BatchNorm statistics and Adam's moments and step counts, copied."""
    out = {f"model.{k}": v.detach().clone() for k, v in model.state_dict().items()}
    for i, state in enumerate(opt.state.values()):
        out.update({f"adam.{i}.{k}": v.detach().clone() for k, v in state.items()})
    return out


def _reference_step(model, opt, lr_img, hr_img):
    """The textbook step, independent of srgan.training.step: forward, pixel MSE on [-1, 1], backward, Adam."""
    opt.zero_grad(set_to_none=True)
    loss = torch.nn.functional.mse_loss(model(lr_img), hr_img) * 4.0
    loss.backward()
    opt.step()
    return loss.detach()


def _fused_adam(model):
    return torch.optim.Adam(model.parameters(), lr=torch.tensor(1e-3), betas=(0.9, 0.999), fused=True)


def test_guarded_step_computes_what_the_textbook_step_computes():
    """The graph-ready step (guard, found_inf, BatchNorm snapshot) is the plain step when all is finite."""
    torch.manual_seed(0)
    models = [SRResNet(num_blocks=2, channels=8) for _ in range(2)]
    models[1].load_state_dict(models[0].state_dict())
    opts = [_fused_adam(m) for m in models]
    content = ContentLoss({"mse": 1.0})
    guard = StepGuard([models[0]], pretrain_checks(content), CPU)
    for i in range(4):
        lr_img, hr_img = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32)
        scalars = _pretrain(models[0], content, opts[0], lr_img, hr_img, CPU, guard=guard)
        expected_loss = _reference_step(models[1], opts[1], lr_img, hr_img)
        assert torch.equal(scalars["loss/content"], expected_loss)
    assert _same(_state(models[0], opts[0]), _state(models[1], opts[1]))  # bit for bit
    assert guard.health.read() == (0, 0, [])


@pytest.mark.parametrize("where", ["loss", "gradient"])
def test_a_non_finite_step_is_a_no_op_on_the_device_and_is_recorded(where):
    torch.manual_seed(0)
    model = SRResNet(num_blocks=1, channels=8)
    opt = _fused_adam(model)
    content = _NaNAt(bad_call=2) if where == "loss" else ContentLoss({"mse": 1.0})
    guard = StepGuard([model], pretrain_checks(content), CPU)
    lr_img, hr_img = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32)
    _pretrain(model, content, opt, lr_img, hr_img, CPU, guard=guard)
    before = _state(model, opt)
    if where == "gradient":
        model.tail.weight.register_hook(lambda g: g * float("inf"))  # finite loss, infinite gradient
    _pretrain(model, content, opt, lr_img, hr_img, CPU, guard=guard)
    # Weights, BatchNorm statistics, Adam's moments and its step count: all as before the step.
    assert _same(_state(model, opt), before)
    bad, first, failed = guard.health.read()
    assert (bad, first) == (1, 2)
    # A NaN loss makes NaN gradients too; an infinite gradient alone leaves the loss finite.
    assert failed == (["generator loss term 'mse'", "generator loss term 'content'", "generator gradient"]
                      if where == "loss" else ["generator gradient"])
    assert guard.health.read() == (0, 0, [])  # reading resets the window


@pytest.mark.parametrize("amp", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
def test_fast_path_code_runs_on_the_cpu(amp):
    """bf16/fp16 autocast, channels_last and the GradScaler path, through both tasks, on the CPU.

    A skipped non-finite step must leave the fp16 loss scaler usable for the next one.
    """
    runtime = Runtime(device=torch.device("cpu"), amp_dtype=amp, channels_last=True)
    p = srgan_params(steps=3, patch_px=16, grad_accumulation=2, lr_schedule="constant", ema_decay=0.9)
    # Batch 4 in 2 micro-batches: D's BatchNorm needs more than one value per channel (1x1 maps at 16 px).
    lr_img, hr_img = runtime.to_device(torch.rand(4, 3, 4, 4)), runtime.to_device(torch.rand(4, 3, 16, 16))
    torch.manual_seed(0)
    pretrain = SRResNetTask(SRResNet(num_blocks=1, channels=8), _NaNAt(bad_call=3), p, 3, runtime)
    assert pretrain.scaler.is_enabled() == (amp == torch.float16)
    assert pretrain.generator.tail.weight.is_contiguous(memory_format=torch.channels_last)
    scalars = dict(pretrain.train_step(lr_img, hr_img))  # calls 1, 2 (two micro-batches)
    pretrain.train_step(lr_img, hr_img)  # call 3 is NaN: skipped on the device
    assert pretrain.guard.health.read()[:2] == (1, 2)
    pretrain.end_step()
    scalars.update(pretrain.train_step(lr_img, hr_img))
    gan = SRGANTask(SRResNet(num_blocks=1, channels=8), Discriminator(patch_px=16), ContentLoss({"mse": 1.0}),
                    1e-3, p, 3, runtime)
    scalars.update(gan.train_step(lr_img, hr_img))
    assert all(np.isfinite(float(v)) for v in scalars.values())
    assert _finite(pretrain.generator.state_dict()) and _finite(gan.generator.state_dict())
    # Three steps, the second skipped: the average counts the two taken.
    assert _finite(pretrain.averaged.state_dict()) and float(pretrain.ema.updates) == 2


class _AtenOps(TorchDispatchMode):
    """Counts the ATen operators dispatched inside it (on the CPU as on CUDA: what an eager step launches)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def _aten_ops(fn) -> int:
    with _AtenOps() as ops:
        fn()
    return ops.count


def test_guard_and_ema_bookkeeping_costs_the_same_ops_at_any_depth():
    """The guard's buffer snapshot/restore and the EMA's integer copies work per dtype group, not per
    buffer: SRResNet-16 (33 BatchNorms, 99 buffers) dispatches no more ATen ops for them than SRResNet-2."""
    models = {}
    for blocks in (2, 16):
        torch.manual_seed(0)
        models[blocks] = SRResNet(num_blocks=blocks, channels=8)
    failed = torch.zeros(1, dtype=torch.bool)
    guards = {blocks: StepGuard([model], ["loss"], CPU) for blocks, model in models.items()}
    guard_ops = {blocks: _aten_ops(lambda g=guard: (g.begin(), g.decide(failed))) for blocks, guard in guards.items()}
    assert guard_ops[16] == guard_ops[2], guard_ops
    emas = {blocks: EMA(model, decay=0.9) for blocks, model in models.items()}
    for blocks, ema in emas.items():
        ema.update(models[blocks])  # sorts the model's tensors once
    ema_ops = {blocks: _aten_ops(lambda e=ema, m=models[blocks]: e.update(m)) for blocks, ema in emas.items()}
    assert ema_ops[16] == ema_ops[2], ema_ops
    skipped = torch.ones(())
    ema_ops = {blocks: _aten_ops(lambda e=ema, m=models[blocks]: e.update(m, skipped=skipped))
               for blocks, ema in emas.items()}
    assert ema_ops[16] == ema_ops[2], ema_ops


def _ema_state(ema: EMA) -> dict[str, torch.Tensor]:
    return {**{k: v.detach().clone() for k, v in ema.model.state_dict().items()}, "updates": ema.updates.clone()}


def test_a_skipped_step_leaves_the_ema_and_its_count_exactly_as_they_were():
    p = srresnet_params(steps=3, ema_decay=0.9, lr_schedule="constant")
    torch.manual_seed(0)
    task = SRResNetTask(SRResNet(num_blocks=1, channels=8), _NaNAt(bad_call=2), p, 3, CPU)
    lr_img, hr_img = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32)
    task.train_step(lr_img, hr_img)  # finite
    before = _ema_state(task.ema)
    task.train_step(lr_img, hr_img)  # NaN loss: skipped on the device
    assert task.guard.health.read()[:2] == (1, 2)
    assert _same(_ema_state(task.ema), before)  # weights, BatchNorm buffers (float and integer), count
    task.train_step(lr_img, hr_img)  # finite again: the average and its count move
    after = _ema_state(task.ema)
    assert float(after.pop("updates")) == 2.0
    assert not torch.equal(after["tail.weight"], before["tail.weight"])
    assert task.ema.model.body[0].bn1.num_batches_tracked.item() == 2  # the model's two taken steps


# ---------------------------------------------------------------- the loop's outputs


def test_train_srresnet_then_finetune_srgan_write_checkpoints_and_logs(tmp_path):
    summary = run_srresnet(tmp_path / "srresnet", srresnet_params(steps=3, valid_every=2, ema_decay=0.9))
    out = tmp_path / "srresnet" / "out"
    assert summary.steps == 3 and [h.step for h in summary.history] == [2, 3]
    assert read_summary(out) == summary
    assert json.loads((out / "summary.json").read_text())["steps"] == 3
    assert summary.scored == (ScoredCheckpoint("best", "best.pt", summary.best_step, "step", 3),)
    assert summary.last == ScoredCheckpoint("last", "last.pt", 3, "step", 3) and summary.scored[0].label == "best"
    timing = json.loads((tmp_path / "srresnet" / "logs" / "timing.json").read_text())
    assert timing["resumed_from_step"] == 0 and timing["train_step_s"] > 0
    assert timing["graphed"] is False and timing["graph_note"] == "runtime.cuda_graphs is never"
    for key in ("wall_s", "graph"):  # timings and how the steps ran stay out of what evaluation reads
        assert key not in (out / "summary.json").read_text()
    best = load_checkpoint(out / "best.pt")
    record = _record(out / "best.pt")
    assert (record.experiment, record.variant, record.step) == ("srresnet", "mse", summary.best_step)
    assert record.architecture == GeneratorArchitecture(SCALE, 2, 8, shared_bn=False, conv_bias=True)
    assert _record(out / "last.pt").step == 3
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "srresnet" / "logs").iterdir())
    rows = (tmp_path / "srresnet" / "plots" / "valid" / "psnr_y_db.tsv").read_text().splitlines()
    assert rows[0] == "step\tpsnr_y_db" and [r.split("\t")[0] for r in rows[1:]] == ["2", "3"]
    assert (tmp_path / "srresnet" / "plots" / "loss" / "content.tsv").is_file()
    assert not (tmp_path / "srresnet" / "state" / "resume.pt").exists()  # finished: only final artefacts
    # The live TensorBoard and plot files were published into logs/ and plots/, and the state folder is gone.
    assert not (tmp_path / "srresnet" / "state").exists()

    summary = run_srgan(tmp_path / "srgan", srgan_params(steps=2, patch_px=16, checkpoints=(1, 2)),
                        init_state=best["model"], loss=feature_content_loss({"mse": 0.6, "res18_4": 0.4}, "random"))
    out = tmp_path / "srgan" / "out"
    assert summary.scored == (ScoredCheckpoint("point", "step1/last.pt", 1, "step", 1),
                              ScoredCheckpoint("point", "step2/last.pt", 2, "step", 2))
    assert [c.label for c in summary.scored] == ["step1", "step2"]
    last = _record(out / "step2" / "last.pt")
    assert last.experiment == "srgan" and last.loss_terms == {"mse": 0.6, "res18_4": 0.4}
    assert last.feature_weights == {"mse": "none", "res18_4": "random"}
    assert _record(out / "step1" / "last.pt").step == 1
    assert summary.feature_weights["res18_4"] == "random" and summary.loss_terms == {"mse": 0.6, "res18_4": 0.4}
    assert (tmp_path / "srgan" / "plots" / "d" / "real_prob.tsv").is_file()


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_training_is_reproducible_byte_for_byte(tmp_path):
    """Two identical runs write the same bytes into every folder a later stage reads (models, plots):
    DVC hashes them, so two hosts training the same run must not look different. The logs may differ
    (TensorBoard names its files after the host and the time; timing.json)."""
    for run in ("a", "b"):
        run_srresnet(tmp_path / run / "srresnet", srresnet_params(steps=3, ema_decay=0.9))
        best = load_checkpoint(tmp_path / run / "srresnet" / "out" / "best.pt")["model"]
        run_srgan(tmp_path / run / "srgan", srgan_params(steps=2, patch_px=16, checkpoints=(1, 2)), init_state=best)
    for stage in ("srresnet", "srgan"):
        for folder in ("out", "plots"):
            a, b = _files(tmp_path / "a" / stage / folder), _files(tmp_path / "b" / stage / folder)
            assert a == b, f"{stage}/{folder} differs: {sorted(k for k in a if a[k] != b.get(k))}"
    assert {"summary.json", "best.pt", "last.pt"} <= set(_files(tmp_path / "a" / "srresnet" / "out"))
    assert {"summary.json", "step1/best.pt", "step1/last.pt", "step2/last.pt"} <= set(_files(tmp_path / "a" / "srgan" / "out"))


def test_execution_settings_change_no_published_byte_and_curve_every_decides_the_curves(tmp_path):
    """`execution` is declared by no stage, so it must not change what a stage publishes: logging every 4 steps
    (TensorBoard, the bar) and saving the resume state every 3 leave out/ and plots/ byte for byte as logging
    every step. The curves follow the declared `curve_every`: every 4 steps and the last."""
    runs = {"quiet": execution(), "busy": execution(log_every=4, checkpoint_every=3, progress=True)}
    for name, ex in runs.items():
        run_srresnet(tmp_path / name / "srresnet", srresnet_params(steps=6, ema_decay=0.9), ex=ex)
        run_srgan(tmp_path / name / "srgan", srgan_params(steps=6, patch_px=16, checkpoints=(3, 6)), ex=ex)
    for stage in ("srresnet", "srgan"):
        for folder in ("out", "plots"):
            a, b = _files(tmp_path / "quiet" / stage / folder), _files(tmp_path / "busy" / stage / folder)
            assert a == b, f"{stage}/{folder} differs: {sorted(k for k in a if a[k] != b.get(k))}"
        rows = (tmp_path / "quiet" / stage / "plots" / "lr.tsv").read_text().splitlines()
        assert [row.split("\t")[0] for row in rows] == ["step", "1", "2", "3", "4", "5", "6"]
    run_srresnet(tmp_path / "sparse", srresnet_params(steps=6, ema_decay=0.9, curve_every=4))
    for tag in ("loss/content", "lr", "bad_steps"):
        assert [row.split("\t")[0] for row in (tmp_path / "sparse" / "plots" / f"{tag}.tsv").read_text().splitlines()
                ] == ["step", "4", "6"], tag
    assert _files(tmp_path / "sparse" / "out") == _files(tmp_path / "quiet" / "srresnet" / "out")


# ---------------------------------------------------------------- epochs mode


def _plan(p, num_images: int) -> PatchPlan:
    return PatchPlan(unit=p.unit, length=p.length, batch_size=p.batch_size, num_images=num_images)


def test_epochs_count_steps_from_images_and_batch():
    p = srresnet_params(steps=0, epochs=3, batch_size=4)
    assert p.unit == "epoch" and _plan(p, 10).total_steps == 3 * 2  # 10 images at batch 4: 2 full batches
    assert _plan(p, 3).total_steps == 3  # a batch larger than the set: one step per epoch
    assert _plan(srresnet_params(steps=7), 10).total_steps == 7
    assert point_label("epoch", 100) == "epoch100" and point_label("step", 20) == "step20"


def _coloured_images(count: int) -> list[TrainImage]:
    """Flat images of distinct grey levels: a patch tells which image it came from."""
    flat = [np.full((40, 40, 3), 20 * i + 10, dtype=np.uint8) for i in range(count)]
    return [TrainImage(f"flat{i}", img, bicubic_downscale(img, SCALE)) for i, img in enumerate(flat)]


@pytest.mark.parametrize("count", [4, 5], ids=["4_images", "5_images"])
def test_each_epoch_shows_every_image_once_in_a_fresh_order(count):
    """batch 2: 2 steps per epoch; with 5 images one image per epoch sits out (as drop_last), never one twice."""
    p = srresnet_params(steps=0, epochs=4, batch_size=2, augment="none")
    _, valid = images()
    data = TrainData(_coloured_images(count), valid, SCALE, seed=0)
    torch.manual_seed(0)
    plan = _plan(p, count)
    feed = batch_feed(data, plan, p, execution())
    source = patch_batches(data.train_images, feed.spec, plan, 0, micro_batches=1, rank=0,
                           world_size=1, device=CPU.device, on_device=True, num_workers=0)
    assert source.cut is None  # the CPU loader: (LR, HR) batches
    batches = source.batches
    shown = [round(float(hr_img.mean()) * 255 - 10) // 20 for _, hr in batches for hr_img in hr]
    epochs = [shown[i : i + 4] for i in range(0, len(shown), 4)]
    assert len(epochs) == 4 == plan.total_steps // plan.steps_per_epoch
    for epoch in epochs:
        assert len(set(epoch)) == 4, f"an image twice in one epoch: {epochs}"
    assert len({tuple(epoch) for epoch in epochs}) > 1  # a fresh random order per epoch


def test_srgan_in_epochs_writes_epoch_folders(tmp_path):
    train, valid = images(count=5)
    p = srgan_params(steps=0, epochs=3, batch_size=2, patch_px=16, valid_every=1, checkpoints=(1, 3))
    summary = run_srgan(tmp_path, p, data=TrainData(train, valid, SCALE, 0))
    assert summary.steps_per_epoch == 2 and summary.steps == 6  # 5 images at batch 2: 2 steps per epoch
    assert summary.unit == "epoch"
    assert summary.scored == (ScoredCheckpoint("point", "epoch1/last.pt", 2, "epoch", 1),
                              ScoredCheckpoint("point", "epoch3/last.pt", 6, "epoch", 3))
    assert [c.label for c in summary.scored] == ["epoch1", "epoch3"]
    assert [h.step for h in summary.history] == [2, 4, 6]  # valid_every counts epochs
    assert sorted(f.name for f in (tmp_path / "out").iterdir()) == ["epoch1", "epoch3", "summary.json"]
    assert _record(tmp_path / "out" / "epoch1" / "last.pt").step == 2
    assert _record(tmp_path / "out" / "epoch3" / "last.pt").step == 6


# ---------------------------------------------------------------- best.pt


def test_best_pt_holds_exactly_the_best_validated_weights(tmp_path, monkeypatch):
    """Scripted validation scores (best at step 2 by the first point, at step 5 by the second);
    best.pt and last.pt of each point must hold the averaged (EMA) weights validated at those steps."""
    psnr_by_call = [10.0, 14.0, 12.0, 11.0, 16.0, 12.0]
    seen: list[dict[str, torch.Tensor]] = []

    def scripted(model, valid_images, scale, runtime, on_image=None):
        seen.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return psnr_by_call[len(seen) - 1], 0.5

    monkeypatch.setattr(srgan.training.validation, "score_validation", scripted)
    p = srgan_params(steps=6, patch_px=16, valid_every=1, ema_decay=0.9, checkpoints=(3, 6))
    summary = run_srgan(tmp_path, p)
    assert len(seen) == 6 and summary.best_step == 5 and summary.best_valid_psnr_y_db == 16.0
    weights = {step: seen[step - 1] for step in range(1, 7)}
    assert not _same(weights[2], weights[3]) and not _same(weights[5], weights[6])
    for point, best_step, last_step in (("step3", 2, 3), ("step6", 5, 6)):
        best = load_checkpoint(tmp_path / "out" / point / "best.pt")
        last = load_checkpoint(tmp_path / "out" / point / "last.pt")
        assert _same(best["model"], weights[best_step]), f"{point}/best.pt is not the step-{best_step} weights"
        assert _same(last["model"], weights[last_step]), f"{point}/last.pt is not the step-{last_step} weights"
        record = _record(tmp_path / "out" / point / "best.pt")
        assert record.step == best_step and record.valid_psnr_y_db == psnr_by_call[best_step - 1]


def test_best_pt_scores_what_its_validation_recorded(tmp_path):
    """Real validation: best.pt re-validated gives the recorded best score, at the recorded best step."""
    summary = run_srresnet(tmp_path, srresnet_params(steps=6, valid_every=1, ema_decay=0.5))
    history = {h.step: h for h in summary.history}
    assert sorted(history) == [1, 2, 3, 4, 5, 6]
    best_step = max(history, key=lambda s: history[s].valid_psnr_y_db)
    assert summary.best_step == best_step
    _, valid = images()
    for name, step in (("best.pt", best_step), ("last.pt", 6)):
        ckpt = load_checkpoint(tmp_path / "out" / name)
        model = SRResNet(scale=SCALE, num_blocks=TINY.num_blocks, channels=TINY.channels)
        model.load_state_dict(ckpt["model"])
        psnr_db, ssim = score_validation(model, valid, SCALE, CPU)
        assert _record(tmp_path / "out" / name).step == step
        assert round(psnr_db, 4) == history[step].valid_psnr_y_db, name
        assert round(ssim, 4) == history[step].valid_ssim_y, name


# ---------------------------------------------------------------- non-finite steps


def _nan_run(tmp_path, max_bad_steps, steps=6, bad_call=4, log_every=1, checkpoint_every=2):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    train = [TrainImage("a", img, bicubic_downscale(img, SCALE))]
    hr = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    data = TrainData(train, [EvalImage("v", bicubic_downscale(hr, SCALE), hr, False)], SCALE, 0)
    p = srresnet_params(steps=steps, augment="none", lr_schedule="constant", valid_every=steps,
                        curve_every=log_every, max_bad_steps=max_bad_steps)
    ex = execution(log_every=log_every, checkpoint_every=checkpoint_every)
    return run_srresnet(tmp_path, p, loss=_NaNAt(bad_call=bad_call), data=data, ex=ex,
                        model=ModelParams(1, 4, "pytorch"))


def test_non_finite_loss_stops_at_the_next_check_naming_the_step(tmp_path):
    """The NaN at step 5 is found at the next check (log_every 4: step 8); the run stops there,
    and the resume state saved at step 4 (checked clean) is left as the last good state."""
    with pytest.raises(SrganError) as err:
        _nan_run(tmp_path / "nan", max_bad_steps=0, steps=12, bad_call=5, log_every=4, checkpoint_every=4)
    message = str(err.value)
    assert ("non-finite generator loss term 'mse' (and generator loss term 'content', generator gradient) at step 5"
            in message)
    assert "by step 8" in message and "resume.pt" in message
    state = load_checkpoint(tmp_path / "nan" / "state" / "resume.pt")
    assert state["state"]["step"] == 4 and state["state"]["bad_steps"] == 0
    assert not (tmp_path / "nan" / "out" / "last.pt").exists()
    # That state is a clean 4-step run's (no EMA, constant learning rate): nothing of step 5 in it.
    _nan_run(tmp_path / "four", max_bad_steps=0, steps=4, bad_call=0)
    assert _same(state["model"], load_checkpoint(tmp_path / "four" / "out" / "last.pt")["model"])


def test_non_finite_steps_are_skipped_and_counted(tmp_path):
    summary = _nan_run(tmp_path, max_bad_steps=1)
    assert summary.bad_steps == 1 and summary.steps == 6
    assert _finite(load_checkpoint(tmp_path / "out" / "last.pt")["model"])
    rows = (tmp_path / "plots" / "bad_steps.tsv").read_text().splitlines()[1:]
    assert [r.split("\t")[1] for r in rows] == ["0", "0", "0", "1", "1", "1"]


def test_a_skipped_step_changes_nothing_the_next_steps_see(tmp_path):
    """Skipping step 2 of 3 gives the weights of a 2-step run on batches 1 and 3 (constant learning rate)."""
    batches = [(torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32)) for _ in range(3)]
    torch.manual_seed(0)
    skipping, plain = SRResNet(num_blocks=1, channels=8), SRResNet(num_blocks=1, channels=8)
    plain.load_state_dict(skipping.state_dict())
    opt_s, opt_p = _fused_adam(skipping), _fused_adam(plain)
    content = _NaNAt(bad_call=2)
    guard = StepGuard([skipping], pretrain_checks(content), CPU)
    for lr_img, hr_img in batches:
        _pretrain(skipping, content, opt_s, lr_img, hr_img, CPU, guard=guard)
    for lr_img, hr_img in (batches[0], batches[2]):
        _pretrain(plain, ContentLoss({"mse": 1.0}), opt_p, lr_img, hr_img, CPU)
    assert _same(_state(skipping, opt_s), _state(plain, opt_p))


def test_a_non_finite_discriminator_step_leaves_the_generator_at_the_last_good_step(tmp_path, monkeypatch):
    """A NaN in D's loss stops the run; the saved state must not hold G's update of that step."""
    p = srgan_params(steps=3, patch_px=16, lr_schedule="constant")
    calls = []
    real_loss = srgan.training.srgan.discriminator_loss

    def nan_at_third(real_logits, fake_logits):
        calls.append(1)
        loss = real_loss(real_logits, fake_logits)
        return loss * float("nan") if len(calls) == 3 else loss

    monkeypatch.setattr(srgan.training.srgan, "discriminator_loss", nan_at_third)
    with pytest.raises(SrganError, match=r"non-finite discriminator loss term 'discriminator' \(and discriminator gradient\) at step 3"):
        run_srgan(tmp_path / "nan", p)
    monkeypatch.setattr(srgan.training.srgan, "discriminator_loss", real_loss)
    saved = load_checkpoint(tmp_path / "nan" / "state" / "resume.pt")
    assert saved["state"]["step"] == 2
    run_srgan(tmp_path / "two", srgan_params(steps=2, patch_px=16, lr_schedule="constant"))
    after_two = load_checkpoint(tmp_path / "two" / "out" / "step2" / "last.pt")["model"]  # no EMA: raw weights
    assert _same(saved["task"]["networks"]["generator"], after_two)  # parameters and BatchNorm statistics


def test_a_non_finite_discriminator_step_skips_the_generator_step_too():
    """Both gradients are checked before either optimiser steps: D's NaN leaves G as it was."""
    torch.manual_seed(0)
    gen, disc = SRResNet(num_blocks=1, channels=8), Discriminator(patch_px=16)
    opt_g, opt_d = _fused_adam(gen), _fused_adam(disc)
    content = ContentLoss({"mse": 1.0})
    guard = StepGuard([gen, disc], gan_checks(content), CPU)
    lr_img, hr_img = torch.rand(4, 3, 4, 4), torch.rand(4, 3, 16, 16)
    _gan(gen, disc, content, opt_g, opt_d, lr_img, hr_img, 1e-3, CPU, guard=guard)
    before = {**_state(gen, opt_g), **{f"d.{k}": v for k, v in _state(disc, opt_d).items()}}
    disc.classifier[-1].weight.register_hook(lambda g: g * float("nan"))  # only D's gradient goes bad
    _gan(gen, disc, content, opt_g, opt_d, lr_img, hr_img, 1e-3, CPU, guard=guard)
    after = {**_state(gen, opt_g), **{f"d.{k}": v for k, v in _state(disc, opt_d).items()}}
    assert _same(after, before)
    assert guard.health.read() == (1, 2, ["discriminator gradient"])


# ---------------------------------------------------------------- no host synchronisation per step


@contextlib.contextmanager
def _no_host_reads():
    """Fail on any read of a tensor's value by the host (item, tolist, bool, float, int): on a GPU each
    is a synchronisation, and inside a CUDA graph capture an error."""
    names = ("item", "tolist", "__bool__", "__float__", "__int__")
    saved = {name: getattr(torch.Tensor, name) for name in names}

    def refuse(name):
        def read(self, *args, **kwargs):
            raise AssertionError(f"the step read a tensor's value on the host (Tensor.{name})")
        return read

    for name in names:
        setattr(torch.Tensor, name, refuse(name))
    try:
        yield
    finally:
        for name, method in saved.items():
            setattr(torch.Tensor, name, method)


@pytest.mark.parametrize("experiment", ["srresnet", "srgan"])
def test_a_whole_training_step_never_reads_a_value_on_the_host(experiment):
    """The graph-ready step: optimisers, guard, EMA and the schedule's update read nothing back."""
    p = srgan_params(steps=4, patch_px=16, ema_decay=0.9, lr_schedule="cosine")
    torch.manual_seed(0)
    if experiment == "srresnet":
        task = SRResNetTask(SRResNet(num_blocks=1, channels=8), ContentLoss({"mse": 1.0}), p, 4, CPU)
    else:
        task = SRGANTask(SRResNet(num_blocks=1, channels=8), Discriminator(patch_px=16),
                         feature_content_loss({"mse": 0.6, "res18_4": 0.4}, "random"), 1e-3, p, 4, CPU)
    lr_img, hr_img = torch.rand(4, 3, 4, 4), torch.rand(4, 3, 16, 16)
    task.train_step(lr_img, hr_img)  # the first step creates the optimisers' state
    task.end_step()
    with _no_host_reads():
        for _ in range(2):
            task.train_step(lr_img, hr_img)
            task.end_step()
    assert task.guard.health.read() == (0, 0, [])


@pytest.mark.parametrize("term", ["vgg19_5_4", "res34_3"])
def test_feature_extractors_train_channels_last_frozen_and_in_eval(term):
    """The tasks prepare the content loss as the generator (runtime.prepare_model: NHWC weights, no per-call
    conversion on CUDA), frozen and in eval mode, and it stays so through a step. On the CPU the NHWC weights
    give the very bits of the NCHW ones (oneDNN already ran NHWC for NHWC inputs): the loss and its gradient
    into sr_img are equal, so CPU runs (the default profile's numbers) do not move."""
    nhwc = Runtime(torch.device("cpu"), None, True)
    p = srgan_params(steps=2, patch_px=32)
    torch.manual_seed(0)
    task = SRGANTask(SRResNet(num_blocks=1, channels=8), Discriminator(patch_px=32),
                     feature_content_loss({"mse": 0.6, term: 0.4}, "random"), 1e-3, p, 2, nhwc)
    task.train_step(torch.rand(2, 3, 8, 8).contiguous(memory_format=torch.channels_last),
                    torch.rand(2, 3, 32, 32).contiguous(memory_format=torch.channels_last))
    (extractor,) = task.context.content_loss.extractors
    convs = [m.weight for m in extractor.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    assert not any(w.requires_grad for w in extractor.parameters())
    assert not any(m.training for m in task.context.content_loss.modules())

    nchw_loss = feature_content_loss({"mse": 0.6, term: 0.4}, "random")  # as the tasks had it: .to(device) only
    images = [torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(i)).contiguous(
        memory_format=torch.channels_last) for i in range(2)]
    results = []
    for loss in (nchw_loss, task.context.content_loss):
        sr_img = images[0].clone().requires_grad_(True)
        total, _ = loss(sr_img, images[1])
        total.backward()
        results.append((total.detach(), sr_img.grad))
    assert torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])


def test_cuda_graphs_apply_only_where_they_can():
    cuda = torch.device("cuda")
    assert use_cuda_graphs(Runtime(cuda, torch.bfloat16, True, cuda_graphs="auto"))[0]
    assert use_cuda_graphs(Runtime(cuda, None, True, cuda_graphs="required"))[0]
    assert not use_cuda_graphs(Runtime(cuda, torch.bfloat16, True, cuda_graphs="never"))[0]
    assert "CUDA only" in use_cuda_graphs(Runtime(torch.device("cpu"), None, True, cuda_graphs="required"))[1]
    assert "fp16" in use_cuda_graphs(Runtime(cuda, torch.float16, True, cuda_graphs="auto"))[1]
    assert "Distributed" in use_cuda_graphs(Runtime(cuda, None, True, cuda_graphs="auto", world_size=2))[1]


@pytest.mark.parametrize("why", ["fp16", "ddp"])
def test_graphs_that_cannot_apply_on_cuda_warn_for_auto_and_stop_for_required(why, caplog):
    cuda = torch.device("cuda")
    fields = {"amp_dtype": torch.float16} if why == "fp16" else {"amp_dtype": None, "world_size": 2}
    with caplog.at_level(logging.INFO, logger="srgan.training.graphs"):
        assert not srgan.training.graphs.graph_plan(Runtime(cuda, channels_last=True, cuda_graphs="auto", **fields))[0]
    assert [r.levelname for r in caplog.records] == ["WARNING"] and "eagerly" in caplog.text
    with pytest.raises(SrganError, match="runtime.cuda_graphs is required but CUDA graphs are not used with") as err:
        srgan.training.graphs.graph_plan(Runtime(cuda, channels_last=True, cuda_graphs="required", **fields))
    assert "\n" not in str(err.value)


def test_required_graphs_on_the_cpu_train_eagerly_and_say_so(caplog):
    p = srresnet_params(steps=2, ema_decay=0.9)
    runtime = Runtime(torch.device("cpu"), None, False, cuda_graphs="required")
    with caplog.at_level(logging.INFO, logger="srgan.training.graphs"):
        task = SRResNetTask(SRResNet(num_blocks=1, channels=8), ContentLoss({"mse": 1.0}), p, 2, runtime)
    assert [r.levelname for r in caplog.records] == ["INFO"] and "CUDA only" in caplog.text
    task.train_step(torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32))
    assert task.captured is None and not task.graphed and "CUDA only" in task.graph_note


class _CPUGraph:
    """The CPU stand-in for a captured CUDA graph: `replay` runs the step on the static inputs and
    leaves its results in the static outputs (the same dict), as a replayed graph does."""

    def __init__(self, step, inputs) -> None:
        self.step, self.inputs, self.outputs = step, inputs, {}

    def replay(self) -> None:
        self.outputs.update(self.step(*self.inputs))


def _cpu_capture(step, inputs):
    graph = _CPUGraph(step, inputs)
    return graph, graph.outputs


def _failing_capture(step, inputs):
    try:
        raise RuntimeError("CUDA error: operation not permitted when stream is capturing")
    except RuntimeError as e:
        raise RuntimeError("CUDA error: operation failed due to a previous error during capture") from e


def _captured_task(mode: str, capture) -> SRResNetTask:
    p = srresnet_params(steps=8, ema_decay=0.9, lr_schedule="cosine")
    torch.manual_seed(0)
    task = SRResNetTask(SRResNet(num_blocks=1, channels=8), ContentLoss({"mse": 1.0}), p, 8, CPU)
    task.captured = CapturedStep(task._eager_step, list(task.optimizers.values()), CPU.device, mode, capture)
    return task


def test_a_captured_step_replays_what_the_eager_step_computes():
    batches = [(torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32)) for _ in range(6)]
    captured = _captured_task("required", _cpu_capture)
    eager = _captured_task("required", _cpu_capture)
    eager.captured = None
    for i, (lr_img, hr_img) in enumerate(batches):
        outputs = {}
        for task in (captured, eager):
            outputs[task] = task.train_step(lr_img, hr_img)
            task.end_step()
        assert (outputs[captured] is captured.captured.outputs) == (i >= 3)  # replays from the 4th step
        assert torch.equal(outputs[captured]["loss/content"], outputs[eager]["loss/content"])
    assert captured.graphed and captured.graph_note == "captured after 3 eager warm-up steps"
    assert _same(captured.generator.state_dict(), eager.generator.state_dict())
    assert _same(captured.averaged.state_dict(), eager.averaged.state_dict())
    assert _same(_state(captured.generator, captured.optimizers["generator"]),
                 _state(eager.generator, eager.optimizers["generator"]))


def test_a_captured_step_stops_when_its_learning_rate_tensor_is_replaced():
    """An LR scheduler of torch < 2.4 assigns a number to param_groups' lr: the graph would not see it."""
    task = _captured_task("required", _cpu_capture)
    lr_img, hr_img = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32)
    for _ in range(5):
        task.train_step(lr_img, hr_img)
        task.end_step()  # torch >= 2.4: written into the captured tensor
    assert task.graphed
    group = task.optimizers["generator"].param_groups[0]
    check_captured_lrs(list(task.optimizers.values()), [group["lr"]])
    for replacement in (float(group["lr"]), group["lr"].clone()):
        group["lr"] = replacement
        with pytest.raises(SrganError, match="torch >= 2.4"):
            task.train_step(lr_img, hr_img)


def test_restoring_a_task_drops_its_captured_step():
    """load_state_dict replaces Adam's state and the learning-rate tensors a graph reads: capture afresh."""
    task = _captured_task("required", _cpu_capture)
    lr_img, hr_img = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32)
    for _ in range(5):
        task.train_step(lr_img, hr_img)
    old = task.captured
    assert task.graphed
    task.load_state_dict(task.state_dict())
    assert task.captured is not old and task.captured.graph is None and task.captured.calls == 0
    assert not task.graphed and task.captured.mode == "required" and task.captured.capture is _cpu_capture
    for _ in range(4):
        task.train_step(lr_img, hr_img)
    assert task.graphed and task.captured.lrs[0] is task.optimizers["generator"].param_groups[0]["lr"]


class _Streams:
    """CUDA's current-stream API (`torch.cuda.current_stream`, `set_stream`, `stream`) on a plain attribute:
    what `cuda_capture` and torch's graph context call, without a GPU."""

    def __init__(self, monkeypatch) -> None:
        self.current = "default stream"
        monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: self.current)
        monkeypatch.setattr(torch.cuda, "set_stream", self.set_stream)
        monkeypatch.setattr(torch.cuda, "stream", self.stream)

    def set_stream(self, stream) -> None:
        self.current = stream

    @contextlib.contextmanager
    def stream(self, stream):
        before, self.current = self.current, stream
        yield
        self.current = before


def test_cuda_capture_is_thread_local_and_hands_a_failed_graph_back(monkeypatch):
    """The capture call itself, with CUDA's graph objects recorded (no GPU here): thread_local mode, so
    another thread's CUDA call cannot spoil it; a failed capture resets its graph (frees its pool)."""
    calls = []
    _Streams(monkeypatch)

    class Graph:
        def reset(self):
            calls.append("reset")

    @contextlib.contextmanager
    def graph(g, capture_error_mode="global"):
        calls.append(capture_error_mode)
        yield

    monkeypatch.setattr(torch.cuda, "CUDAGraph", Graph)
    monkeypatch.setattr(torch.cuda, "graph", graph)
    inputs = (torch.ones(1), torch.ones(1))
    recorded, outputs = srgan.training.graphs.cuda_capture(lambda a, b: {"sum": a + b}, inputs)
    assert isinstance(recorded, Graph) and torch.equal(outputs["sum"], torch.full((1,), 2.0))
    assert calls == ["thread_local"]

    def failing(a, b):
        raise RuntimeError("operation not permitted when stream is capturing")

    with pytest.raises(RuntimeError, match="not permitted"):
        srgan.training.graphs.cuda_capture(failing, inputs)
    assert calls == ["thread_local", "thread_local", "reset"]


@pytest.mark.parametrize("fails_in", ["step", "capture_end", "capture_begin"])
def test_a_failed_capture_puts_the_threads_stream_back(monkeypatch, fails_in):
    """torch's own graph context (`torch.cuda.graph`), driven without a GPU: its __exit__ calls capture_end
    and only then leaves the capture stream, with no finally, so an invalidated capture (capture_end raises)
    would leave the thread capturing-stream-bound; `cuda_capture` puts the stream back in every case."""
    streams = _Streams(monkeypatch)
    events = []

    class Graph:
        def capture_begin(self, *pool, **options):
            events.append(("begin", streams.current))
            if fails_in == "capture_begin":
                raise RuntimeError("CUDA error: capture_begin failed")

        def capture_end(self):
            events.append(("end", streams.current))
            if fails_in in ("step", "capture_end"):
                raise RuntimeError("CUDA error: operation failed due to a previous error during capture")

        def reset(self):
            events.append(("reset", streams.current))

    for name in ("synchronize", "empty_cache"):
        monkeypatch.setattr(torch.cuda, name, lambda *a, **k: None)
    monkeypatch.setattr(torch._C, "_host_emptyCache", lambda: None, raising=False)
    monkeypatch.setattr(torch.cuda, "CUDAGraph", Graph)
    monkeypatch.setattr(torch.cuda.graph, "default_capture_stream", "capture stream")

    def step(a, b):
        if fails_in == "step":
            raise RuntimeError("operation not permitted when stream is capturing")
        return {"sum": a + b}

    with pytest.raises(RuntimeError):
        srgan.training.graphs.cuda_capture(step, (torch.ones(1), torch.ones(1)))
    assert ("begin", "capture stream") in events  # the capture ran on the capture stream
    assert streams.current == "default stream"
    assert events[-1] == ("reset", "default stream")  # the pool is handed back after the stream is


def test_a_failed_capture_goes_on_eagerly_for_auto_with_its_cause_logged(caplog):
    task = _captured_task("auto", _failing_capture)
    lr_img, hr_img = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32)
    with caplog.at_level(logging.WARNING, logger="srgan.training.graphs"):
        for _ in range(6):
            task.train_step(lr_img, hr_img)
            task.end_step()
    assert not task.graphed and task.captured.eager
    assert "operation not permitted when stream is capturing" in task.graph_note
    warning = caplog.text
    assert "previous error during capture" in warning and "operation not permitted when stream is capturing" in warning
    assert float(task.ema.updates) == 6  # every step was taken, eagerly
    assert task.guard.health.read() == (0, 0, [])


def test_a_failed_capture_stops_in_one_line_for_required(caplog):
    task = _captured_task("required", _failing_capture)
    lr_img, hr_img = torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32)
    for _ in range(3):
        task.train_step(lr_img, hr_img)
    with caplog.at_level(logging.ERROR, logger="srgan.training.graphs"), pytest.raises(SrganError) as err:
        task.train_step(lr_img, hr_img)
    message = str(err.value)
    assert "\n" not in message and "operation not permitted when stream is capturing" in message
    assert "runtime.cuda_graphs: auto" in message
    assert "previous error during capture" in caplog.text  # the whole chain is in the log


# ---------------------------------------------------------------- the sampler inside the step


def _draws_and_batches(augment: str, steps: int = 6) -> tuple[DevicePatches, list[torch.Tensor]]:
    """The device sampler on the CPU (the code that runs on CUDA) and `steps` batches of packed draws."""
    train, _ = images(count=3)
    spec = PatchSpec(patch_px=32, scale=SCALE, augment=augment, seed=0, per_epoch=False)
    patches = DevicePatches(train, spec, torch.device("cpu"))
    plan = PatchPlan(unit="step", length=steps, batch_size=2, num_images=len(train))
    return patches, [packed for (packed,) in device_draws(patches, plan, 0, 0, 1)]


@pytest.mark.parametrize("augment", ["flip_rot90", "rot10_hflip"])
def test_a_step_that_cuts_its_own_patches_trains_as_the_step_given_them(augment):
    """cut_in_step: eager, and captured with the cut inside the graph (the CPU stand-in replays the captured
    function on the static packed draws), each step trains exactly as the eager step on the cut patches."""
    patches, draws = _draws_and_batches(augment)
    eager_images, eager_cut, captured = (_captured_task("required", _cpu_capture) for _ in range(3))
    eager_images.captured = eager_cut.captured = None
    eager_cut.cut_in_step(patches.cut)
    captured.cut_in_step(patches.cut)
    for i, packed in enumerate(draws):
        lr_img, hr_img = patches.cut(packed)
        losses = [eager_images.train_step(lr_img, hr_img)["loss/content"].clone(),
                  eager_cut.train_step(packed)["loss/content"].clone(),
                  captured.train_step(packed)["loss/content"].clone()]
        for task in (eager_images, eager_cut, captured):
            task.end_step()
        assert torch.equal(losses[0], losses[1]) and torch.equal(losses[0], losses[2]), i
    assert captured.graphed and captured.captured.cut_inside
    assert captured.graph_note == "captured after 3 eager warm-up steps (patches cut inside the graph)"
    (static,) = captured.captured.inputs  # the graph's one input: the packed draws
    assert static.shape == (2, 7) and static.dtype == torch.int64
    for task in (eager_cut, captured):
        assert _same(task.generator.state_dict(), eager_images.generator.state_dict())
        assert _same(task.averaged.state_dict(), eager_images.averaged.state_dict())


def _fails_with_the_cut_inside(step, inputs):
    if len(inputs) == 1:  # the packed draws: the cut would be captured
        raise RuntimeError("CUDA error: operation not permitted when stream is capturing (in the cut)")
    return _cpu_capture(step, inputs)


def test_a_cut_that_cannot_be_captured_runs_before_the_graph_of_the_step(caplog):
    """The eager path of the sampler: when the capture with the cut inside fails, the step alone is captured
    (still graphed, even under `required`), the cut runs before each replay, and the cause is logged."""
    patches, draws = _draws_and_batches("flip_rot90")
    reference, task = _captured_task("required", _cpu_capture), _captured_task("required", _fails_with_the_cut_inside)
    reference.captured = None
    task.cut_in_step(patches.cut)
    with caplog.at_level(logging.WARNING, logger="srgan.training.graphs"):
        for packed in draws:
            reference.train_step(*patches.cut(packed))
            task.train_step(packed)
            for t in (reference, task):
                t.end_step()
    assert task.graphed and not task.captured.cut_inside and not task.captured.eager
    assert len(task.captured.inputs) == 2  # the graph reads the cut patches
    assert "patches cut before each replay" in task.graph_note and "(in the cut)" in task.graph_note
    assert "patch cut inside failed" in caplog.text and "(in the cut)" in caplog.text
    assert _same(task.generator.state_dict(), reference.generator.state_dict())


@pytest.mark.parametrize("augment", ["flip_rot90", "rot10_hflip"])
def test_the_loop_with_the_device_sampler_in_its_graphed_step_writes_what_the_cpu_loader_run_writes(
        tmp_path, monkeypatch, augment):
    """A whole run whose steps cut their own patches inside a captured step (the device sampler's route,
    with CUDA's capture stood in for on the CPU) writes the very bytes of the eager run on the CPU loader."""
    p = srresnet_params(steps=6, ema_decay=0.9, augment=augment, valid_every=3)
    run_srresnet(tmp_path / "loader", p)
    real_patch_batches = srgan.training.loop.patch_batches

    def device_route(images_, spec, plan, start_step, *, device, on_device, **kwargs):
        patches = DevicePatches(images_, spec, device)
        return StepInputs(device_draws(patches, plan, start_step, kwargs["rank"], kwargs["world_size"]), patches.cut)

    monkeypatch.setattr(srgan.training.loop, "patch_batches", device_route)
    monkeypatch.setattr(srgan.training.task, "graph_plan", lambda runtime: (True, "graphed (test)"))
    monkeypatch.setattr(srgan.training.task, "CapturedStep", functools.partial(CapturedStep, capture=_cpu_capture))
    run_srresnet(tmp_path / "device", p)
    assert real_patch_batches is not device_route
    for folder in ("out", "plots"):
        a, b = _files(tmp_path / "loader" / folder), _files(tmp_path / "device" / folder)
        assert a == b, f"{folder} differs: {sorted(k for k in a if a[k] != b.get(k))}"
    timing = json.loads((tmp_path / "device" / "logs" / "timing.json").read_text())
    assert timing["graphed"]
    assert timing["graph_note"] == "captured after 3 eager warm-up steps (patches cut inside the graph)"


@pytest.mark.parametrize("world", [1, 2])
@pytest.mark.parametrize("augment", ["flip_rot90", "rot10_hflip"])
def test_device_batches_are_the_cpu_loaders_batches_on_every_rank(world, augment):
    """The loop's two samplers give each process the same share of each global batch."""
    train, valid = images(count=3)
    p = srresnet_params(steps=3, batch_size=4, augment=augment)
    plan = _plan(p, len(train))
    feed = batch_feed(TrainData(train, valid, SCALE, 0), plan, p, execution())
    device = DevicePatches(train, feed.spec, torch.device("cpu"))
    for rank in range(world):
        cpu = torch.device("cpu")
        loader = loader_batches(train, feed.spec, plan, 0, 4 // world, rank, world, cpu, num_workers=0)
        on_device = device_batches(device, plan, 0, rank, world)
        for (lr_a, hr_a), (lr_b, hr_b) in zip(loader, on_device, strict=True):
            assert lr_a.shape[0] == 4 // world and torch.equal(lr_a, lr_b) and torch.equal(hr_a, hr_b)


def test_the_first_bad_step_of_a_window_is_the_one_reported():
    """Two bad steps between two reads: the record names the first one and its failed checks, not the later."""
    health = StepHealth(["loss 'a'", "gradient"], CPU.device)
    for failed in ([False, False], [True, False], [False, False], [False, True]):
        health.record(torch.tensor(failed))
    assert health.read() == (2, 2, ["loss 'a'"])
    assert health.read() == (0, 0, [])  # a read resets the window
    health.record(torch.tensor([False, True]))
    assert health.read() == (1, 5, ["gradient"])  # steps keep counting across windows
