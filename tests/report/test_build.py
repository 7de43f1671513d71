"""Direct tests for srgan.report.build's functions, without whole report builds (tests/report/test_report.py does
those): the display strings, the grid crops (a fake generator that records the LR window it is given), the
captions, index.md and the files write_report writes (atomically), the intro's lines, the result groups,
per_image.csv, and what the figure builders pass to `srgan.report.figures` (recorded, never drawn)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from locales import ascii_locale
from torch import nn

from srgan.core.config import ReportParams
from srgan.core.errors import SrganError
from srgan.core.evaluation_records import AsRunScoring
from srgan.core.images import bicubic_upscale
from srgan.core.records import ScoredCheckpoint
from srgan.core.runtime import Runtime
from srgan.report import build
from srgan.report.build import (
    ReportFigure,
    _caption,
    _curve_figures,
    _file_stem,
    _grid_figures,
    _groups,
    _intro,
    _plane_figures,
    _sr_crop,
    describe_feature_weights,
    grid_crops,
    loss_mix,
    per_image_csv,
    write_report,
)
from srgan.report.curves import CHARTS
from srgan.report.figures import CropBox, GridPanel, PlanePanel, PlanePoint, ScalarSeries
from srgan.report.inputs import GridImage, Scored

SCALE = 4
CPU = Runtime(device=torch.device("cpu"), amp_dtype=None, channels_last=False)
BEST = ScoredCheckpoint("best", "best.pt", 500, "step", 500)
EPOCH100 = ScoredCheckpoint("point", "epoch100/last.pt", 1000, "epoch", 100)
EPOCH200 = ScoredCheckpoint("point", "epoch200/last.pt", 2000, "epoch", 200)


def _scored(experiment: str, variant: str, checkpoint: str, results: dict | None = None, **kw) -> Scored:
    point = {"best": BEST, "epoch100": EPOCH100, "epoch200": EPOCH200}.get(checkpoint)
    return Scored(experiment, variant, checkpoint, results or {}, kw.pop("weights", None),
                  kw.pop("feature_weights", {}), kw.pop("loss_terms", {}), point=point, **kw)


BICUBIC = Scored("bicubic", "bicubic", "bicubic", {}, None, {}, {})


# ---------------------------------------------------------------- display strings


def test_loss_mix_lists_each_term_and_weight_in_order() -> None:
    assert loss_mix({"mse": 0.6, "vgg19_5_4": 0.4}) == "mse: 0.6; vgg19_5_4: 0.4"
    assert loss_mix({"vgg19_5_4": 1.0}) == "vgg19_5_4: 1"
    assert loss_mix({}) == ""


def test_describe_feature_weights_leaves_out_pixel_terms() -> None:
    assert describe_feature_weights({"mse": "none", "vgg19_5_4": "imagenet", "res18_4": "random"}) \
        == "vgg19_5_4: imagenet; res18_4: random"
    assert describe_feature_weights({"mse": "none"}) == "none (pixel loss only)"
    assert describe_feature_weights({}) == "none (pixel loss only)"


def test_file_stem_replaces_each_run_of_odd_characters_with_one_underscore() -> None:
    assert _file_stem("set5_srgan_epoch100") == "set5_srgan_epoch100"
    assert _file_stem("my set/#1 (x).v-2") == "my_set_1_x_.v-2"
    assert _file_stem("a  b") == "a_b"
    assert _file_stem("Zz09") == "Zz09"


# ---------------------------------------------------------------- grid crops


class NearestGenerator(nn.Module):
    """Nearest-neighbour x4 upscaling that records each LR window it is given: its output crop is known exactly."""

    def __init__(self, num_blocks: int) -> None:
        super().__init__()
        self.num_blocks = num_blocks
        self.windows: list[tuple[int, int]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.windows.append(tuple(x.shape[2:]))
        return torch.nn.functional.interpolate(x, scale_factor=SCALE, mode="nearest")


def _lr(h: int = 30, w: int = 36, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _nearest(lr_u8: np.ndarray) -> np.ndarray:
    return np.repeat(np.repeat(lr_u8, SCALE, axis=0), SCALE, axis=1)


@pytest.mark.parametrize(("num_blocks", "crop", "window"), [
    # LR 60 x 72; crop rows 81..101 -> LR rows 20..ceil(101/4) = 26, cols 90..110 -> 22..ceil(110/4) = 28;
    # margin min(16, 8 + 2 * blocks): 10 LR px for 1 block, 14 for 3, 16 at 4 blocks (the cap, exactly) and for 5
    (1, CropBox(top=81, left=90, size_px=20), (6 + 20, 6 + 20)),
    (3, CropBox(top=81, left=90, size_px=20), (6 + 28, 6 + 28)),
    (4, CropBox(top=81, left=90, size_px=20), (6 + 32, 6 + 32)),
    (5, CropBox(top=81, left=90, size_px=20), (6 + 32, 6 + 32)),
    (1, CropBox(top=0, left=0, size_px=8), (2 + 10, 2 + 10)),  # clipped at the top-left
    (1, CropBox(top=232, left=280, size_px=8), (10 + 2, 10 + 2)),  # the bottom-right corner: LR rows 48..60
    (1, CropBox(top=44, left=48, size_px=16), (4 + 20, 4 + 20)),  # aligned: LR rows 11..15, no partial pixel
    (1, CropBox(top=45, left=49, size_px=15), (4 + 20, 4 + 20)),  # 45 // 4 = 11, ceil(60 / 4) = 15
    (1, CropBox(top=40, left=40, size_px=8), (2 + 20, 2 + 20)),  # LR 10..12: the margin reaches row 0 exactly
])
def test_sr_crop_runs_on_a_window_of_margin_lr_px_and_returns_the_crop_of_the_whole(
        num_blocks: int, crop: CropBox, window: tuple[int, int]) -> None:
    lr_u8 = _lr(60, 72)
    generator = NearestGenerator(num_blocks)
    item = GridImage("set", "img", _nearest(lr_u8), lr_u8, crop)
    out = _sr_crop(generator, item, SCALE, CPU)
    assert generator.windows == [window]
    np.testing.assert_array_equal(out, crop.cut(_nearest(lr_u8)))


def test_sr_crop_window_rows_and_columns_independently() -> None:
    """Rows and columns of the window: top 41 -> LR 10, bottom ceil(61/4) = 16; left 50 -> 12, right ceil(70/4) =
    18; a margin of 10 clipped at 0 and at the image's 30 x 36."""
    lr_u8 = _lr(40, 60)
    generator = NearestGenerator(1)
    crop = CropBox(top=41, left=50, size_px=20)
    _sr_crop(generator, GridImage("s", "i", _nearest(lr_u8), lr_u8, crop), SCALE, CPU)
    assert generator.windows == [(min(40, 16 + 10) - max(0, 10 - 10), min(60, 18 + 10) - max(0, 12 - 10))]


def test_grid_crops_bicubic_is_the_crop_of_the_bicubic_upscale_and_each_generator_loads_once(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    lr_a, lr_b = _lr(20, 24, 1), _lr(24, 20, 2)
    items = [GridImage("s", "a", _nearest(lr_a), lr_a, CropBox(5, 7, 12)),
             GridImage("s", "b", _nearest(lr_b), lr_b, CropBox(30, 2, 16))]
    loads: list[tuple[Path, int]] = []
    generators: dict[Path, NearestGenerator] = {}

    def load(weights: Path, scale: int, runtime: Runtime):
        loads.append((weights, scale))
        generators[weights] = NearestGenerator(1)
        return generators[weights], None

    monkeypatch.setattr(build, "load_generator", load)
    models = [BICUBIC, _scored("srresnet", "mse", "best", weights=tmp_path / "a.pt"),
              _scored("srgan", "mse", "epoch100", weights=tmp_path / "b.pt")]
    crops = grid_crops(items, models, SCALE, CPU)
    assert list(crops) == ["bicubic", "srresnet/mse@best", "srgan/mse@epoch100"]
    assert loads == [(tmp_path / "a.pt", SCALE), (tmp_path / "b.pt", SCALE)]
    assert [len(g.windows) for g in generators.values()] == [2, 2]
    for i, (item, lr) in enumerate(zip(items, (lr_a, lr_b))):
        np.testing.assert_array_equal(crops["bicubic"][i], item.crop.cut(bicubic_upscale(lr, SCALE)))
        for name in ("srresnet/mse@best", "srgan/mse@epoch100"):
            np.testing.assert_array_equal(crops[name][i], item.crop.cut(_nearest(lr)))


# ---------------------------------------------------------------- captions


def _per_image(**niqe) -> pd.DataFrame:
    """Rows that differ in each key _caption selects on, so a wrong selection gives a wrong number."""
    rows = []
    for model, checkpoint, set_name, image, seed, psnr in [
            ("srgan/mse", "epoch200", "set5", "baby", 7, 26.0),  # another checkpoint
            ("srresnet/mse", "epoch100", "set5", "baby", 7, 25.0),  # another model
            ("srgan/mse", "epoch100", "set14", "baby", 7, 24.0),  # another set
            ("srgan/mse", "epoch100", "set5", "bird", 7, 23.0),  # another image
            ("srgan/mse", "epoch100", "set5", "baby", 8, 22.0),  # another seed
            ("bicubic", "bicubic", "set5", "baby", 0, 21.004),
            ("srgan/mse", "epoch100", "set5", "baby", 7, 27.3149)]:  # last: a missing condition picks another
        rows.append({"model": model, "checkpoint": checkpoint, "set": set_name, "image": image, "seed": seed,
                     "psnr_y_db": psnr, "ssim_y": psnr / 100, **niqe})
    return pd.DataFrame(rows)


BABY = GridImage("set5", "baby", np.zeros((8, 8, 3), np.uint8), np.zeros((2, 2, 3), np.uint8), CropBox(0, 0, 4))
SRGAN_MSE = _scored("srgan", "mse", "epoch100", seeds=(7, 8))


def test_caption_is_the_first_seeds_distortion_then_niqe_on_its_own_line() -> None:
    assert _caption(_per_image(niqe_y=3.14159), SRGAN_MSE, BABY) == "27.31 dB / 0.2731\nNIQE-Y 3.142"
    assert _caption(_per_image(niqe_y=3.14159), BICUBIC, BABY) == "21.00 dB / 0.2100\nNIQE-Y 3.142"  # seed 0


def test_caption_without_a_finite_niqe_has_one_line() -> None:
    assert _caption(_per_image(niqe_y=math.nan), SRGAN_MSE, BABY) == "27.31 dB / 0.2731"
    assert _caption(_per_image(niqe_y=math.inf), SRGAN_MSE, BABY) == "27.31 dB / 0.2731"
    assert _caption(_per_image(), SRGAN_MSE, BABY) == "27.31 dB / 0.2731"  # no NIQE column


def test_caption_of_an_image_without_a_row_names_it() -> None:
    item = GridImage("set5", "zebra", BABY.hr_u8, BABY.lr_u8, BABY.crop)
    with pytest.raises(SrganError) as error:
        _caption(_per_image(), SRGAN_MSE, item)
    assert str(error.value) == ("per-image metrics of srgan/mse@epoch100 have no row for set5/zebra; "
                                "re-run its evaluate stage")
    with pytest.raises(SrganError, match=r"^per-image metrics of srgan/mse@epoch100 have no row for set5/baby;"):
        _caption(_per_image(), _scored("srgan", "mse", "epoch100", seeds=(9,)), BABY)


# ---------------------------------------------------------------- per_image.csv, groups


def test_per_image_csv_puts_model_and_seed_first_with_four_decimals() -> None:
    table = pd.DataFrame({"set": ["set5", "set5"], "image": ["0801", "baby"], "seed": [1, 0],
                          "psnr_y_db": [27.123456, 30.0], "model": ["srgan/mse", "bicubic"]})
    assert per_image_csv(table) == ("model,seed,set,image,psnr_y_db\n"
                                    "srgan/mse,1,set5,0801,27.1235\n"
                                    "bicubic,0,set5,baby,30.0000\n")
    perfect = table.assign(psnr_y_db=[math.inf, math.nan])  # identical images; no score
    assert per_image_csv(perfect).splitlines()[1:] == ["srgan/mse,1,set5,0801,inf", "bicubic,0,set5,baby,"]


def test_groups_are_one_per_experiment_and_checkpoint_in_order_without_bicubic() -> None:
    mse100, vgg100 = _scored("srgan", "mse", "epoch100"), _scored("srgan", "vgg", "epoch100")
    mse200, vgg200 = _scored("srgan", "mse", "epoch200"), _scored("srgan", "vgg", "epoch200")
    res_mse, res_vgg = _scored("srresnet", "mse", "best"), _scored("srresnet", "vgg", "best")
    groups = _groups([BICUBIC, res_mse, res_vgg, mse100, mse200, vgg100, vgg200])
    assert groups == [
        ("Experiment 1: SRResNet per content loss (best validation PSNR-Y)", ("srresnet", "best"), [res_mse, res_vgg]),
        ("Experiment 2: SRGAN per content loss, from SRResNet-MSE (after 100 epochs)", ("srgan", "epoch100"),
         [mse100, vgg100]),
        ("Experiment 2: SRGAN per content loss, from SRResNet-MSE (after 200 epochs)", ("srgan", "epoch200"),
         [mse200, vgg200])]
    assert _groups([BICUBIC]) == []


# ---------------------------------------------------------------- the intro


INTRO_LEGEND = (
    "Paper protocol: HR mod-cropped, a border of `scale` px removed, PSNR and SSIM on the 8-bit images' BT.601 Y "
    "(the SR literature's). Study protocol: RGB in [0, 1], no border removed (the content-loss study's). Rows (↑ "
    "higher is better, ↓ lower is better; paper protocol unless the row says otherwise): PSNR-Y (dB) ↑: PSNR of the "
    "Y channel (of a gray image, its gray value); SSIM-Y ↑: SSIM of the Y channel (Gaussian window 11, σ 1.5); "
    "PSNR-RGB (dB, study protocol) ↑: PSNR on RGB; MS-SSIM (study protocol) ↑: MS-SSIM on RGB (the study's "
    "\"SSIM\"); NIQE-Y ↓: NIQE of the 8-bit Y channel, no reference (PIRM 2018); LPIPS-Alex ↓: LPIPS v0.1 on "
    "AlexNet, when its ImageNet weights are in torch's cache; chroma ratio C*(SR)/C*(HR), 1 = faithful: mean CIELAB "
    "C* of SR over HR's (below 1 = desaturated; none for a gray image); ΔE2000 ↓: mean CIEDE2000 colour difference "
    "to HR.")
INTRO_COLUMNS = (
    "Columns: the content-loss variants in params order, then bicubic and HR (HR has only NIQE: the natural-image "
    "reference). SRResNet is evaluated at its best validation PSNR-Y; each SRGAN at the checkpoint named in its "
    "table (the weights after that many steps or epochs).")


def _one_seed(seed: int) -> str:
    return (f"One seed ({seed}) per run: a difference of a few tenths of a dB between variants may be seed noise "
            "(see 'Differences and their noise'; params `seeds` adds replicates).")


def test_intro_of_one_seed_names_it() -> None:
    scored = [BICUBIC, _scored("srresnet", "mse", "best", seeds=(3,), feature_weights={"mse": "none"})]
    assert _intro(scored, "ok") == [INTRO_LEGEND, "", INTRO_COLUMNS, "", _one_seed(3)]
    assert _intro([BICUBIC], "ok") == [INTRO_LEGEND, "", INTRO_COLUMNS, "", _one_seed(0)]  # no seeds known


def test_intro_of_several_seeds_says_mean_and_sd_over_them() -> None:
    scored = [BICUBIC, _scored("srresnet", "mse", "best", seeds=(4, 1, 9)),
              _scored("srgan", "mse", "epoch100", seeds=(5, 6))]  # the first model with seeds counts
    assert _intro(scored, "ok")[3:] == ["", (
        "Every run was trained once per seed (4, 1, 9): each value is the mean over the seeds of each seed's mean "
        "over the set's images, ± the sample standard deviation over seeds. Grids and the training figures show "
        "seed 4; `dvc plots show` draws every seed.")]
    assert _intro([BICUBIC, _scored("srresnet", "mse", "best", seeds=(4, 1))], "ok")[4].startswith(
        "Every run was trained once per seed (4, 1): ")


def test_intro_adds_as_run_lpips_and_random_weights_paragraphs() -> None:
    as_run = AsRunScoring({"best": "last.pt"}, "train", False)
    scored = [BICUBIC, _scored("srresnet", "mse", "best", seeds=(2,)),
              _scored("srresnet", "vgg", "best", seeds=(2,), as_run={"set5": {}}, as_run_scoring=as_run,
                      feature_weights={"vgg19_5_4": "random (imagenet unavailable)"})]
    assert _intro(scored, "weights not in the torch cache") == [INTRO_LEGEND, "", INTRO_COLUMNS, "", _one_seed(2), "", (
        "**Study protocol as run** rows: the study protocol as the content-loss study's code scored (last "
        "checkpoint, BN in training mode, unclamped; params `study_code`), beside ours as intended (the "
        "study-protocol rows above them) and the study's published numbers: what separates the published table "
        "from ours is what these rows show (docs/study.md: \"Reproducing the published table\")."), "", (
        "LPIPS-Alex: weights not in the torch cache. Put the file in the cache and rerun the evaluations (`dvc repro "
        "-f -s <evaluate stage>`): DVC cannot see the torch cache."), "", (
        "**Warning:** some feature losses used randomly initialised extractors because ImageNet weights were "
        "unavailable (offline); those columns illustrate the pipeline, not the study's losses (see "
        "'Feature-extractor weights' at the end).")]


@pytest.mark.parametrize("used", ["random", "random (imagenet unavailable)"])
def test_intro_warns_of_either_kind_of_random_weights_and_only_of_them(used: str) -> None:
    warned = _intro([BICUBIC, _scored("srresnet", "vgg", "best", feature_weights={"mse": "none", "vgg": used})], "ok")
    assert warned[-1].startswith("**Warning:** some feature losses used randomly initialised extractors")
    assert len(warned) == 7
    assert len(_intro([BICUBIC, _scored("srresnet", "vgg", "best", feature_weights={"vgg": "imagenet"})], "ok")) == 5


# ---------------------------------------------------------------- write_report


def _files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _writer(text: str):
    def draw(path: Path) -> None:
        path.write_text(text, encoding="utf-8")
    return draw


def _report_inputs():
    metric_table = pd.DataFrame({"mse": [27.31234, 0.81234]}, index=pd.Index(["PSNR-Y (dB) ↑", "SSIM-Y ↑"],
                                                                           name="metric"))
    metric_table.attrs["decimals"] = {"PSNR-Y (dB) ↑": 2, "SSIM-Y ↑": 4}
    plain = pd.DataFrame({"variant": ["mse", "vgg"], "chroma": [0.97123, 0.85]})
    sections = [("", ["intro line"]), ("# Results", ["a", "b"]), ("## Empty", []), ("## Plots", ["see below"])]
    figure_list = [ReportFigure("## Plots", "figures/one.png", "first figure", _writer("one")),
                   ReportFigure("# Results", "top.png", "results figure", _writer("top")),
                   ReportFigure("## Plots", "figures/deep/two.png", "second figure", _writer("two"))]
    curves = {"curves/srresnet/valid.tsv": pd.DataFrame({"step": [1, 2], "mse": [1.23456789, 2.0]})}
    texts = {"per_image.csv": "model,seed\n", "full/srresnet/mse.json": "{}\n"}
    return sections, {"set5_srresnet_best": metric_table, "set5_colour": plain}, figure_list, curves, texts


def test_write_report_writes_index_tables_figures_curves_and_texts(tmp_path: Path) -> None:
    sections, tables, figure_list, curves, texts = _report_inputs()
    write_report(tmp_path / "report", sections, tables, figure_list, curves, texts)
    files = _files(tmp_path / "report")
    assert list(files) == ["curves/srresnet/valid.tsv", "figures/deep/two.png", "figures/one.png",
                           "full/srresnet/mse.json", "index.md", "per_image.csv", "set5_colour.csv", "set5_colour.md",
                           "set5_srresnet_best.csv", "set5_srresnet_best.md", "top.png"]
    assert files["index.md"] == (
        "intro line\n\n"
        "# Results\n\na\nb\n\n![results figure](top.png)\n\n*results figure*\n\n"
        "## Empty\n\n\n"
        "## Plots\n\nsee below\n\n![first figure](figures/one.png)\n\n*first figure*\n\n"
        "![second figure](figures/deep/two.png)\n\n*second figure*\n\n")
    assert files["set5_srresnet_best.csv"] == "metric,mse\nPSNR-Y (dB) ↑,27.3123\nSSIM-Y ↑,0.8123\n"
    assert files["set5_srresnet_best.md"] == ("| metric        |    mse |\n"  # each row's own decimals
                                              "|:--------------|-------:|\n"
                                              "| PSNR-Y (dB) ↑ |  27.31 |\n"
                                              "| SSIM-Y ↑      | 0.8123 |\n")
    assert files["set5_colour.csv"] == ",variant,chroma\n0,mse,0.9712\n1,vgg,0.8500\n"
    assert files["set5_colour.md"] == ("|    | variant   |   chroma |\n"
                                       "|---:|:----------|---------:|\n"
                                       "|  0 | mse       |    0.971 |\n"
                                       "|  1 | vgg       |    0.850 |\n")
    assert files["curves/srresnet/valid.tsv"] == "step\tmse\n1\t1.23457\n2\t2\n"
    assert (files["figures/one.png"], files["figures/deep/two.png"], files["top.png"]) == ("one", "two", "top")
    assert (files["per_image.csv"], files["full/srresnet/mse.json"]) == ("model,seed\n", "{}\n")


def test_write_report_without_curves_or_texts(tmp_path: Path) -> None:
    write_report(tmp_path / "report", [("# R", ["x"])], {}, [])
    assert _files(tmp_path / "report") == {"index.md": "# R\n\nx\n\n"}


def test_write_report_writes_infinities_as_inf_and_a_figure_folders_parents(tmp_path: Path) -> None:
    """A PSNR of a perfect reconstruction is inf: the tables say 'inf' (not '%.4F''s 'INF'); a figure two
    folders down gets both."""
    table = pd.DataFrame({"psnr": [math.inf, -math.inf, 1.0]})
    figure = ReportFigure("# R", "figures/deep/one.png", "one", _writer("one"))
    write_report(tmp_path / "report", [("# R", ["x"])], {"t": table}, [figure])
    files = _files(tmp_path / "report")
    assert files["t.csv"] == ",psnr\n0,inf\n1,-inf\n2,1.0000\n"
    assert files["t.md"] == ("|    |     psnr |\n"
                             "|---:|---------:|\n"
                             "|  0 |  inf     |\n"
                             "|  1 | -inf     |\n"
                             "|  2 |    1.000 |\n")
    assert files["figures/deep/one.png"] == "one"


def test_write_report_writes_utf8_whatever_the_locale(tmp_path: Path) -> None:
    """The tables' '↑' under a non-UTF-8 locale (ASCII here): written with the locale's encoding, a
    UnicodeEncodeError."""
    inputs = _report_inputs()
    write_report(tmp_path / "utf8", *inputs)
    with ascii_locale():
        write_report(tmp_path / "ascii", *inputs)
    assert _files(tmp_path / "ascii") == _files(tmp_path / "utf8")


def test_write_report_replaces_the_old_report_whole(tmp_path: Path) -> None:
    (tmp_path / "report" / "figures").mkdir(parents=True)
    (tmp_path / "report" / "figures" / "stale.png").write_text("old")
    write_report(tmp_path / "report", [("# R", ["x"])], {}, [])
    assert _files(tmp_path / "report") == {"index.md": "# R\n\nx\n\n"}


@pytest.mark.parametrize("step", ["figure", "curve", "text"])
def test_write_report_that_fails_keeps_the_old_report_and_leaves_nothing_behind(tmp_path: Path, step: str) -> None:
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "index.md").write_text("old report\n")
    sections, tables, figure_list, curves, texts = _report_inputs()

    def fail(path: Path) -> None:
        path.write_text("half")
        raise SrganError("drawing failed")

    if step == "figure":
        figure_list = [*figure_list, ReportFigure("## Plots", "figures/bad.png", "bad", fail)]
    elif step == "curve":
        curves = {**curves, "curves/bad.tsv": "not a table"}
    else:
        texts = {**texts, "bad.txt": None}
    with pytest.raises((SrganError, AttributeError, TypeError)):
        write_report(tmp_path / "report", sections, tables, figure_list, curves, texts)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]
    assert _files(tmp_path / "report") == {"index.md": "old report\n"}


# ---------------------------------------------------------------- figures (recorded, not drawn)


COLORS = {"bicubic": "#bic", "mse": "#mse", "vgg": "#vgg"}
NIQE_CAPTION = ("my set: perception-distortion plane, PSNR-Y against NIQE-Y (● SRResNet, ■ bicubic, SRGAN ▲ at its "
                "last checkpoint, ▼ at the one before")
PLANE_TITLE = "my set: perception-distortion plane (Blau & Michaeli 2018)"


def _plane_models(lpips: bool) -> list[Scored]:
    def res(psnr: float, niqe: float) -> dict:
        return {"my set": {"psnr_y_db": psnr, "niqe_y": niqe, **({"lpips_alex": niqe / 10} if lpips else {})},
                "other": {"psnr_y_db": 0.0, "niqe_y": 0.0}}
    return [Scored("bicubic", "bicubic", "bicubic", res(24.0, 7.0), None, {}, {}),
            _scored("srresnet", "mse", "best", res(28.0, 6.0)), _scored("srresnet", "vgg", "best", res(27.0, 4.0)),
            _scored("srgan", "mse", "epoch100", res(26.0, 3.0)), _scored("srgan", "mse", "epoch200", res(25.5, 2.5)),
            _scored("srgan", "vgg", "epoch100", res(25.0, 2.0)), _scored("srgan", "vgg", "epoch200", res(24.5, 1.5))]


def _plane_panels(y: str) -> list[PlanePanel]:
    """The panels, by hand: SRGAN's last checkpoint ▲, the one before ▼; bicubic ■ last in each."""
    def v(niqe: float) -> float:
        return niqe if y == "niqe_y" else niqe / 10
    bicubic = PlanePoint("bicubic", 24.0, v(7.0), "#bic", "s")
    return [PlanePanel("Experiment 1: SRResNet per content loss", (
                PlanePoint("mse", 28.0, v(6.0), "#mse", "o"), PlanePoint("vgg", 27.0, v(4.0), "#vgg", "o"), bicubic)),
            PlanePanel("Experiment 2: SRGAN per content loss, from SRResNet-MSE", (
                PlanePoint("mse@epoch100", 26.0, v(3.0), "#mse", "v"),
                PlanePoint("mse@epoch200", 25.5, v(2.5), "#mse", "^"),
                PlanePoint("vgg@epoch100", 25.0, v(2.0), "#vgg", "v"),
                PlanePoint("vgg@epoch200", 24.5, v(1.5), "#vgg", "^"), bicubic))]


def test_plane_figures_niqe_with_hr_line_and_lpips() -> None:
    out = _plane_figures("## my set (5 images)", "my set", _plane_models(lpips=True), 3.5, COLORS)
    assert [(f.section, f.path, f.caption) for f in out] == [
        ("## my set (5 images)", "figures/plane_niqe_my_set.png", NIQE_CAPTION + "; dashed: HR's NIQE)"),
        ("## my set (5 images)", "figures/plane_lpips_my_set.png", NIQE_CAPTION.replace("NIQE-Y", "LPIPS-Alex")
         + ")")]
    assert out[0].draw.func is build.figures.perception_distortion_plane
    assert out[0].draw.keywords == {"panels": _plane_panels("niqe_y"), "x_label": "PSNR-Y (dB) → better",
                                    "y_label": "NIQE-Y (lower = more natural)", "hlines": {"HR": 3.5},
                                    "title": PLANE_TITLE}
    assert out[1].draw.func is build.figures.perception_distortion_plane
    assert out[1].draw.keywords == {"panels": _plane_panels("lpips_alex"), "x_label": "PSNR-Y (dB) → better",
                                    "y_label": "LPIPS-Alex (lower = closer to HR)", "hlines": {}, "title": PLANE_TITLE}


def test_plane_figures_without_lpips_or_hr_niqe_or_srgan() -> None:
    models = [m for m in _plane_models(lpips=False) if m.experiment != "srgan"]
    out = _plane_figures("## s", "my set", models, math.nan, COLORS)
    assert [(f.path, f.caption) for f in out] == [("figures/plane_niqe_my_set.png", NIQE_CAPTION + ")")]
    assert out[0].draw.keywords["panels"] == _plane_panels("niqe_y")[:1]
    assert out[0].draw.keywords["hlines"] == {}


def test_plane_figure_with_one_finite_value_is_drawn_and_with_none_is_left_out() -> None:
    """A metric every model lacks (LPIPS offline) gives no figure; a single finite point is enough for one."""
    models = _plane_models(lpips=False)
    models[3] = dataclasses.replace(models[3], results={"my set": {**models[3].results["my set"], "lpips_alex": 0.5}})
    out = _plane_figures("## s", "my set", models, 3.5, COLORS)
    assert [f.path for f in out] == ["figures/plane_niqe_my_set.png", "figures/plane_lpips_my_set.png"]
    points = [p for panel in out[1].draw.keywords["panels"] for p in panel.points]
    assert [p.label for p in points if not math.isnan(p.y)] == ["mse@epoch100"]


def test_plane_figure_of_lpips_is_drawn_when_no_niqe_is_finite_and_a_missing_psnr_is_nan() -> None:
    """NIQE missing everywhere (its figure left out) does not stop the LPIPS figure after it; a model
    without a PSNR-Y is a NaN point (left out by the drawing), not None."""
    models = [dataclasses.replace(m, results={"my set": {k: v for k, v in m.results["my set"].items()
                                                         if k != "niqe_y"}}) for m in _plane_models(lpips=True)]
    models[1] = dataclasses.replace(models[1], results={"my set": {"lpips_alex": 0.6}})
    out = _plane_figures("## s", "my set", models, 3.5, COLORS)
    assert [f.path for f in out] == ["figures/plane_lpips_my_set.png"]
    first = out[0].draw.keywords["panels"][0].points[0]
    assert first.label == "mse" and math.isnan(first.x) and first.y == 0.6


def test_curve_figures_one_per_experiment_with_runs() -> None:
    runs = {"mse": {"loss/content": ScalarSeries(np.array([1]), np.array([0.5]))}}
    out = _curve_figures({"srgan": runs, "srresnet": {"vgg": {}}}, COLORS)
    assert [(f.section, f.path, f.caption) for f in out] == [
        ("## Training and validation", "figures/training_srresnet.png", "Experiment 1: SRResNet training"),
        ("## Training and validation", "figures/training_srgan.png", "Experiment 2: SRGAN fine-tuning")]
    assert out[0].draw.func is build.figures.training_curves
    assert out[0].draw.keywords == {"runs": {"vgg": {}}, "curves": build.SRRESNET_CURVES,
                                    "title": "Experiment 1: SRResNet training", "colors": COLORS}
    assert out[1].draw.keywords == {"runs": runs, "curves": build.SRGAN_CURVES,
                                    "title": "Experiment 2: SRGAN fine-tuning", "colors": COLORS}
    assert [f.path for f in _curve_figures({"srresnet": {}, "srgan": runs}, COLORS)] == ["figures/training_srgan.png"]
    assert _curve_figures({}, COLORS) == []


def test_curve_sets_of_each_experiment() -> None:
    assert [(c.tag, c.label, c.smooth, c.log_y, c.ylim) for c in build.SRRESNET_CURVES] == [
        ("loss/content", "content loss (train)", True, True, None),
        ("valid/psnr_y_db", "validation PSNR-Y (dB)", False, False, None),
        ("valid/ssim_y", "validation SSIM-Y", False, False, None)]
    assert [(c.tag, c.label, c.smooth, c.log_y, c.ylim) for c in build.SRGAN_CURVES] == [
        ("loss/content", "generator content loss", True, True, None),
        ("loss/adversarial", "adversarial loss  −log D(SR)", True, False, None),
        ("loss/discriminator", "discriminator loss", True, False, None),
        ("d/fake_prob", "D(SR): mean probability 'real'", True, False, (-0.02, 1.02)),
        ("valid/psnr_y_db", "validation PSNR-Y (dB)", False, False, None),
        ("valid/ssim_y", "validation SSIM-Y", False, False, None)]


def test_grid_figures_one_per_image_and_group_with_hr_each_variant_and_bicubic(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    lrs = {("set5", "baby"): _lr(12, 16, 3), ("my set", "0802"): _lr(16, 12, 4)}
    images = {"set5/baby": ("set5", "baby"), "my set/#1": ("my set", "0802")}
    calls = []

    def load_grid_image(entry: str, test_root: Path, scale: int, crop_px: int) -> GridImage:
        calls.append((entry, test_root, scale, crop_px))
        set_name, name = images[entry]
        lr = lrs[set_name, name]
        return GridImage(set_name, name, 255 - _nearest(lr), lr, CropBox(4, 8, crop_px))  # HR unlike any SR

    monkeypatch.setattr(build, "load_grid_image", load_grid_image)
    monkeypatch.setattr(build, "load_generator", lambda weights, scale, runtime: (NearestGenerator(1), None))
    bicubic = Scored("bicubic", "bicubic", "bicubic", {}, None, {}, {})
    scored = [bicubic, _scored("srresnet", "mse", "best", weights=tmp_path / "a.pt", seeds=(7,)),
              _scored("srresnet", "vgg", "best", weights=tmp_path / "b.pt", seeds=(7,)),
              _scored("srgan", "mse", "epoch100", weights=tmp_path / "c.pt", seeds=(7,))]
    rows = [{"model": s.run_name, "checkpoint": s.checkpoint, "set": set_name, "image": name, "seed": s.seeds[0]
             if s.seeds else 0, "psnr_y_db": 20.0 + k + 10 * j, "ssim_y": 0.5}
            for k, s in enumerate(scored) for j, (set_name, name) in enumerate(lrs)]
    groups = _groups(scored)
    out = _grid_figures(ReportParams(grid_images=("set5/baby", "my set/#1"), crop_px=12), tmp_path / "test", SCALE,
                        scored, groups, pd.DataFrame(rows), CPU)
    assert calls == [("set5/baby", tmp_path / "test", SCALE, 12), ("my set/#1", tmp_path / "test", SCALE, 12)]
    title1 = "Experiment 1: SRResNet per content loss (best validation PSNR-Y)"
    title2 = "Experiment 2: SRGAN per content loss, from SRResNet-MSE (after 100 epochs)"
    assert [(f.section, f.path, f.caption) for f in out] == [
        ("## Visual comparison", "figures/grid_set5_baby_srresnet_best.png", f"set5/baby, {title1}"),
        ("## Visual comparison", "figures/grid_set5_baby_srgan_epoch100.png", f"set5/baby, {title2}"),
        ("## Visual comparison", "figures/grid_my_set_0802_srresnet_best.png", f"my set/0802, {title1}"),
        ("## Visual comparison", "figures/grid_my_set_0802_srgan_epoch100.png", f"my set/0802, {title2}")]
    for fig, (set_name, name), title, labels, captions in [
            (out[0], ("set5", "baby"), title1, ["mse", "vgg"], ["21.00 dB / 0.5000", "22.00 dB / 0.5000"]),
            (out[1], ("set5", "baby"), title2, ["mse"], ["23.00 dB / 0.5000"]),
            (out[2], ("my set", "0802"), title1, ["mse", "vgg"], ["31.00 dB / 0.5000", "32.00 dB / 0.5000"]),
            (out[3], ("my set", "0802"), title2, ["mse"], ["33.00 dB / 0.5000"])]:
        lr = lrs[set_name, name]
        crop = CropBox(4, 8, 12)
        assert fig.draw.func is build.figures.comparison_grid
        keywords = dict(fig.draw.keywords)
        panels: list[GridPanel] = keywords.pop("panels")
        np.testing.assert_array_equal(keywords.pop("hr_u8"), 255 - _nearest(lr))
        assert keywords == {"crop": crop, "title": f"{set_name}/{name}: {title}"}
        bicubic_caption = f"{20.0 + 10 * (set_name == 'my set'):.2f} dB / 0.5000"
        assert [(p.label, p.caption) for p in panels] == [
            ("HR (ground truth)", "reference"), *zip(labels, captions), ("bicubic", bicubic_caption)]
        np.testing.assert_array_equal(panels[0].crop_u8, crop.cut(255 - _nearest(lr)))
        for panel in panels[1:-1]:
            np.testing.assert_array_equal(panel.crop_u8, crop.cut(_nearest(lr)))
        np.testing.assert_array_equal(panels[-1].crop_u8, crop.cut(bicubic_upscale(lr, SCALE)))


def test_plane_markers_of_seven_srgan_checkpoints_latest_first_then_circles() -> None:
    labels = [f"epoch{k}" for k in range(1, 8)]
    models = [BICUBIC] + [Scored("srgan", "mse", label, {"s": {"psnr_y_db": 20.0, "niqe_y": 3.0}}, None, {}, {})
                          for label in labels]  # no SRResNet: the SRGAN panel alone
    bicubic = dataclasses.replace(BICUBIC, results={"s": {}})
    out = _plane_figures("## s", "s", [bicubic, *models[1:]], math.nan, COLORS)
    assert [f.path for f in out] == ["figures/plane_niqe_s.png"]
    (panel,) = out[0].draw.keywords["panels"]
    assert panel.title == "Experiment 2: SRGAN per content loss, from SRResNet-MSE"
    assert [(p.label, p.marker) for p in panel.points] == [
        ("mse@epoch1", "o"), ("mse@epoch2", "*"), ("mse@epoch3", "h"), ("mse@epoch4", "p"), ("mse@epoch5", "D"),
        ("mse@epoch6", "v"), ("mse@epoch7", "^"), ("bicubic", "s")]
    assert math.isnan(panel.points[-1].x) and math.isnan(panel.points[-1].y)  # bicubic without scores: NaN


# ---------------------------------------------------------------- build_report, inputs and drawing faked


def _fake_inputs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, seeds: tuple[int, ...], grid_seed: int = 0,
                 srgan: bool = False, sets: tuple[str, ...] = ("s5",)) -> dict:
    """build_report's readers, generators and drawing replaced by fakes that record what they are given:
    SRResNet-MSE (and with `srgan`, SRGAN-MSE at epochs 100 and 200) scored on `sets`."""
    results = {name: {"images": 5, "psnr_y_db": 25.0, "ssim_y": 0.7, "niqe_y": 4.0} for name in sets}
    spread = {name: {"psnr_y_db": 0.1, "ssim_y": 0.01, "niqe_y": 0.2} for name in sets} if len(seeds) > 1 else None
    scored = [Scored("bicubic", "bicubic", "bicubic", results, None, {}, {}),
              _scored("srresnet", "mse", "best", results, weights=tmp_path / "g.pt", seeds=seeds, spread=spread,
                      feature_weights={"mse": "none"}, loss_terms={"mse": 1.0})]
    models = [("bicubic", "bicubic"), ("srresnet/mse", "best")]
    if srgan:
        scored += [_scored("srgan", "mse", label, results, weights=tmp_path / "g.pt", seeds=seeds, spread=spread,
                           feature_weights={"mse": "none"}, loss_terms={"mse": 1.0})
                   for label in ("epoch100", "epoch200")]
        models += [("srgan/mse", "epoch100"), ("srgan/mse", "epoch200")]
    record: dict = {"curves": [], "drawn": []}
    per_image = pd.DataFrame([{"model": m, "checkpoint": c, "set": set_name, "image": "baby", "seed": seed,
                               "psnr_y_db": 25.0, "ssim_y": 0.7}
                              for m, c in models for set_name in sets for seed in (grid_seed, *seeds)])
    lr = _lr(8, 8, 5)
    series = {"mse": {"valid/psnr_y_db": ScalarSeries(np.array([1, 2]), np.array([20.0, 21.0]))}}

    def load_curves(plots_dir: Path, experiment: str, variants, seeds_: tuple[int, ...]):
        record["curves"].append((plots_dir, experiment, tuple(variants), tuple(seeds_)))
        return series

    def drawer(name: str):
        def draw(path: Path, **kw) -> None:
            record["drawn"].append((name, path.name))
            path.write_bytes(b"png")
        return draw

    real_differences_markdown = build.differences_markdown

    def differences_markdown(differences: pd.DataFrame, n_seeds: int) -> list[str]:
        record["differences"] = (list(differences.columns), n_seeds)
        return real_differences_markdown(differences, n_seeds)

    monkeypatch.setattr(build, "differences_markdown", differences_markdown)
    monkeypatch.setattr(build, "collect_scored", lambda *a: scored)
    monkeypatch.setattr(build, "read_hr_niqe", lambda *a: dict.fromkeys(sets, 3.0))
    monkeypatch.setattr(build, "load_per_image", lambda *a: per_image)
    monkeypatch.setattr(build, "load_curves", load_curves)
    monkeypatch.setattr(build, "read_lpips_status",
                        lambda evaluation_dir: "ok" if evaluation_dir == tmp_path / "evaluation" and seeds == (3,)
                        else "offline")
    monkeypatch.setattr(build, "load_grid_image",
                        lambda entry, root, scale, crop_px: GridImage("s5", "baby", _nearest(lr), lr, CropBox(0, 0, 8)))
    monkeypatch.setattr(build, "load_generator", lambda *a: (NearestGenerator(1), None))
    for name in ("perception_distortion_plane", "comparison_grid", "training_curves"):
        monkeypatch.setattr(build.figures, name, drawer(name))
    build.build_report(evaluation_dir=tmp_path / "evaluation", models_dir=tmp_path / "models",
                       plots_dir=tmp_path / "plots", test_root=tmp_path / "test", out_dir=tmp_path / "report",
                       metrics_dir=tmp_path / "metrics", experiments={"srresnet": ["mse"], "srgan": ["mse"] * srgan},
                       sets=list(sets),
                       scale=SCALE, report=ReportParams(grid_images=("s5/baby",), crop_px=8), runtime=CPU, seeds=seeds)
    return record


def _index_headings(report: Path) -> list[str]:
    return [line for line in (report / "index.md").read_text(encoding="utf-8").splitlines() if line.startswith("#")]


def test_build_report_of_one_seed_writes_every_file_and_draws_every_figure(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    record = _fake_inputs(monkeypatch, tmp_path, (3,))
    assert record["curves"] == [(tmp_path / "plots", "srresnet", ("mse",), (3,)),
                                (tmp_path / "plots", "srresnet", ("mse",), (3,))]  # every seed, then the first
    assert record["drawn"] == [("perception_distortion_plane", "plane_niqe_s5.png"),
                               ("comparison_grid", "grid_s5_baby_srresnet_best.png"),
                               ("training_curves", "training_srresnet.png")]
    report = tmp_path / "report"
    files = sorted(p.relative_to(report).as_posix() for p in report.rglob("*") if p.is_file())
    assert files == sorted([
        *(chart.file for chart in CHARTS), "differences.csv",
        "figures/grid_s5_baby_srresnet_best.png", "figures/plane_niqe_s5.png", "figures/training_srresnet.png",
        "headline.md", "index.md", "metrics/bicubic.json", "metrics/srresnet/mse/best.json", "per_image.csv",
        "s5_colour.csv", "s5_colour.md", "s5_srresnet_best.csv", "s5_srresnet_best.md"])
    assert sorted(p.relative_to(tmp_path / "metrics").as_posix() for p in (tmp_path / "metrics").rglob("*.json")) \
        == ["bicubic.json", "hr.json", "srresnet/mse.json"]
    assert _index_headings(report) == [
        "# Results", "## Headline", "## Differences and their noise", "## s5 (5 images)",
        "### Experiment 1: SRResNet per content loss (best validation PSNR-Y)",
        "### Colour fidelity: does the VGG loss desaturate, compared with the ResNet losses?",
        "## Visual comparison", "## Training and validation", "## Feature-extractor weights"]
    lines = (report / "index.md").read_text(encoding="utf-8").splitlines()
    assert "PSNR-Y / SSIM-Y / NIQE-Y of every scored model; the full tables per set follow." in lines
    assert "As CSV: [s5_srresnet_best.csv](s5_srresnet_best.csv)" in lines
    assert lines[:7] == ["# Results", "", INTRO_LEGEND, "", INTRO_COLUMNS, "", _one_seed(3)]
    assert lines[7:9] == ["", "## Headline"]
    assert lines[-4:] == ["## Feature-extractor weights", "", "- **srresnet/mse** (mse: 1): none (pixel loss only)", ""]
    visual, training = lines.index("## Visual comparison"), lines.index("## Training and validation")
    assert lines[visual + 1:visual + 3] == ["", (
        "GT | each variant | bicubic, on the most detailed window of each image (nearest-neighbour zoom); under each "
        "name: PSNR-Y / SSIM-Y (and NIQE-Y) of the whole image.")]
    assert lines[training + 1:training + 3] == ["", (
        "Validation PSNR-Y / SSIM-Y of the averaged generator on the validation set at every validation point (★ "
        "best), and the training losses, per variant. `dvc plots show` draws the same curves, every run of an "
        "experiment on one chart per quantity, from `curves/` (`dvc plots diff <commit>` compares runs across "
        "commits).")]
    headline = (report / "headline.md").read_text(encoding="utf-8")  # the index's headline block, one line end
    assert headline.startswith("| ") and headline.endswith(" |\n") and f"\n\n{headline}\n" in "\n".join(lines)
    assert (report / "per_image.csv").read_text(encoding="utf-8") == (
        "model,seed,checkpoint,set,image,psnr_y_db,ssim_y\n"
        "bicubic,0,bicubic,s5,baby,25.0000,0.7000\nbicubic,3,bicubic,s5,baby,25.0000,0.7000\n"
        "srresnet/mse,0,best,s5,baby,25.0000,0.7000\nsrresnet/mse,3,best,s5,baby,25.0000,0.7000\n")


def test_build_report_of_two_seeds_adds_sd_tables_and_reads_first_seed_curves_for_figures(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    record = _fake_inputs(monkeypatch, tmp_path, (3, 4))
    assert record["differences"][1] == 2
    assert record["curves"] == [(tmp_path / "plots", "srresnet", ("mse",), (3, 4)),
                                (tmp_path / "plots", "srresnet", ("mse",), (3,))]
    report = tmp_path / "report"
    lines = (report / "index.md").read_text(encoding="utf-8").splitlines()
    assert ("PSNR-Y / SSIM-Y / NIQE-Y of every scored model (mean ± sd over seeds); the full tables per set follow."
            in lines)
    assert ("As CSV: [s5_srresnet_best.csv](s5_srresnet_best.csv), standard deviations over seeds: "
            "[s5_srresnet_best_sd.csv](s5_srresnet_best_sd.csv)") in lines
    assert ("LPIPS-Alex: offline. Put the file in the cache and rerun the evaluations (`dvc repro -f -s <evaluate "
            "stage>`): DVC cannot see the torch cache.") in lines
    assert (report / "s5_srresnet_best_sd.csv").is_file() and (report / "s5_srresnet_best_sd.md").is_file()


def test_build_report_of_both_experiments_and_two_sets_places_every_block(monkeypatch: pytest.MonkeyPatch,
                                                                          tmp_path: Path) -> None:
    """Each set's tables (beside the published rows chosen from the SRGAN checkpoints), colour block and
    planes in its own section; differences.csv as the differences are, 4 decimals, no index; the curve files
    of every experiment."""
    published: list = []
    real_published_row = build.published_row
    monkeypatch.setattr(build, "published_row",
                        lambda point, points: published.append((point, list(points))) or real_published_row(point,
                                                                                                            points))
    monkeypatch.setattr(build, "difference_rows", lambda per_image, scored: pd.DataFrame(
        {"pair": ["vgg − mse"], "mean_diff": [0.123456], "p": [math.inf]}))
    monkeypatch.setattr(build, "differences_markdown", lambda differences, n_seeds: ["the differences"])
    colour = pd.DataFrame({"run": ["bicubic", "srresnet@best"], "family": ["bicubic", "MSE"],
                           "chroma_ratio": [0.91234, math.nan], "delta_e00": [3.14159, 2.5]})  # NaN: gray images
    monkeypatch.setattr(build, "colour_table", lambda scored, set_name: colour)
    monkeypatch.setattr(build, "colour_sentences", lambda table, set_name: [f"- colour on {set_name}"])
    record = _fake_inputs(monkeypatch, tmp_path, (3,), srgan=True, sets=("s5", "s14"))
    assert published == [(BEST, [EPOCH100, EPOCH200]), (EPOCH100, [EPOCH100, EPOCH200]),
                         (EPOCH200, [EPOCH100, EPOCH200])] * 2
    assert [name for kind, name in record["drawn"] if kind == "perception_distortion_plane"] == [
        "plane_niqe_s5.png", "plane_niqe_s14.png"]
    report = tmp_path / "report"
    assert (report / "differences.csv").read_text(encoding="utf-8") == "pair,mean_diff,p\nvgg − mse,0.1235,inf\n"
    assert (report / "metrics" / "srgan" / "mse" / "epoch100.json").read_text(encoding="utf-8").startswith(
        '{\n  "')  # indented by 2
    assert (report / "curves" / "srgan_valid_psnr_y_db.tsv").read_text(encoding="utf-8") == (
        "step\trun\tpsnr_y_db\n1\tmse\t20\n2\tmse\t21\n")
    lines = (report / "index.md").read_text(encoding="utf-8").splitlines()
    s5, s14 = lines.index("## s5 (5 images)"), lines.index("## s14 (5 images)")
    plane = "{0}: perception-distortion plane, PSNR-Y against NIQE-Y (● SRResNet, ■ bicubic, SRGAN ▲ at its last " \
            "checkpoint, ▼ at the one before; dashed: HR's NIQE)"
    for start, end, set_name in ((s5, s14, "s5"), (s14, len(lines), "s14")):
        section = lines[start:end]
        first = section.index("### Experiment 1: SRResNet per content loss (best validation PSNR-Y)")
        assert section[first + 1] == "" and section[first + 2].startswith("| metric ")
        assert section[first + 12:first + 16] == [
            "", f"As CSV: [{set_name}_srresnet_best.csv]({set_name}_srresnet_best.csv)", "",
            "### Experiment 2: SRGAN per content loss, from SRResNet-MSE (after 100 epochs)"]
        colour_at = section.index("### Colour fidelity: does the VGG loss desaturate, compared with the ResNet losses?")
        assert section[colour_at:] == [
            section[colour_at], "",
            "| run           | family   |   chroma_ratio |   delta_e00 |",
            "|:--------------|:---------|---------------:|------------:|",
            "| bicubic       | bicubic  |          0.912 |       3.142 |",
            "| srresnet@best | MSE      |        nan     |       2.500 |",
            "", f"- colour on {set_name}", "", "",
            f"![{plane.format(set_name)}](figures/plane_niqe_{set_name}.png)", "", f"*{plane.format(set_name)}*", "",
            *([] if set_name == "s5" else lines[lines.index("## Visual comparison"):])]


def test_build_report_that_fails_after_reading_keeps_the_old_report_and_metrics(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Bicubic's per-image row of the grid image is missing (seed 0): the caption fails after every table is
    built, before anything is written."""
    for folder in ("report", "metrics"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "old.txt").write_text("old\n")
    with pytest.raises(SrganError) as error:
        _fake_inputs(monkeypatch, tmp_path, (3,), grid_seed=3)
    assert str(error.value) == "per-image metrics of bicubic have no row for s5/baby; re-run its evaluate stage"
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == [
        "metrics", "metrics/old.txt", "report", "report/old.txt"]
