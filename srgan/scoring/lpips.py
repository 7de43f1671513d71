"""LPIPS-Alex (Zhang et al. 2018): the v0.1 linear heads on an ImageNet AlexNet.

Library choice: `torchmetrics` (Lightning AI) rather than `lpips`. torchmetrics is
actively maintained and builds its backbones through torchvision's weights API,
while `lpips` 0.1.4 (2020, unmaintained) calls `alexnet(pretrained=...)`, which
torchvision deprecated in 0.13 and may drop, and prints on construction. Both
wheels ship byte-identical v0.1 heads (`alex.pth`), so the scores are the same.

Weights: the heads come from the torchmetrics wheel; the AlexNet backbone is
torchvision's `alexnet-owt-7be5be79.pth` (AlexNet_Weights.IMAGENET1K_V1), read
the way torchvision's weights API does, through its cache (`torch.hub.get_dir()/checkpoints`,
moved by TORCH_HOME), downloaded only the way torchvision does when online. We
build the network with torchmetrics' random-backbone switch and then load both
weight sets with strict key checks, so a score is never computed with random
weights: missing weights give no metric (or an SrganError), never a number.
"""

from __future__ import annotations

import contextlib
import importlib.resources
import logging
import pickle
import sys
from pathlib import Path

import torch
from torch import Tensor, nn

from srgan.core.errors import SrganError
from srgan.scoring.metrics import check_pair, shave

log = logging.getLogger(__name__)

# torchvision's AlexNet_Weights.IMAGENET1K_V1 (a test checks they agree). Written out so that an
# offline evaluation, which finds no weights, never imports torchvision and torchmetrics (seconds
# per stage process).
ALEXNET_URL = "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"
# AlexNet's two stride-2 max-pools after the stride-4 conv leave nothing below 31 px.
LPIPS_MIN_SIDE_PX = 31
_HEADS_PACKAGE = "torchmetrics.functional.image"
_HEADS_FILE = "lpips_models/alex.pth"  # LPIPS v0.1 linear heads for AlexNet
_N_HEADS = 5


def alexnet_weight_file() -> Path:
    """Where torchvision's cache keeps the AlexNet ImageNet weights.

    `torch.hub.get_dir()/checkpoints/alexnet-owt-7be5be79.pth`; the hub folder
    is `$TORCH_HOME/hub` (default ~/.cache/torch/hub) unless set_dir moved it.
    """
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(ALEXNET_URL).name


def lpips_head_file() -> Path:
    """The v0.1 LPIPS linear-head weights for AlexNet shipped in the torchmetrics wheel."""
    return Path(str(importlib.resources.files(_HEADS_PACKAGE).joinpath(_HEADS_FILE)))  # imports torchmetrics


class LpipsAlex(nn.Module):
    """Frozen LPIPS v0.1 on AlexNet; call it as metric(sr_img, hr_img, shave_px=0).

    Built only from explicit weights: `backbone_state` is a torchvision AlexNet
    state dict (keys `features.<i>.weight`/`.bias`; `classifier.*` is ignored),
    `head_state` the v0.1 heads (`lin<k>.model.1.weight`, k = 0..4). Every
    parameter of the network is loaded with a strict key check. Always in eval
    mode, no parameter requires grad. Use `load_lpips_alex` to get one.
    """

    def __init__(self, backbone_state: dict[str, Tensor], head_state: dict[str, Tensor]) -> None:
        from torchmetrics.functional.image.lpips import _NoTrainLpips

        super().__init__()
        # pretrained=False / pnet_rand=True: torchmetrics neither loads nor downloads
        # anything here; the random init is overwritten by the strict load below.
        self.net = _NoTrainLpips(pretrained=False, net="alex", pnet_rand=True, use_dropout=True, eval_mode=True)
        self.net.load_state_dict(self._full_state(backbone_state, head_state), strict=True)
        self.requires_grad_(False)
        self.eval()

    def _full_state(self, backbone_state: dict[str, Tensor], head_state: dict[str, Tensor]) -> dict[str, Tensor]:
        """Map torchvision / head keys onto the torchmetrics module's keys."""
        state: dict[str, Tensor] = {}
        for key in self.net.net.state_dict():  # e.g. "slice2.3.weight": features[3] of AlexNet
            _, index, param = key.split(".")
            source = f"features.{index}.{param}"
            if source not in backbone_state:
                raise KeyError(f"AlexNet state dict has no '{source}'")
            state[f"net.{key}"] = backbone_state[source]
        for k in range(_N_HEADS):
            source = f"lin{k}.model.1.weight"
            if source not in head_state:
                raise KeyError(f"LPIPS head state dict has no '{source}'")
            # lin<k> and lins.<k> are the same module registered twice.
            state[source] = head_state[source]
            state[f"lins.{k}.model.1.weight"] = head_state[source]
        return state

    def backbone_state_dict(self) -> dict[str, Tensor]:
        """The backbone's weights under torchvision's keys (`features.<i>.weight`/`.bias`)."""
        return {f"features.{key.split('.', 1)[1]}": value for key, value in self.net.net.state_dict().items()}

    def train(self, mode: bool = True) -> LpipsAlex:
        # Always eval: a metric, and AlexNet's dropout-free features must not change.
        return super().train(False)

    def forward(self, sr_img: Tensor, hr_img: Tensor, shave_px: int = 0) -> Tensor:
        """Per-image LPIPS-Alex distance; lower is better, 0 for identical images.

        sr_img, hr_img: (N, 3, H, W) float RGB in [0, 1], same shape; values
        outside are clamped, then mapped to [-1, 1] as LPIPS expects.
        shave_px: pixels removed from every border first; at least 31 px per
        side must remain. Returns float64 shape (N,) on the inputs' device,
        with no autograd graph.
        """
        with torch.no_grad():
            check_pair(sr_img, hr_img)
            sr, hr = shave(sr_img, shave_px), shave(hr_img, shave_px)
            if min(sr.shape[-2:]) < LPIPS_MIN_SIDE_PX:
                raise SrganError(
                    f"LPIPS-Alex needs at least {LPIPS_MIN_SIDE_PX} px per side, got "
                    f"{sr.shape[-2]}x{sr.shape[-1]} after shaving {shave_px} px; use larger images or a smaller shave."
                )
            device = next(self.net.parameters()).device
            sr = sr.detach().to(device=device, dtype=torch.float32).clamp(0.0, 1.0) * 2.0 - 1.0
            hr = hr.detach().to(device=device, dtype=torch.float32).clamp(0.0, 1.0) * 2.0 - 1.0
            distance = self.net(sr, hr, normalize=False)  # (N, 1, 1, 1)
            return distance.reshape(sr.shape[0]).to(device=sr_img.device, dtype=torch.float64)


def _read_heads() -> dict[str, Tensor]:
    # The heads ship inside the wheel; failing to read them is a broken install (a bug), not user-fixable.
    return torch.load(lpips_head_file(), map_location="cpu", weights_only=True)


def load_lpips_alex(device: torch.device, required: bool) -> tuple[LpipsAlex | None, str]:
    """Build LPIPS-Alex on `device`; returns (metric, "ok") or (None, reason).

    The AlexNet backbone comes through torchvision's weights API and cache (see
    `alexnet_weight_file`); when the file is absent torchvision tries to download
    it, which fails quickly offline. When the weights cannot be had: with
    required=False, log a warning and return (None, one-line reason starting
    "unavailable: ", naming the file but not the cache folder: the reason goes into the metrics
    files, which must not depend on the host); with required=True raise SrganError naming the file, the
    download URL and the cache folder. Never returns a metric with random weights.
    """
    target = alexnet_weight_file()
    try:
        # What torchvision's weights API does: the cache, else a download (with its hash check).
        # torch.hub announces downloads on stdout, which holds the CLI's JSON: send it to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            backbone_state = torch.hub.load_state_dict_from_url(ALEXNET_URL, progress=False, check_hash=True,
                                                                map_location="cpu", weights_only=True)
        metric = LpipsAlex(backbone_state, _read_heads())
    except (OSError, RuntimeError, ValueError, KeyError, EOFError, pickle.UnpicklingError) as e:
        # OSError covers urllib's URLError (offline, proxy, HTTP error) and an unwritable cache.
        detail = f"{type(e).__name__}: {e}"
        if target.is_file():
            problem = "unreadable or not AlexNet at"
            reason = (f"unavailable: AlexNet ImageNet weights {target.name} in torch's cache are unreadable or not "
                      f"AlexNet ({type(e).__name__})")
        else:
            problem = "not in"
            reason = f"unavailable: AlexNet ImageNet weights {target.name} not in torch's cache (offline?)"
    else:
        return metric.to(device), "ok"
    detail = detail.splitlines()[0]
    if required:
        raise SrganError(
            f"LPIPS-Alex needs torchvision's AlexNet ImageNet weights, which are {problem} {target} ({detail}); "
            f"download {ALEXNET_URL} and put it in the cache folder {target.parent} "
            "(set TORCH_HOME to move the cache: the folder is $TORCH_HOME/hub/checkpoints)."
        ) from None
    log.warning(
        "LPIPS-Alex is NOT computed: %s (%s). Put %s at %s to get it.",
        reason, detail, ALEXNET_URL, target,
    )
    return None, reason
