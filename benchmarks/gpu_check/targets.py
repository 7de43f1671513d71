"""Speed targets of (d), per GPU model, and where each comes from.

The loop of (d) at the GPU profiles' precision (fp32, TF32 convolutions; batch 16, 96-px HR, the step
graphed with the patch cut inside): SRResNet-MSE and SRGAN + VGG19_5_4 steps/s. The stretch targets are
for bf16, and count only where bf16 parity (b) holds.

- H100 SXM: the targets set for the GPU path (issue 36): >= 150 / >= 60 steps/s at fp32, stretch
  300 / 120 with bf16. Measured on an H100 (once, an earlier code, eager fp32, plain Adam): SRResNet
  60 steps/s, SRGAN + VGG 25.
- H200: the H100 SXM's targets. Same GH100 compute (132 SMs, 1.98 GHz boost) with faster memory, and a
  step of hundreds of small kernels waits on launches and SMs, not on memory. Measured on an H200
  (2026-11-28, torch 2.11, commit e5b2714): eager fp32 52 and 22 steps/s; the SRResNet step captured whole
  by torch.compile(mode="reduce-overhead") with bf16, channels_last and fused Adam: 203 steps/s.
- H100 PCIe and A100: derived, never measured: the H100 SXM's targets times the ratio of SMs x boost
  clock (NVIDIA's datasheets: H100 SXM 132 x 1.98 GHz, H100 PCIe 114 x 1.755 GHz, A100 108 x 1.41 GHz),
  since graph replays of small kernels scale with how many SMs run them and how fast, and far less than
  the tensor-core peaks (TF32 dense: 495, 378, 156 TFLOPS) would suggest.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

H100_SXM_SM_GHZ = 132 * 1.98


@dataclass(frozen=True)
class ModelTargets:
    model: str
    sms: int  # streaming multiprocessors (NVIDIA datasheet)
    boost_ghz: float  # maximum boost clock (NVIDIA datasheet)
    srresnet: float  # fp32 graphed loop, steps/s
    srgan: float
    srresnet_stretch: float  # bf16 graphed loop, steps/s, where bf16 parity holds
    srgan_stretch: float
    eager_measured: tuple[float, float] | None  # eager fp32 steps/s measured on this model (SRResNet, SRGAN + VGG)
    source: str

    def as_dict(self) -> dict:
        return asdict(self)


def _scaled(model: str, sms: int, boost_ghz: float, source: str) -> ModelTargets:
    ratio = sms * boost_ghz / H100_SXM_SM_GHZ
    return ModelTargets(model, sms, boost_ghz, round(150 * ratio), round(60 * ratio), round(300 * ratio),
                        round(120 * ratio), None, f"{source}; derived: H100 SXM targets x {ratio:.2f} (SMs x boost "
                        "clock against 132 x 1.98 GHz), unmeasured")


TARGETS = (
    ModelTargets("H100 SXM", 132, 1.98, 150, 60, 300, 120, (60.0, 25.0),
                 "targets of issue 36 (an H100 at fp32; stretch with bf16); eager measured once on an H100"),
    ModelTargets("H200", 132, 1.98, 150, 60, 300, 120, (52.0, 22.0),
                 "the H100 SXM's (same SMs and clock); eager measured on an H200 2026-11-28 (torch 2.11, e5b2714)"),
    _scaled("H100 PCIe", 114, 1.755, "114 SMs x 1.755 GHz"),
    _scaled("A100", 108, 1.41, "108 SMs x 1.41 GHz"),
)


def model_of(device_name: str) -> str | None:
    """The row of TARGETS a CUDA device name belongs to ('NVIDIA H100 80GB HBM3' is an H100 SXM), or None."""
    name = device_name.upper()
    if "H200" in name:
        return "H200"
    if "H100" in name:
        if "PCIE" in name:
            return "H100 PCIe"
        return "H100 SXM" if "NVL" not in name else None
    if "A100" in name:
        return "A100"
    return None


def targets_for(device_name: str) -> ModelTargets | None:
    model = model_of(device_name)
    return next((t for t in TARGETS if t.model == model), None)
