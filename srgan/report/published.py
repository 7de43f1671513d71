"""The content-loss study's published numbers (its slides' tables), to show beside ours.

The study's protocol: PSNR on RGB in [0, 1] with no border removed (our
`psnr_rgb_db`) and, in its "SSIM" column, MS-SSIM (our `ms_ssim_rgb`). Its
hybrid columns are 0.7·mse + 0.3·X for SRResNet and 0.6·mse + 0.4·X for SRGAN;
here they sit under this project's default variant names. None = not reported.
These come from the study's code with the defects listed in docs/study.md, so they
are a reference point, not a target.
"""

from __future__ import annotations

VARIANTS = ("mse", "vgg19_5_4", "res18_4", "res34_3", "res34_5",
            "hybrid_vgg19_5_4", "hybrid_res18_4", "hybrid_res34_3", "hybrid_res34_5")
# The study's result rows: experiment 1 (SRResNet) and experiment 2 after 100 and 200 epochs.
ROWS = {"srresnet": "SRResNet", "epoch100": "SRGAN after 100 epochs", "epoch200": "SRGAN after 200 epochs"}

_N = None
# set -> row -> metric -> one value per VARIANTS entry
_TABLES: dict[str, dict[str, dict[str, tuple[float | None, ...]]]] = {
    "set5": {
        "srresnet": {
            "psnr_rgb_db": (23.13, 14.68, 16.79, 14.90, 14.58, 23.42, _N, 23.34, _N),
            "ms_ssim_rgb": (0.9348, 0.8186, 0.8017, 0.8287, 0.8184, 0.9379, _N, 0.9413, _N),
        },
        "epoch100": {
            "psnr_rgb_db": (23.07, 20.96, 20.44, 19.62, 19.24, 23.48, _N, 23.29, _N),
            "ms_ssim_rgb": (0.9364, 0.9073, 0.8717, 0.8891, 0.8769, 0.9426, _N, 0.9375, _N),
        },
        "epoch200": {
            "psnr_rgb_db": (24.17, 20.12, 20.21, 18.88, 18.75, _N, _N, _N, _N),
            "ms_ssim_rgb": (0.9470, 0.8926, 0.8917, 0.8754, 0.8706, _N, _N, _N, _N),
        },
    },
    "set14": {
        "srresnet": {
            "psnr_rgb_db": (21.73, 14.00, 16.29, 14.67, 14.37, 22.16, _N, 21.99, _N),
            "ms_ssim_rgb": (0.9090, 0.8064, 0.7812, 0.8104, 0.7989, 0.9112, _N, 0.9164, _N),
        },
        "epoch100": {
            "psnr_rgb_db": (21.73, 20.33, 19.59, 18.88, 18.42, 22.21, _N, 21.96, _N),
            "ms_ssim_rgb": (0.9106, 0.8920, 0.8485, 0.8561, 0.8494, 0.9197, _N, 0.9120, _N),
        },
        "epoch200": {
            "psnr_rgb_db": (22.50, 19.40, 19.29, 18.03, 18.02, _N, _N, _N, _N),
            "ms_ssim_rgb": (0.9203, 0.8783, 0.8462, 0.8465, 0.8449, _N, _N, _N, _N),
        },
    },
}


def published(set_name: str, row: str, metric: str, variant: str) -> float | None:
    """The study's value for (set, row, metric, variant), or None when it reported none.

    set_name is matched case-insensitively (Set5, set5); row is a ROWS key.
    """
    table = _TABLES.get(set_name.lower(), {}).get(row, {}).get(metric)
    if table is None or variant not in VARIANTS:
        return None
    return table[VARIANTS.index(variant)]


def reported_sets() -> tuple[str, ...]:
    """The sets the study reported (lower case)."""
    return tuple(_TABLES)
