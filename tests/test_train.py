import json
import math

import numpy as np
import pytest
import torch

from srgan.artifacts import load_checkpoint
from srgan.config import ModelParams, TrainParams
from srgan.data import EvalImage, bicubic_downscale
from srgan.losses import ContentLoss
from srgan.models import Discriminator, SRResNet
from srgan.runtime import Runtime
from srgan.train import EMA, StagePaths, finetune_srgan, gan_step, lr_factor, pretrain_srresnet, pretrain_step

CPU = Runtime(device=torch.device("cpu"), amp_dtype=None, channels_last=False)
TINY = ModelParams(num_blocks=2, channels=8)


def _train_params(steps=3, patch_px=32, **overrides):
    values = dict(
        steps=steps, batch_size=2, patch_px=patch_px, augment="flip_rot90", learning_rate=1e-3,
        lr_schedule="cosine", lr_decay_step=0, ema_decay=0.9, valid_every=2, log_every=1, num_workers=0,
        epochs=0, grad_accumulation=1, checkpoint_every=2, max_bad_steps=0,
    )
    values.update(overrides)
    return TrainParams(**values)


def _images(seed=0):
    rng = np.random.default_rng(seed)
    train = [(f"img{i}", rng.integers(0, 256, (48, 56, 3), dtype=np.uint8)) for i in range(2)]
    hr = rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)
    valid = [EvalImage("v0", bicubic_downscale(hr, 4), hr, False)]
    return train, valid


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
    ema.update(model)  # warm-up decay min(0.5, 2/11) = 0.1818...
    decay = 2 / 11
    for (name, avg), cur in zip(ema.model.named_parameters(), model.parameters()):
        expected = (cur - 1.0) * decay + cur * (1 - decay)
        assert torch.allclose(avg, expected, atol=1e-6), name
    assert ema.model.body[0].bn1.num_batches_tracked.item() == 7
    assert not any(p.requires_grad for p in ema.model.parameters())


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
        gan_step(gen, disc, content, opt_g, opt_d, lr_img, hr_img, weight, CPU)
        grads[weight] = torch.cat([p.grad.flatten() for p in gen.parameters()])
    difference = (grads[1.0] - grads[0.0]).abs().sum()
    assert difference > 1e-6 * grads[0.0].abs().sum()


def test_gan_step_updates_d_only_in_its_own_step():
    torch.manual_seed(0)
    gen, disc = SRResNet(num_blocks=1, channels=8), Discriminator(patch_px=32)
    opt_g = torch.optim.Adam(gen.parameters(), lr=1e-3)
    opt_d = torch.optim.Adam(disc.parameters(), lr=1e-3)
    before = [p.detach().clone() for p in disc.parameters()]
    scalars = gan_step(gen, disc, ContentLoss({"mse": 1.0}), opt_g, opt_d,
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
    losses = [pretrain_step(gen, ContentLoss({"mse": 1.0}), opt, lr_img, hr_img, CPU)["loss/content"] for _ in range(20)]
    assert losses[-1] < losses[0]


def test_pretrain_then_finetune_write_checkpoints_and_logs(tmp_path):
    train, valid = _images()
    summary = pretrain_srresnet(
        train_images=train, valid_images=valid, scale=4, model_params=TINY, train_params=_train_params(),
        loss_name="mse", content_loss=ContentLoss({"mse": 1.0}), seed=0, runtime=CPU,
        paths=StagePaths(tmp_path / "srresnet", tmp_path / "logs", tmp_path / "state", tmp_path / "plots"), progress=False,
    )
    assert summary["steps"] == 3 and [h["step"] for h in summary["history"]] == [2, 3]
    assert summary["best_step"] in (2, 3)
    assert json.loads((tmp_path / "srresnet" / "summary.json").read_text())["steps"] == 3
    best = load_checkpoint(tmp_path / "srresnet" / "best.pt")
    assert best["kind"] == "srresnet" and best["scale"] == 4 and best["content_loss"] == "mse"
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "logs").iterdir())
    rows = (tmp_path / "plots" / "valid" / "psnr_y_db.tsv").read_text().splitlines()
    assert rows[0] == "step\tpsnr_y_db" and [r.split("\t")[0] for r in rows[1:]] == ["2", "3"]
    assert not (tmp_path / "state" / "resume.pt").exists()  # finished runs keep only final artefacts

    summary = finetune_srgan(
        init_state=best["model"], train_images=train, valid_images=valid, scale=4, model_params=TINY,
        train_params=_train_params(steps=2, ema_decay=0.0), adversarial_weight=1e-3, loss_name="hybrid",
        content_loss=ContentLoss({"mse": 0.6, "res18_4": 0.4}, "random"), seed=0, runtime=CPU,
        paths=StagePaths(tmp_path / "srgan", tmp_path / "glogs", tmp_path / "gstate", tmp_path / "gplots"), progress=False,
    )
    last = load_checkpoint(tmp_path / "srgan" / "last.pt")
    assert last["kind"] == "srgan" and last["loss_terms"] == {"mse": 0.6, "res18_4": 0.4}
    assert last["feature_weights"] == {"mse": "none", "res18_4": "random"}
    assert summary["feature_weights"]["res18_4"] == "random"


def test_training_is_reproducible(tmp_path):
    train, valid = _images()
    states = []
    for run in ("a", "b"):
        pretrain_srresnet(
            train_images=train, valid_images=valid, scale=4, model_params=TINY, train_params=_train_params(),
            loss_name="mse", content_loss=ContentLoss({"mse": 1.0}), seed=3, runtime=CPU,
            paths=StagePaths(tmp_path / run, tmp_path / f"log{run}", tmp_path / f"state{run}", tmp_path / f"plots{run}"), progress=False,
        )
        states.append(load_checkpoint(tmp_path / run / "last.pt")["model"])
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key]), key
