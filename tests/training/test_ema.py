"""srgan.training.ema: what an EMA holds from its construction (the average's model, its update count's dtype and
device). The average's numbers after updates are pinned in test_train.py (the float64 hand recursion)."""

from __future__ import annotations

import pytest
import torch

from srgan.nets.srresnet import SRResNet
from srgan.training.ema import EMA

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return SRResNet(num_blocks=1, channels=4)


def test_a_new_ema_is_a_frozen_eval_copy_with_a_zero_count_on_the_models_device():
    """A model on another device than the default one (a CUDA generator under a CPU default; here the meta
    device): the count lives beside the average, not on the default device."""
    model = _model().to("meta").train()
    ema = EMA(model, decay=0.9)
    assert ema.updates.device == torch.device("meta") and ema.updates.dtype == torch.float32
    assert ema.updates.shape == ()
    assert ema.state_dict()["updates"].device == torch.device("meta")
    assert ema.model is not model and not ema.model.training and model.training
    assert all(p.device == torch.device("meta") and not p.requires_grad for p in ema.model.parameters())
    assert all(p.requires_grad for p in model.parameters())


def test_the_count_is_float32_whatever_the_default_dtype(float64_by_default):
    """The count is saved in the resume state and read by the update's fused kernels: float32 by name."""
    with torch.device("cpu"):
        model = _model().float()
    ema = EMA(model, decay=0.9)
    assert ema.updates.dtype == torch.float32 and ema.updates.device == torch.device("cpu")
    assert float(ema.updates) == 0.0
    ema.update(model)
    ema.update(model, skipped=torch.tensor(1.0, dtype=torch.float32))
    ema.update(model, skipped=torch.tensor(0.0, dtype=torch.float32))
    saved = ema.state_dict()["updates"]
    assert saved.dtype == torch.float32 and float(saved) == 2.0
