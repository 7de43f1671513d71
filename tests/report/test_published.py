"""srgan.report.published: every cell of the study's published tables, the cells it did not report, and lookups
of a set, row, metric or variant it does not have."""

from __future__ import annotations

import pytest

from srgan.report.published import ROWS, VARIANTS, published, reported_sets

# The study's slides, retyped: per set, rows PSNR (RGB in [0, 1], no shave) and "SSIM" (MS-SSIM) of SRResNet,
# SRGAN after 100 and after 200 epochs; columns mse, vgg19_5_4, res18_4, res34_3, res34_5, then the hybrids with
# vgg19_5_4, res18_4, res34_3, res34_5; "-": not reported.
SLIDES = """
set5 srresnet psnr_rgb_db 23.13 14.68 16.79 14.90 14.58 23.42 - 23.34 -
set5 srresnet ms_ssim_rgb 0.9348 0.8186 0.8017 0.8287 0.8184 0.9379 - 0.9413 -
set5 epoch100 psnr_rgb_db 23.07 20.96 20.44 19.62 19.24 23.48 - 23.29 -
set5 epoch100 ms_ssim_rgb 0.9364 0.9073 0.8717 0.8891 0.8769 0.9426 - 0.9375 -
set5 epoch200 psnr_rgb_db 24.17 20.12 20.21 18.88 18.75 - - - -
set5 epoch200 ms_ssim_rgb 0.9470 0.8926 0.8917 0.8754 0.8706 - - - -
set14 srresnet psnr_rgb_db 21.73 14.00 16.29 14.67 14.37 22.16 - 21.99 -
set14 srresnet ms_ssim_rgb 0.9090 0.8064 0.7812 0.8104 0.7989 0.9112 - 0.9164 -
set14 epoch100 psnr_rgb_db 21.73 20.33 19.59 18.88 18.42 22.21 - 21.96 -
set14 epoch100 ms_ssim_rgb 0.9106 0.8920 0.8485 0.8561 0.8494 0.9197 - 0.9120 -
set14 epoch200 psnr_rgb_db 22.50 19.40 19.29 18.03 18.02 - - - -
set14 epoch200 ms_ssim_rgb 0.9203 0.8783 0.8462 0.8465 0.8449 - - - -
"""
COLUMNS = ("mse", "vgg19_5_4", "res18_4", "res34_3", "res34_5",
           "hybrid_vgg19_5_4", "hybrid_res18_4", "hybrid_res34_3", "hybrid_res34_5")


def _cells() -> list[tuple[str, str, str, str, float | None]]:
    out = []
    for line in SLIDES.strip().splitlines():
        set_name, row, metric, *values = line.split()
        assert len(values) == len(COLUMNS)
        out += [(set_name, row, metric, v, None if x == "-" else float(x)) for v, x in zip(COLUMNS, values)]
    return out


def test_every_cell_of_the_slides() -> None:
    assert VARIANTS == COLUMNS
    assert list(ROWS) == ["srresnet", "epoch100", "epoch200"]
    assert reported_sets() == ("set5", "set14")
    cells = _cells()
    assert len(cells) == 2 * 3 * 2 * 9
    for set_name, row, metric, variant, value in cells:
        assert published(set_name, row, metric, variant) == value, (set_name, row, metric, variant)


def test_set_names_match_in_any_case() -> None:
    assert published("Set5", "srresnet", "psnr_rgb_db", "mse") == 23.13
    assert published("SET14", "epoch200", "ms_ssim_rgb", "res34_5") == 0.8449


@pytest.mark.parametrize("set_name, row, metric, variant", [
    ("urban100", "srresnet", "psnr_rgb_db", "mse"),  # a set the study did not report
    ("set5", "srgan", "psnr_rgb_db", "mse"),  # not a row
    ("set5", "epoch100", "psnr_y_db", "mse"),  # a metric it did not report
    ("set5", "epoch100", "psnr_rgb_db", "bicubic"),  # not one of its variants
    ("set5", "epoch100", "psnr_rgb_db", "hybrid_res34_3 "),
    ("urban100", "srgan", "niqe_y", "bicubic"),
])
def test_what_the_study_did_not_report_is_none(set_name: str, row: str, metric: str, variant: str) -> None:
    assert published(set_name, row, metric, variant) is None
