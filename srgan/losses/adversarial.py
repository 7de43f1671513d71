"""The GAN losses, from the discriminator's logits (BCE-with-logits: the numerically sound
form of the paper's sigmoid + cross-entropy)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def generator_adversarial_loss(fake_logits: Tensor) -> Tensor:
    """Non-saturating -log D(G(LR)), from logits; must not be computed on detached logits."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """-log D(HR) - log(1 - D(G(LR))), batch means, from logits."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake
