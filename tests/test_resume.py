"""Issue 4: kill-and-resume, the non-finite guard, DDP under torchrun, the fast paths on the CPU."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from srgan.artifacts import load_checkpoint
from srgan.config import ModelParams, TrainParams
from srgan.data import EvalImage, bicubic_downscale
from srgan.errors import SrganError
from srgan.losses import ContentLoss
from srgan.models import Discriminator, SRResNet
from srgan.runtime import Runtime
from srgan.train import StagePaths, gan_step, pretrain_srresnet, pretrain_step

DRIVER = Path(__file__).with_name("train_driver.py")
CPU = Runtime(device=torch.device("cpu"), amp_dtype=None, channels_last=False)


def _env():
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]), OMP_NUM_THREADS="1")
    env.pop("WORLD_SIZE", None)
    return env


def _weights(path: Path) -> dict:
    return load_checkpoint(path)["model"]


def _assert_same(a: dict, b: dict, atol: float = 0.0) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if atol == 0.0:
            assert torch.equal(a[key], b[key]), key
        else:
            torch.testing.assert_close(a[key], b[key], atol=atol, rtol=0, msg=key)


def test_sigkill_then_rerun_equals_an_uninterrupted_run(tmp_path):
    steps = "400"
    subprocess.run([sys.executable, str(DRIVER), str(tmp_path / "straight"), steps, "4", "1"],
                   check=True, env=_env(), timeout=300)
    root = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, str(DRIVER), str(root), steps, "4", "1"], env=_env())
    resume = root / "state" / "resume.pt"
    deadline = time.time() + 120
    while not resume.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    killed_at = load_checkpoint(resume)["state"]["step"]
    assert 0 < killed_at < int(steps)
    assert not (root / "srresnet" / "last.pt").exists()

    subprocess.run([sys.executable, str(DRIVER), str(root), steps, "4", "1"], check=True, env=_env(), timeout=300)
    _assert_same(_weights(tmp_path / "straight" / "srresnet" / "last.pt"), _weights(root / "srresnet" / "last.pt"))
    summary = (root / "srresnet" / "summary.json").read_text()
    assert f'"resumed_from_step": {killed_at}' in summary
    assert not resume.exists()


def test_two_process_ddp_matches_one_process_with_the_same_global_batch(tmp_path):
    """2 gloo processes x 2 images == 1 process x 4 images in 2 micro-batches (BN per micro-batch)."""
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                    str(DRIVER), str(tmp_path / "ddp"), "6", "4", "1", "finetune"],
                   check=True, env=_env(), timeout=300)
    subprocess.run([sys.executable, str(DRIVER), str(tmp_path / "single"), "6", "4", "2", "finetune"],
                   check=True, env=_env(), timeout=300)
    for stage in ("srresnet", "srgan"):
        single, ddp = (_weights(tmp_path / run / stage / "last.pt") for run in ("single", "ddp"))
        # Trained parameters agree; BN running statistics do not take part in training and DDP
        # keeps rank 0's (broadcast_buffers), one process both micro-batches', so they are left out.
        params = [k for k in single if "running_" not in k and "num_batches" not in k]
        assert len(params) > 10
        _assert_same({k: single[k] for k in params}, {k: ddp[k] for k in params}, atol=1e-5)
    assert '"processes": 2' in (tmp_path / "ddp" / "srgan" / "summary.json").read_text()


class _NaNAt(ContentLoss):
    """MSE that returns NaN on its n-th call: an injected non-finite loss."""

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


def _tiny_run(tmp_path, loss, max_bad_steps):
    rng = np.random.default_rng(0)
    train = [("a", rng.integers(0, 256, (40, 40, 3), dtype=np.uint8))]
    hr = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    params = TrainParams(steps=6, epochs=0, batch_size=2, grad_accumulation=1, patch_px=32, augment="none",
                         learning_rate=1e-3, lr_schedule="constant", lr_decay_step=0, ema_decay=0.0,
                         valid_every=3, log_every=1, num_workers=0, checkpoint_every=2, max_bad_steps=max_bad_steps)
    return pretrain_srresnet(
        train_images=train, valid_images=[EvalImage("v", bicubic_downscale(hr, 4), hr, False)], scale=4,
        model_params=ModelParams(1, 4), train_params=params, loss_name="mse", content_loss=loss, seed=0,
        runtime=CPU, paths=StagePaths(tmp_path / "out", tmp_path / "logs", tmp_path / "state", tmp_path / "plots"), progress=False)


def test_non_finite_loss_stops_with_a_clear_message_and_keeps_the_last_good_state(tmp_path):
    with pytest.raises(SrganError) as err:
        _tiny_run(tmp_path, _NaNAt(bad_call=4), max_bad_steps=0)
    message = str(err.value)
    assert "non-finite generator loss term 'mse' at step 4" in message and "resume.pt" in message
    state = load_checkpoint(tmp_path / "state" / "resume.pt")
    assert state["state"]["step"] == 3  # the last good step; nothing of step 4 was applied
    assert all(torch.isfinite(v).all() for v in state["model"].values() if v.is_floating_point())
    assert not (tmp_path / "out" / "last.pt").exists()


def test_non_finite_steps_can_be_skipped_and_counted(tmp_path):
    summary = _tiny_run(tmp_path, _NaNAt(bad_call=4), max_bad_steps=1)
    assert summary["bad_steps"] == 1 and summary["steps"] == 6
    weights = _weights(tmp_path / "out" / "last.pt")
    assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())


def test_a_resume_checkpoint_of_other_inputs_is_ignored(tmp_path):
    with pytest.raises(SrganError):
        _tiny_run(tmp_path, _NaNAt(bad_call=4), max_bad_steps=0)
    # Same folders, different loss weights: the stale state must not be loaded.
    summary = _tiny_run(tmp_path, ContentLoss({"mse": 0.5}), max_bad_steps=0)
    assert summary["resumed_from_step"] == 0


@pytest.mark.parametrize("amp", [torch.bfloat16, torch.float16])
def test_fast_path_code_runs_on_the_cpu(amp):
    """bf16/fp16 autocast, channels_last and the GradScaler path, exercised on the CPU."""
    runtime = Runtime(device=torch.device("cpu"), amp_dtype=amp, channels_last=True)
    torch.manual_seed(0)
    gen = runtime.prepare_model(SRResNet(num_blocks=1, channels=8))
    disc = runtime.prepare_model(Discriminator(patch_px=32))
    lr_img, hr_img = runtime.to_device(torch.rand(2, 3, 8, 8)), runtime.to_device(torch.rand(2, 3, 32, 32))
    scaler = torch.amp.GradScaler("cpu", enabled=amp == torch.float16)
    opt_g, opt_d = torch.optim.Adam(gen.parameters()), torch.optim.Adam(disc.parameters())
    scalars = pretrain_step(gen, ContentLoss({"mse": 1.0}), opt_g, lr_img, hr_img, runtime, 2, scaler)
    scalars.update(gan_step(gen, disc, ContentLoss({"mse": 1.0}), opt_g, opt_d, lr_img, hr_img, 1e-3, runtime, 1, scaler))
    assert all(np.isfinite(float(v)) for v in scalars.values())
