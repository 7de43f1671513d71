"""Direct tests for srgan.report.figures: the computations pinned whole against brute force, numpy or a hand
calculation (thresholds at the threshold, every branch), and the drawing functions checked on the matplotlib
Figure they build (texts, scales, limits, lines, colours) without rendering; only the _save tests write a PNG."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import matplotlib.colors as mcolors
import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.markers import MarkerStyle
from matplotlib.patches import Rectangle
from PIL import Image

from srgan.report import figures
from srgan.report.figures import (
    _FIXED_COLORS,
    _VARIANT_COLORS,
    DPI,
    CropBox,
    Curve,
    GridPanel,
    PlanePanel,
    PlanePoint,
    ScalarSeries,
    _box_sums,
    _padded,
    _plane_panel,
    _save,
    _spans_decades,
    _spread,
    _wrap_name,
    bulk_range,
    comparison_grid,
    model_colors,
    most_detailed_crop,
    perception_distortion_plane,
    smooth,
    smoothing_window,
    training_curves,
)

# matplotlib settings unlike its defaults (font.size 10, titles 'large', tick labels 'medium', text black, legends
# framed): a size, colour or frame the figures leave to the user's matplotlibrc shows as a failed assertion.
UNLIKE_DEFAULTS = {"font.size": 7.0, "axes.titlesize": 8.0, "axes.labelsize": 8.0, "xtick.labelsize": 6.0,
                   "ytick.labelsize": 6.0, "legend.fontsize": 6.0, "legend.frameon": True, "text.color": "#123456",
                   "figure.titlesize": 9.0, "axes.grid": False}


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[Figure, Path]]]:
    """The figures the drawing functions would save, with their paths (nothing is rendered), drawn under
    UNLIKE_DEFAULTS."""
    saved: list[tuple[Figure, Path]] = []
    monkeypatch.setattr(figures, "_save", lambda fig, path: saved.append((fig, path)))
    with matplotlib.rc_context(UNLIKE_DEFAULTS):
        yield saved


# ---------------------------------------------------------------- colours


def test_model_colors_fixed_names_keep_theirs_and_variants_take_tab10_in_turn() -> None:
    assert _VARIANT_COLORS == ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                               "#bcbd22", "#17becf")
    assert _FIXED_COLORS == {"bicubic": "#7f7f7f", "mse": "#000000", "HR": "#444444"}
    # a fixed name between variants does not use up a variant colour
    assert model_colors(["vgg22", "bicubic", "vgg54", "mse", "HR", "hybrid"]) == {
        "vgg22": "#1f77b4", "bicubic": "#7f7f7f", "vgg54": "#ff7f0e", "mse": "#000000", "HR": "#444444",
        "hybrid": "#2ca02c"}
    assert model_colors([]) == {}


def test_model_colors_wrap_after_nine_variants() -> None:
    names = [f"v{i}" for i in range(11)]
    assert list(model_colors(names).values()) == [*_VARIANT_COLORS, "#1f77b4", "#ff7f0e"]


# ---------------------------------------------------------------- crops


def test_crop_box_cut_is_the_window_at_top_left() -> None:
    img = np.arange(6 * 7 * 3, dtype=np.uint8).reshape(6, 7, 3)
    np.testing.assert_array_equal(CropBox(top=1, left=2, size_px=3).cut(img), img[1:4, 2:5])
    np.testing.assert_array_equal(CropBox(top=3, left=4, size_px=3).cut(img), img[3:6, 4:7])


def _energy_by_brute_force(hr_u8: np.ndarray, top: int, left: int, size: int) -> int:
    luma = hr_u8[..., :3].astype(np.int64) @ np.array([299, 587, 114], dtype=np.int64)
    window = luma[top:top + size, left:left + size]
    return int((np.diff(window, axis=1) ** 2).sum() + (np.diff(window, axis=0) ** 2).sum())


@pytest.mark.parametrize("seed, shape, crop_px", [(0, (9, 11), 4), (1, (7, 7), 7), (2, (12, 8), 5), (3, (6, 10), 1)])
def test_most_detailed_crop_is_the_brute_force_argmax_of_gradient_energy(seed: int, shape: tuple[int, int],
                                                                         crop_px: int) -> None:
    rng = np.random.default_rng(seed)
    hr_u8 = rng.integers(0, 256, size=(*shape, 3), dtype=np.uint8)
    h, w = shape
    size = min(crop_px, h, w)
    energies = {(t, left): _energy_by_brute_force(hr_u8, t, left, size)
                for t in range(h - size + 1) for left in range(w - size + 1)}
    best = max(energies.values())
    top, left = min(pos for pos, e in energies.items() if e == best)  # ties: top-most, then left-most
    assert most_detailed_crop(hr_u8, crop_px) == CropBox(top=top, left=left, size_px=size)


def test_most_detailed_crop_weights_luma_by_bt601_and_ignores_alpha() -> None:
    """Two edges of equal 8-bit height: a blue one at the left, a green one at the right. Green weighs 587 to
    blue's 114 in the luma, so the green edge wins; an alpha channel full of edges changes nothing."""
    img = np.zeros((6, 12, 4), dtype=np.uint8)
    img[:, 2:, 2] = 200  # blue step between columns 1 and 2
    img[:, 9:, 1] = 200  # green step between columns 8 and 9
    img[:, 9:, 2] = 0
    img[:, ::2, 3] = 255  # alpha stripes
    assert most_detailed_crop(img, 3) == CropBox(top=0, left=7, size_px=3)
    assert most_detailed_crop(img[..., :3].copy(), 3) == CropBox(top=0, left=7, size_px=3)
    # The integer weights exactly: a green step of 9 (587 x 9 = 5283) ties a red 15 + blue 7 step
    # (299 x 15 + 114 x 7 = 5283), so the left window wins the tie; a green weight of 588 would not tie.
    tie = np.zeros((6, 12, 3), dtype=np.uint8)
    tie[:, 2:] = (15, 0, 7)
    tie[:, 9:] = (15, 9, 7)
    assert most_detailed_crop(tie, 3) == CropBox(top=0, left=0, size_px=3)
    tie[:, 9:] = (15, 10, 7)
    assert most_detailed_crop(tie, 3) == CropBox(top=0, left=7, size_px=3)
    mirrored = np.zeros((6, 12, 3), dtype=np.uint8)  # the green step on the left: it wins the tie (586 would lose)
    mirrored[:, 2:] = (0, 9, 0)
    mirrored[:, 9:] = (15, 9, 7)
    assert most_detailed_crop(mirrored, 3) == CropBox(top=0, left=0, size_px=3)


def test_most_detailed_crop_counts_only_pairs_inside_the_window() -> None:
    """One vertical edge between columns 4 and 5 (and one horizontal between rows 4 and 5 in another image):
    a 3-px window holds it only when both columns (rows) are inside, so the first such window is at 3."""
    img = np.zeros((8, 8, 3), dtype=np.uint8)
    img[:, 5:] = 255
    assert most_detailed_crop(img, 3) == CropBox(top=0, left=3, size_px=3)
    assert most_detailed_crop(np.ascontiguousarray(img.transpose(1, 0, 2)), 3) == CropBox(top=3, left=0, size_px=3)


def test_most_detailed_crop_of_a_small_image_is_its_shorter_side_and_ties_go_top_left() -> None:
    flat = np.full((5, 9, 3), 40, dtype=np.uint8)
    assert most_detailed_crop(flat, 7) == CropBox(top=0, left=0, size_px=5)
    assert most_detailed_crop(np.full((9, 5, 3), 40, dtype=np.uint8), 7) == CropBox(top=0, left=0, size_px=5)
    assert most_detailed_crop(flat, 5) == CropBox(top=0, left=0, size_px=5)
    # Two identical textured squares: the upper one wins; side by side, the left one.
    tile = (np.indices((3, 3)).sum(axis=0) % 2 * 255).astype(np.uint8)[..., None].repeat(3, axis=2)
    stacked = np.zeros((10, 5, 3), dtype=np.uint8)
    stacked[1:4, 1:4] = tile
    stacked[6:9, 1:4] = tile
    assert most_detailed_crop(stacked, 3) == CropBox(top=1, left=1, size_px=3)
    side = np.ascontiguousarray(stacked.transpose(1, 0, 2))
    assert most_detailed_crop(side, 3) == CropBox(top=1, left=1, size_px=3)


@pytest.mark.parametrize("rows_px, cols_px, positions", [(3, 2, (4, 5)), (1, 1, (6, 7)), (6, 7, (1, 1)),
                                                          (2, 4, (5, 4)), (0, 3, (7, 5))])
def test_box_sums_match_brute_force_sums(rows_px: int, cols_px: int, positions: tuple[int, int]) -> None:
    values = np.random.default_rng(5).integers(-50, 1000, size=(6, 7), dtype=np.int64)
    got = _box_sums(values, rows_px, cols_px, positions)
    n_rows, n_cols = positions
    expected = np.array([[values[r:r + rows_px, c:c + cols_px].sum() for c in range(n_cols)] for r in range(n_rows)])
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, expected)


# ---------------------------------------------------------------- grid titles


@pytest.mark.parametrize("name, wrapped", [
    ("a" * 22, "a" * 22),  # at the width: unchanged
    ("a" * 10 + "_" + "b" * 11, "a" * 10 + "_" + "b" * 11),  # 22 long with a '_': unchanged
    ("a" * 10 + "_" + "b" * 12, "a" * 10 + "\n_" + "b" * 12),  # 23 long: broken before the '_'
    ("abc_de_fgh_ijklmnopqrstuvwxyz", "abc_de_fgh\n_ijklmnopqrstuvwxyz"),  # the last '_' before the width
    ("a" * 21 + "_bcd", "a" * 21 + "\n_bcd"),  # a '_' at index 21 is still before the width
    ("a" * 22 + "_bcd", "a" * 22 + "_bcd"),  # one at index 22 is not
    ("_" + "a" * 30, "_" + "a" * 30),  # a leading '_' is no place to break
    ("_ab_" + "c" * 25, "_ab\n_" + "c" * 25),
    ("a_" + "b" * 25, "a\n_" + "b" * 25),  # a '_' at index 1 is a place to break
    ("a" * 30, "a" * 30),  # no '_' at all
])
def test_wrap_name_breaks_at_the_last_underscore_before_22_characters(name: str, wrapped: str) -> None:
    assert _wrap_name(name) == wrapped


def test_wrap_name_width_argument() -> None:
    assert _wrap_name("ab_cd_ef", width=5) == "ab\n_cd_ef"
    assert _wrap_name("ab_cd", width=5) == "ab_cd"


# ---------------------------------------------------------------- smoothing


@pytest.mark.parametrize("points, window", [(0, 1), (1, 1), (19, 1), (20, 1), (29, 1), (30, 3), (59, 3), (60, 5),
                                            (89, 5), (90, 7), (300, 21), (1499, 99), (1500, 101), (1529, 101),
                                            (1530, 101), (10_000, 101)])
def test_smoothing_window_is_an_odd_fifteenth_up_to_101(points: int, window: int) -> None:
    assert smoothing_window(points) == window


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    half = window // 2
    out = []
    for i in range(len(values)):
        part = values[max(0, i - half): i + half + 1]
        part = part[~np.isnan(part)]
        out.append(part.mean() if part.size else np.nan)
    return np.array(out)


@pytest.mark.parametrize("window", [1, 3, 5, 7])
def test_smooth_is_a_centred_moving_average_shorter_at_the_ends_skipping_nan(window: int) -> None:
    values = np.random.default_rng(3).normal(size=17)
    values[[4, 5, 11]] = np.nan
    got = smooth(values, window)
    np.testing.assert_allclose(got, _moving_average(values, window), rtol=1e-12)
    assert smooth(np.array([1.0, 3.0, np.nan, 5.0, 7.0]), 3).tolist() == [2.0, 2.0, 4.0, 6.0, 6.0]
    assert smooth(np.array([2.0, 4.0, 9.0]), 1).tolist() == [2.0, 4.0, 9.0]


def test_smooth_of_an_all_nan_stretch_is_nan() -> None:
    got = smooth(np.array([1.0, np.nan, np.nan, np.nan, 5.0]), 3)
    assert got[0] == 1.0 and np.isnan(got[2]) and got[4] == 5.0


# ---------------------------------------------------------------- log axis


def _runs(**values: list[float]) -> dict[str, dict[str, ScalarSeries]]:
    return {run: {"loss": ScalarSeries(np.arange(len(v), dtype=np.int64), np.array(v, dtype=np.float64))}
            for run, v in values.items()}


@pytest.mark.parametrize("values, spans", [
    ({"a": [1.0, 10.0]}, False),  # exactly a decade: no log axis
    ({"a": [1.0, 10.000001]}, True),
    ({"a": [2.0], "b": [20.5]}, True),  # over all runs together
    ({"a": [0.0, 100.0]}, False),  # not all positive
    ({"a": [-1.0, 100.0]}, False),
    ({"a": [np.nan, 1.0, np.inf, 5.0]}, False),  # non-finite values ignored
    ({"a": [np.nan, 0.5, -np.inf, 50.0]}, True),
    ({"a": [np.nan]}, False),
    ({"a": []}, False),
])
def test_spans_decades_is_more_than_a_factor_ten_of_positive_values(values: dict, spans: bool) -> None:
    assert bool(_spans_decades(_runs(**values), "loss")) is spans


def test_spans_decades_skips_runs_without_the_tag() -> None:
    runs = _runs(a=[1.0, 50.0])
    runs["b"] = {"other": ScalarSeries(np.arange(2), np.array([1e-9, 1e9]))}
    assert bool(_spans_decades(runs, "loss")) is True
    assert bool(_spans_decades(runs, "other")) is True
    assert bool(_spans_decades(_runs(a=[2.0, 3.0]) | {"b": runs["b"]}, "loss")) is False


# ---------------------------------------------------------------- axis ranges


def test_bulk_range_of_nothing_finite_is_zero_to_one() -> None:
    assert bulk_range([]) == (0.0, 1.0)
    assert bulk_range([float("nan"), float("inf"), -float("inf")]) == (0.0, 1.0)


def test_bulk_range_fences_at_three_iqr_by_default_and_at_the_given_multiple() -> None:
    """1..9 and two more: numpy's quartiles of the 11 values are 2.5 and 7.5 (IQR 5), so the far fences are
    -12.5 and 22.5 and the inner ones (k = 1.5) -5 and 15."""
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, -11.5, 23.5]
    assert list(np.percentile(values, [25, 75])) == [2.5, 7.5]
    # IQR 5: fences -12.5 and 22.5 at k = 3, so 23.5 is out and -11.5 in
    assert bulk_range(values) == (-11.5, 9.0)
    assert bulk_range([*values[:9], -12.5, 22.5]) == (-12.5, 22.5)  # on both fences: kept
    assert bulk_range([*values[:9], -12.5, 22.5], fence_iqr=1.5) == (1.0, 9.0)
    assert bulk_range([*values[:9], -5.0, 15.0], fence_iqr=1.5) == (-5.0, 15.0)  # on k = 1.5 fences
    assert bulk_range([*values[:9], -5.0000001, 15.0000001], fence_iqr=1.5) == (1.0, 9.0)
    assert bulk_range([4.0, float("nan"), 1.0, float("inf")]) == (1.0, 4.0)
    low, high = bulk_range([3.0, 1.0, 2.0])
    assert (type(low), type(high)) == (float, float)


@pytest.mark.parametrize("lo, hi, padded", [
    (10.0, 20.0, (9.2, 20.8)),  # 8% of the range each side
    (-3.0, 2.0, (-3.4, 2.4)),
    (5.0, 5.0, (4.9, 5.1)),  # no range: 2% of the value
    (-50.0, -50.0, (-51.0, -49.0)),
    (0.5, 0.5, (0.48, 0.52)),  # 2% of at least 1
    (0.0, 0.0, (-0.02, 0.02)),
    (-0.3, -0.3, (-0.32, -0.28)),
])
def test_padded_adds_eight_percent_of_the_range_or_two_percent_of_the_value(lo: float, hi: float,
                                                                            padded: tuple[float, float]) -> None:
    assert _padded(lo, hi) == pytest.approx(padded, abs=1e-12)


def test_padded_fraction_argument() -> None:
    assert _padded(0.0, 10.0, fraction=0.5) == (-5.0, 15.0)
    assert _padded(3.0, 3.0, fraction=0.5) == pytest.approx((2.94, 3.06))


# ---------------------------------------------------------------- label column


@pytest.mark.parametrize("wanted, gap, slots", [
    ([], 0.1, []),
    ([0.4], 0.1, [0.4]),
    ([0.0], 0.1, [0.02]),  # clipped into [lo, hi]
    ([1.0], 0.1, [0.98]),
    ([0.2, 0.5, 0.9], 0.1, [0.2, 0.5, 0.9]),  # far enough apart: where wanted
    ([0.5, 0.5, 0.55], 0.1, [0.5, 0.6, 0.7]),  # crowded: pushed up
    ([0.2, 0.3, 0.95, 0.95], 0.1, [0.2, 0.3, 0.88, 0.98]),  # overflowing hi: pushed down from it
    ([0.5, 0.9, 0.95, 0.97], 0.1, [0.5, 0.78, 0.88, 0.98]),
    ([0.5, 0.5, 0.5, 0.5, 0.5], 0.3, [0.02, 0.26, 0.5, 0.74, 0.98]),  # cannot fit at 0.3: spaced evenly
    ([0.6, 0.6, 0.6], 0.48, [0.02, 0.5, 0.98]),  # exactly fits
    ([0.0, 0.0], 0.96, [0.02, 0.98]),
    ([0.5, 0.5], 1.2, [0.02, 0.98]),  # two labels a gap wider than the column: at its ends
])
def test_spread_places_labels_at_least_a_gap_apart_inside_the_column(wanted: list[float], gap: float,
                                                                     slots: list[float]) -> None:
    assert _spread(wanted, gap) == pytest.approx(slots, abs=1e-12)


def test_spread_bounds_arguments() -> None:
    assert _spread([0.0, 0.5, 1.0], 0.1, lo=0.1, hi=0.9) == pytest.approx([0.1, 0.5, 0.9])
    assert _spread([0.5, 0.5, 0.5], 0.5, lo=0.0, hi=0.6) == pytest.approx([0.0, 0.3, 0.6])


# ---------------------------------------------------------------- comparison grid


def _grid_panels(n: int, size: int) -> list[GridPanel]:
    rng = np.random.default_rng(n)
    return [GridPanel(f"model_{i}", rng.integers(0, 256, (size, size, 3), dtype=np.uint8), f"{20 + i}.00 dB / 0.9")
            for i in range(n)]


def test_comparison_grid_layout_titles_and_zoom(captured: list, tmp_path: Path) -> None:
    hr = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    panels = _grid_panels(7, 8)
    panels[2] = GridPanel("a_rather_long_model_name_here", panels[2].crop_u8, "21.50 dB / 0.7")
    crop = CropBox(top=5, left=10, size_px=8)
    comparison_grid(tmp_path / "g.png", hr, crop, panels, "Set5 baby")
    (fig, path), = captured
    assert path == tmp_path / "g.png"
    assert fig.get_suptitle() == "Set5 baby" and fig._suptitle.get_fontsize() == 13
    full, *cells = fig.axes
    # 7 panels in rows of at most 6: 2 rows of 4, the last cell empty
    assert len(cells) == 8
    assert [(c.get_subplotspec().rowspan.start, c.get_subplotspec().colspan.start) for c in cells] == [
        (r, 1 + c) for r in range(2) for c in range(4)]
    assert full.get_subplotspec().rowspan == range(2) and full.get_subplotspec().colspan == range(1)
    assert full.get_title() == "HR 60×40\ncrop at x=10, y=5" and full.title.get_fontsize() == 11
    assert not full.axison and not any(c.axison for c in cells)
    np.testing.assert_array_equal(full.images[0].get_array(), hr)
    assert full.images[0].get_interpolation() == "antialiased"
    box, = [p for p in full.patches if isinstance(p, Rectangle)]
    assert (box.get_xy(), box.get_width(), box.get_height()) == ((9.5, 4.5), 8, 8)
    assert not box.get_fill() and box.get_linewidth() == 2.0
    assert mcolors.to_hex(box.get_edgecolor()) == "#ff2020"
    titles = [c.get_title() for c in cells]
    assert titles == ["model_0\n20.00 dB / 0.9", "model_1\n21.00 dB / 0.9", "a_rather_long_model\n_name_here\n21.50 dB / 0.7",
                      "model_3\n23.00 dB / 0.9", "model_4\n24.00 dB / 0.9", "model_5\n25.00 dB / 0.9",
                      "model_6\n26.00 dB / 0.9", ""]
    assert cells[0].title.get_fontsize() == 10
    assert not cells[7].images
    zoom = 25  # round(200 / 8)
    for cell, panel in zip(cells, panels):
        image, = cell.images
        np.testing.assert_array_equal(image.get_array(), np.kron(panel.crop_u8, np.ones((zoom, zoom, 1), np.uint8)))
        assert image.get_interpolation() == "nearest"
    panel_in = 8 * zoom / DPI
    full_in = 2.4 * panel_in  # 60/40 x 2 rows would be 3 panels wide
    assert fig.get_size_inches() == pytest.approx((full_in + 4 * panel_in + 0.4, 2 * (panel_in + 0.52) + 0.4))
    assert full.get_subplotspec().get_gridspec().get_width_ratios() == pytest.approx([2.4, 1, 1, 1, 1])
    assert fig.get_layout_engine().__class__.__name__ == "ConstrainedLayoutEngine"


def test_comparison_grid_one_row_and_zoom_arguments(captured: list, tmp_path: Path) -> None:
    hr = np.zeros((40, 60, 3), dtype=np.uint8)
    panels = _grid_panels(3, 10)
    comparison_grid(tmp_path / "g.png", hr, CropBox(0, 0, 10), panels, "t", zoom_px=34, max_cols=3)
    (fig, _), = captured
    full, *cells = fig.axes
    assert len(cells) == 3 and {c.get_subplotspec().rowspan.start for c in cells} == {0}
    zoom = 3  # round(34 / 10)
    assert cells[0].images[0].get_array().shape == (30, 30, 3)
    panel_in = 10 * zoom / DPI
    full_in = 60 / 40 * panel_in  # narrower than 2.4 panels
    assert fig.get_size_inches() == pytest.approx((full_in + 3 * panel_in + 0.4, panel_in + 0.52 + 0.4))
    assert full.get_subplotspec().get_gridspec().get_width_ratios() == pytest.approx([1.5, 1, 1, 1])
    # 7 panels at 3 a row: 3 rows of 3
    captured.clear()
    comparison_grid(tmp_path / "g.png", hr, CropBox(0, 0, 10), _grid_panels(7, 10), "t", max_cols=3)
    (fig, _), = captured
    assert len(fig.axes) == 1 + 9
    assert fig.axes[0].get_subplotspec().rowspan == range(3)
    # the default zoom is to about 200 px: 12 for a 16 px crop (200 / 16 = 12.5, rounded half to even)
    captured.clear()
    comparison_grid(tmp_path / "g.png", hr, CropBox(0, 0, 16), _grid_panels(1, 16), "t")
    (fig, _), = captured
    assert fig.axes[1].images[0].get_array().shape == (16 * 12, 16 * 12, 3)
    # a zoom that rounds to 0 is 1: the crop as it is
    captured.clear()
    comparison_grid(tmp_path / "g.png", hr, CropBox(0, 0, 10), panels, "t", zoom_px=4)
    (fig, _), = captured
    np.testing.assert_array_equal(fig.axes[1].images[0].get_array(), panels[0].crop_u8)


def test_comparison_grid_needs_a_panel(captured: list, tmp_path: Path) -> None:
    with pytest.raises(ValueError) as err:
        comparison_grid(tmp_path / "g.png", np.zeros((8, 8, 3), np.uint8), CropBox(0, 0, 4), [], "t")
    assert str(err.value) == "comparison_grid needs at least one panel"
    assert captured == []


# ---------------------------------------------------------------- training curves


CURVES = (Curve("loss/g", "generator loss", smooth=True, log_y=True),
          Curve("val/psnr", "PSNR-Y", smooth=False, ylim=(20.0, 30.0)),
          Curve("loss/short", "short loss", smooth=True),
          Curve("absent", "never logged", smooth=True, log_y=True))


def _training_runs(n_runs: int) -> dict[str, dict[str, ScalarSeries]]:
    rng = np.random.default_rng(n_runs)
    runs = {}
    for i in range(n_runs):
        loss = 100.0 * np.exp(-np.arange(40) / 8) + 0.5 + rng.random(40)
        psnr = np.array([22.0, 24.5, np.nan, 24.0 + i, 23.0])
        runs[f"run{i}"] = {"loss/g": ScalarSeries(np.arange(0, 400, 10), loss),
                           "val/psnr": ScalarSeries(np.array([100, 200, 300, 400, 500]), psnr),
                           "loss/short": ScalarSeries(np.arange(10, 60, 10), np.array([3.0, 2.0, 2.5, 1.0, 1.5])),
                           "absent": ScalarSeries(np.array([], dtype=np.int64), np.array([]))}
    return runs


def _hex(line) -> str:
    return mcolors.to_hex(line.get_color())


def test_training_curves_panels_lines_and_notes(captured: list, tmp_path: Path) -> None:
    runs = _training_runs(2)
    colors = {"run0": "#1f77b4", "run1": "#000000"}
    training_curves(tmp_path / "t.png", runs, CURVES, "SRGAN", colors)
    (fig, path), = captured
    assert path == tmp_path / "t.png"
    assert fig.get_suptitle() == "SRGAN (faint: raw, solid: centred moving average; ★ best value)"
    assert fig._suptitle.get_fontsize() == 13
    axes = fig.axes
    assert len(axes) == 6 and [ax.axison for ax in axes] == [True] * 4 + [False] * 2  # 2 rows of 3
    assert fig.get_size_inches() == pytest.approx((4.6 * 3, 3.4 * 2 + 0.9))
    assert fig.get_layout_engine().__class__.__name__ == "ConstrainedLayoutEngine"
    assert [ax.get_title() for ax in axes[:4]] == ["generator loss", "PSNR-Y", "short loss", "never logged"]
    assert [ax.get_xlabel() for ax in axes[:4]] == ["step"] * 4
    assert all(ax.title.get_fontsize() == 12 for ax in axes[:4])
    assert all(ax.xaxis.get_major_locator()._integer for ax in axes[:4])

    loss, val, short, absent = axes[:4]
    # loss: per run a faint raw line, then the centred moving average over 3 points (40 values)
    assert len(loss.lines) == 4
    for k, run in enumerate(runs):
        raw, smoothed = loss.lines[2 * k: 2 * k + 2]
        series = runs[run]["loss/g"]
        np.testing.assert_array_equal(raw.get_ydata(), series.values)
        np.testing.assert_array_equal(raw.get_xdata(), series.steps)
        np.testing.assert_allclose(smoothed.get_ydata(), _moving_average(series.values, 3), rtol=1e-12)
        np.testing.assert_array_equal(smoothed.get_xdata(), series.steps)
        assert (_hex(raw), _hex(smoothed)) == (colors[run], colors[run])
        assert (raw.get_alpha(), raw.get_linewidth(), smoothed.get_alpha(), smoothed.get_linewidth()) == (
            0.25, 0.8, None, 1.6)
    assert loss.get_yscale() == "log"  # ~100 down to ~0.5
    # validation: markers, and a star at each run's best finite value
    assert len(val.lines) == 4 and val.get_yscale() == "linear" and val.get_ylim() == (20.0, 30.0)
    for k, run in enumerate(runs):
        line, star = val.lines[2 * k: 2 * k + 2]
        assert line.get_marker() == "o" and line.get_markersize() == 3.5 and _hex(line) == colors[run]
        assert line.get_linewidth() == 1.4
        np.testing.assert_array_equal(line.get_xdata(), runs[run]["val/psnr"].steps)
        np.testing.assert_array_equal(line.get_ydata(), runs[run]["val/psnr"].values)  # NaN kept: a gap
        assert star.get_marker() == "*" and star.get_linestyle() == "None" and _hex(star) == colors[run]
        assert star.get_markersize() == 11 and mcolors.to_hex(star.get_markeredgecolor()) == "#ffffff"
    assert (val.lines[1].get_xdata(), val.lines[1].get_ydata()) == (200, 24.5)  # run0: 24.5 beats 24.0
    assert (val.lines[3].get_xdata(), val.lines[3].get_ydata()) == (400, 25.0)  # run1: 25.0
    # 5 points: too few to smooth, drawn as they are with dots; a small range stays linear even with log_y
    assert len(short.lines) == 2 and [ln.get_marker() for ln in short.lines] == [".", "."]
    assert short.lines[0].get_ydata().tolist() == [3.0, 2.0, 2.5, 1.0, 1.5]
    assert short.lines[0].get_xdata().tolist() == [10, 20, 30, 40, 50]
    assert [(_hex(ln), ln.get_linewidth()) for ln in short.lines] == [("#1f77b4", 1.4), ("#000000", 1.4)]
    assert short.get_yscale() == "linear"
    # nothing logged: a note, and no log scale for an empty panel
    assert not absent.lines and [t.get_text() for t in absent.texts] == ["no 'absent' scalars"]
    note, = absent.texts
    assert note.get_position() == (0.5, 0.5) and note.get_transform() == absent.transAxes
    assert (note.get_ha(), note.get_va(), note.get_fontsize(), mcolors.to_hex(note.get_color())) == (
        "center", "center", 11, "#888888")
    assert absent.get_yscale() == "linear"
    # the legend names each run in its colour
    legend, = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["run0", "run1"]
    assert [_hex(h) for h in legend.legend_handles] == ["#1f77b4", "#000000"]
    assert [h.get_linewidth() for h in legend.legend_handles] == [2.5, 2.5]
    assert legend._ncols == 2 and legend.get_texts()[0].get_fontsize() == 11 and not legend.get_frame_on()
    assert (legend._loc, legend._outside_loc) == (8, "lower")  # under the panels: 'outside lower center'


def test_training_curves_draw_each_run_that_has_the_tag_and_never_smooth_validation(captured: list,
                                                                                   tmp_path: Path) -> None:
    """A run without a curve's scalars does not hide the runs after it; a validation curve as long as a loss
    that is smoothed (40 points) keeps its markers and its star."""
    steps, values = np.arange(0, 400, 10), 25.0 + np.sin(np.arange(40.0))
    runs = {"early": {}, "late": {"val/psnr": ScalarSeries(steps, values), "loss/g": ScalarSeries(steps, values)}}
    curves = (Curve("val/psnr", "PSNR-Y", smooth=False), Curve("loss/g", "loss", smooth=True))
    training_curves(tmp_path / "t.png", runs, curves, "x", {"early": "#000000", "late": "#2ca02c"})
    (fig, _), = captured
    val, loss = fig.axes
    line, star = val.lines
    np.testing.assert_array_equal(line.get_ydata(), values)
    assert line.get_marker() == "o" and star.get_marker() == "*" and not val.texts
    assert len(loss.lines) == 2 and _hex(loss.lines[1]) == "#2ca02c"


def test_training_curves_of_many_runs_show_only_the_averages(captured: list, tmp_path: Path) -> None:
    runs = _training_runs(4)
    colors = model_colors(list(runs))
    training_curves(tmp_path / "t.png", runs, CURVES[:1], "SRResNet", colors)
    (fig, _), = captured
    assert fig.get_suptitle() == "SRResNet (losses: centred moving average)"
    ax, = fig.axes
    assert len(ax.lines) == 4 and all(ln.get_linewidth() == 1.6 for ln in ax.lines)
    assert [_hex(ln) for ln in ax.lines] == [colors[r] for r in runs]
    assert fig.get_size_inches() == pytest.approx((4.6, 3.4 + 0.9))
    assert fig.legends[0]._ncols == 4
    # three runs: still drawn raw and smoothed
    captured.clear()
    training_curves(tmp_path / "t.png", _training_runs(3), CURVES[:1], "SRResNet", colors)
    (fig, _), = captured
    assert len(fig.axes[0].lines) == 6
    assert fig.get_suptitle() == "SRResNet (faint: raw, solid: centred moving average)"


def test_training_curves_legend_columns_at_most_five_and_none_for_one_run(captured: list, tmp_path: Path) -> None:
    runs = {f"r{i}": {"loss/short": ScalarSeries(np.arange(3), np.ones(3))} for i in range(7)}
    training_curves(tmp_path / "t.png", runs, CURVES[2:3], "x", model_colors(list(runs)))
    (fig, _), = captured
    assert fig.legends[0]._ncols == 5 and len(fig.legends[0].get_texts()) == 7
    assert fig.get_suptitle() == "x"  # nothing smoothed, no validation: no notes
    captured.clear()
    training_curves(tmp_path / "t.png", _training_runs(1), CURVES[1:2], "one", {"run0": "#2ca02c"})
    (fig, _), = captured
    assert fig.legends == [] and fig.get_suptitle() == "one (★ best value)"


def test_training_curves_max_cols(captured: list, tmp_path: Path) -> None:
    training_curves(tmp_path / "t.png", _training_runs(1), CURVES, "x", {"run0": "#2ca02c"}, max_cols=2)
    (fig, _), = captured
    assert len(fig.axes) == 4 and all(ax.axison for ax in fig.axes)
    assert fig.get_size_inches() == pytest.approx((4.6 * 2, 3.4 * 2 + 0.9))


def test_training_curves_log_axis_only_where_asked_and_ticks_and_grid(captured: list, tmp_path: Path) -> None:
    """The same decade-spanning loss twice: on a log axis only in the panel that asks for one."""
    curves = (Curve("loss/g", "linear", smooth=True), Curve("loss/g", "log", smooth=True, log_y=True))
    training_curves(tmp_path / "t.png", _training_runs(1), curves, "x", {"run0": "#2ca02c"})
    (fig, _), = captured
    assert [ax.get_yscale() for ax in fig.axes] == ["linear", "log"]
    for ax in fig.axes:
        assert ax.xaxis.get_major_ticks()[0].label1.get_fontsize() == 10
        assert ax.yaxis.get_major_ticks()[0].label1.get_fontsize() == 10
        assert all(g.get_visible() and g.get_alpha() == 0.3 for g in ax.xaxis.get_gridlines())
        assert ax.xaxis.label.get_fontsize() == 11


# ---------------------------------------------------------------- perception-distortion plane


def _panel_axes(points: tuple[PlanePoint, ...], hlines: dict[str, float], height_in: float = 6.0):
    """One panel drawn under UNLIKE_DEFAULTS."""
    with matplotlib.rc_context(UNLIKE_DEFAULTS):
        fig = Figure(figsize=(10, height_in))
        ax = fig.add_subplot()
        _plane_panel(ax, PlanePanel("Experiment 1", points), hlines, "PSNR-Y (dB)", "NIQE", height_in)
    return ax


def _marker_vertices(marker: str) -> np.ndarray:
    style = MarkerStyle(marker)
    return style.get_path().transformed(style.get_transform()).vertices


def test_plane_panel_limits_labels_and_leaders_by_hand() -> None:
    points = (PlanePoint("mse", 30.0, 7.0, "#000000", "o"), PlanePoint("bicubic", 20.0, 5.0, "#7f7f7f", "s"),
              PlanePoint("vgg", 25.0, 6.0, "#1f77b4", "D"))
    ax = _panel_axes(points, {"HR": 3.0, "top": 8.0})
    assert ax.get_title(loc="left") == "Experiment 1" and ax.get_title() == ""
    assert ax._left_title.get_fontsize() == 12
    assert ax.get_xlim() == pytest.approx((19.2, 30.8))  # 20..30 padded by 8%
    assert ax.get_ylim() == pytest.approx((2.6, 8.4))  # the lines widen 5..7 to 3..8, padded by 8% (0.4)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("PSNR-Y (dB)", "NIQE")
    # the reference lines: dashed, labelled at the left edge
    hlines = ax.lines[:2]
    assert [ln.get_ydata()[0] for ln in hlines] == [3.0, 8.0] and all(ln.get_linestyle() == "--" for ln in hlines)
    assert [(_hex(ln), ln.get_linewidth()) for ln in hlines] == [("#555555", 1), ("#555555", 1)]
    notes = [t for t in ax.texts if not hasattr(t, "xyann")]
    assert [(t.get_text(), t.get_position()) for t in notes] == [(" HR", pytest.approx((19.2, 3.0))),
                                                                 (" top", pytest.approx((19.2, 8.0)))]
    for t in notes:
        assert (t.get_va(), t.get_ha(), t.get_fontsize(), mcolors.to_hex(t.get_color())) == (
            "bottom", "left", 10, "#555555")
    # each point: a scatter marker, and a faint level line to the right edge
    assert [c.get_offsets().tolist() for c in ax.collections] == [[[30.0, 7.0]], [[20.0, 5.0]], [[25.0, 6.0]]]
    for c, p in zip(ax.collections, points):
        np.testing.assert_allclose(c.get_paths()[0].vertices, _marker_vertices(p.marker))
        assert c.get_sizes().tolist() == [60] and mcolors.to_hex(c.get_facecolor()[0]) == p.color
        assert mcolors.to_hex(c.get_edgecolor()[0]) == "#ffffff"
    levels = ax.lines[2:]
    assert [(list(ln.get_xdata()), list(ln.get_ydata())) for ln in levels] == [
        ([30.0, pytest.approx(30.8)], [7.0, 7.0]), ([20.0, pytest.approx(30.8)], [5.0, 5.0]),
        ([25.0, pytest.approx(30.8)], [6.0, 6.0])]
    assert all(ln.get_linestyle() == ":" and ln.get_alpha() == 0.35 for ln in levels)
    assert all(ln.get_linewidth() == 0.6 and ln.get_zorder() == 1 for ln in levels)  # under the markers (3)
    assert [_hex(ln) for ln in levels] == ["#000000", "#7f7f7f", "#1f77b4"]
    # labels: in the points' vertical order, at the heights _spread gives for their axes fractions
    labels = [t for t in ax.texts if hasattr(t, "xyann")]
    assert [t.get_text() for t in labels] == ["bicubic  (20.00, 5.000)", "vgg  (25.00, 6.000)",
                                              "mse  (30.00, 7.000)"]
    fractions = [(y - 2.6) / 5.8 for y in (5.0, 6.0, 7.0)]
    gap = 1.5 * 10 / 72 / (0.75 * 6.0)
    assert [t.xy for t in labels] == [pytest.approx((1.0, f)) for f in fractions]
    assert [t.xyann for t in labels] == [pytest.approx((1.06, s)) for s in _spread(fractions, gap)]
    assert [t.xyann[1] for t in labels] == pytest.approx(fractions)  # 0.17 apart, more than a gap (0.046)
    assert [mcolors.to_hex(t.get_color()) for t in labels] == ["#7f7f7f", "#1f77b4", "#000000"]
    for t, color in zip(labels, ["#7f7f7f", "#1f77b4", "#000000"]):
        assert (t.xycoords, t.anncoords, t.get_va(), t.get_ha(), t.get_fontsize()) == (
            "axes fraction", "axes fraction", "center", "left", 10)
        assert t.get_annotation_clip() is False  # drawn in the label column, outside the axes
        assert t.arrowprops == {"arrowstyle": "-", "color": color, "linewidth": 0.7, "alpha": 0.7, "shrinkA": 0,
                                "shrinkB": 2}
    assert ax.xaxis.label.get_fontsize() == 11 and ax.yaxis.label.get_fontsize() == 11
    assert ax.xaxis.get_major_ticks()[0].label1.get_fontsize() == 10
    assert ax.yaxis.get_major_ticks()[0].label1.get_fontsize() == 10
    assert all(g.get_visible() and g.get_alpha() == 0.3 for g in ax.xaxis.get_gridlines())


def test_plane_panel_without_lines_uses_the_bulk_and_ties_sort_by_x() -> None:
    points = (PlanePoint("b", 26.0, 5.0, "#000000", "o"), PlanePoint("a", 24.0, 5.0, "#7f7f7f", "o"),
              PlanePoint("c", 28.0, 9.0, "#1f77b4", "o"))
    ax = _panel_axes(points, {})
    assert ax.get_ylim() == pytest.approx((5.0 - 0.32, 9.0 + 0.32))
    assert len(ax.lines) == 3  # level lines only
    labels = [t.get_text() for t in ax.texts]
    assert labels == ["a  (24.00, 5.000)", "b  (26.00, 5.000)", "c  (28.00, 9.000)"]


def test_plane_panel_marks_points_beyond_the_bulk_at_the_edges() -> None:
    bulk = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0]
    points = tuple(PlanePoint(f"p{i}", 20.0 + i, y, "#2ca02c", "o") for i, y in enumerate([*bulk, 90.123, -61.37]))
    ax = _panel_axes(points, {})
    y_lo, y_hi = 10.0 - 0.48, 16.0 + 0.48
    assert ax.get_ylim() == pytest.approx((y_lo, y_hi))
    edge = 0.015 * (y_hi - y_lo)
    up, down = ax.collections[7], ax.collections[8]
    assert up.get_offsets().tolist() == [[27.0, pytest.approx(y_hi - edge)]]
    assert down.get_offsets().tolist() == [[28.0, pytest.approx(y_lo + edge)]]
    np.testing.assert_allclose(up.get_paths()[0].vertices, _marker_vertices("^"))
    np.testing.assert_allclose(down.get_paths()[0].vertices, _marker_vertices("v"))
    for c in (up, down):
        assert c.get_sizes().tolist() == [70] and mcolors.to_hex(c.get_edgecolor()[0]) == "#000000"
        assert mcolors.to_hex(c.get_facecolor()[0]) == "#2ca02c" and c.get_linewidths().tolist() == [0.6]
        assert not c.get_clip_on() and c.get_zorder() == 4  # above the bulk's markers (3)
    assert ax.collections[0].get_zorder() == 3
    values = [t for t in ax.texts if t.get_text() in ("90.1", "-61.4")]
    assert [(t.get_text(), t.xy, t.xyann) for t in values] == [
        ("90.1", (27.0, pytest.approx(y_hi - edge)), (5, -10)), ("-61.4", (28.0, pytest.approx(y_lo + edge)), (5, 4))]
    assert [t.get_fontsize() for t in values] == [9, 9]
    assert [(t.anncoords, mcolors.to_hex(t.get_color())) for t in values] == [("offset points", "#2ca02c")] * 2
    # their level lines run at the edge, where they are drawn
    assert [list(ln.get_ydata()) for ln in ax.lines[7:]] == [[pytest.approx(y_hi - edge)] * 2,
                                                             [pytest.approx(y_lo + edge)] * 2]
    # their labels give the true value; the leaders start at the edge
    labels = [t for t in ax.texts if t.get_text().startswith("p")]
    assert labels[0].get_text() == "p8  (28.00, -61.370)" and labels[-1].get_text() == "p7  (27.00, 90.123)"
    assert not any(t.get_in_layout() for t in labels)  # the label column's room is reserved by its own axes
    assert labels[0].xy == pytest.approx((1.0, edge / (y_hi - y_lo)))
    assert labels[-1].xy == pytest.approx((1.0, 1 - edge / (y_hi - y_lo)))
    # the bulk's own extremes lie inside the edge band's limits and keep their marker
    assert ax.collections[0].get_offsets().tolist() == [[20.0, 10.0]]
    assert ax.collections[0].get_sizes().tolist() == [60]


def test_plane_panel_edge_band_starts_exactly_at_the_edge() -> None:
    """Bulk 0..1 and a line at 100: the range is -8..108 and the band begins at 108 - 1.5% of 116. A point exactly
    there is drawn as itself; one a hair beyond it is marked at the edge (both lie far beyond the fences)."""
    y_lo, y_hi = _padded(0.0, 100.0)
    start = y_hi - 0.015 * (y_hi - y_lo)
    assert start == pytest.approx(106.26)
    bulk = tuple(PlanePoint(f"b{i}", float(i), i / 5, "#000000", "o") for i in range(6))
    for y, size, marker in ((start, 60, "o"), (float(np.nextafter(start, np.inf)), 70, "^")):
        ax = _panel_axes((*bulk, PlanePoint("top", 9.0, y, "#d62728", "o")), {"HR": 100.0})
        assert ax.get_ylim() == (y_lo, y_hi)
        top = ax.collections[-1]
        assert top.get_offsets().tolist() == [[9.0, start]] and top.get_sizes().tolist() == [size]
        np.testing.assert_allclose(top.get_paths()[0].vertices, _marker_vertices(marker))
    # the same at the bottom, with a line at -100
    y_lo, y_hi = _padded(-100.0, 1.0)
    start = y_lo + 0.015 * (y_hi - y_lo)
    for y, size, marker in ((start, 60, "o"), (float(np.nextafter(start, -np.inf)), 70, "v")):
        ax = _panel_axes((*bulk, PlanePoint("low", 9.0, y, "#d62728", "o")), {"HR": -100.0})
        low = ax.collections[-1]
        assert low.get_offsets().tolist() == [[9.0, start]] and low.get_sizes().tolist() == [size]
        np.testing.assert_allclose(low.get_paths()[0].vertices, _marker_vertices(marker))


def test_plane_panel_without_finite_points_says_so() -> None:
    points = (PlanePoint("a", float("inf"), 5.0, "#000000", "o"), PlanePoint("b", 28.0, float("nan"), "#000000", "o"))
    ax = _panel_axes(points, {"HR": 3.0})
    assert [t.get_text() for t in ax.texts] == ["no finite scores"]
    assert ax.texts[0].get_position() == (0.5, 0.5) and ax.texts[0].get_transform() == ax.transAxes
    assert (ax.texts[0].get_ha(), ax.texts[0].get_va(), ax.texts[0].get_fontsize()) == ("center", "center", 11)
    assert not ax.lines and not ax.collections and ax.get_title(loc="left") == "Experiment 1"


def test_perception_distortion_plane_rows_heights_and_title(captured: list, tmp_path: Path) -> None:
    few = PlanePanel("Experiment 1", (PlanePoint("mse", 28.5, 6.3, "#000000", "o"),))
    many = PlanePanel("Experiment 2", tuple(PlanePoint(f"m{i}", 20.0 + i, 6.0, "#000000", "o") for i in range(12)))
    perception_distortion_plane(tmp_path / "p.png", [few, many], x_label="PSNR-Y", y_label="NIQE-Y",
                                title="plane", hlines={"HR": 3.2})
    (fig, path), = captured
    assert path == tmp_path / "p.png"
    assert fig.get_suptitle() == "plane" and fig._suptitle.get_fontsize() == 13
    heights = [4.2, 0.26 * 12 + 1.6]  # at least 4.2 in, more for many points
    assert fig.get_size_inches() == pytest.approx((11.5, sum(heights) + 0.8))
    gridspec = fig.axes[0].get_subplotspec().get_gridspec()
    assert gridspec.get_height_ratios() == pytest.approx(heights)
    assert gridspec.get_width_ratios() == [2.2, 1.0] and gridspec.wspace == 0.0  # the label column flush right
    assert len(fig.axes) == 4
    plots, columns = fig.axes[0::2], fig.axes[1::2]
    assert [ax.get_title(loc="left") for ax in plots] == ["Experiment 1", "Experiment 2"]
    assert all(ax.axison for ax in plots) and not any(ax.axison for ax in columns)
    assert [(ax.get_subplotspec().rowspan.start, ax.get_subplotspec().colspan.start) for ax in fig.axes] == [
        (0, 0), (0, 1), (1, 0), (1, 1)]
    assert [ax.get_xlabel() for ax in plots] == ["PSNR-Y", "PSNR-Y"]
    assert [ax.get_ylabel() for ax in plots] == ["NIQE-Y", "NIQE-Y"]
    assert fig.get_layout_engine().__class__.__name__ == "ConstrainedLayoutEngine"
    assert all(" HR" in [t.get_text() for t in ax.texts] for ax in plots)
    # twelve labels at one height: a gap apart, the gap of this row's own height
    labels = [t for t in plots[1].texts if t.get_text().startswith("m")]
    gap = 1.5 * 10 / 72 / (0.75 * heights[1])
    assert np.diff([t.xyann[1] for t in labels]) == pytest.approx([gap] * 11)


def test_perception_distortion_plane_without_panels_or_lines(captured: list, tmp_path: Path) -> None:
    perception_distortion_plane(tmp_path / "p.png", [], x_label="x", y_label="y", title="empty")
    (fig, _), = captured
    assert fig.axes == [] and fig.get_size_inches() == pytest.approx((11.5, 4.2 + 0.8))
    captured.clear()
    panel = PlanePanel("E", (PlanePoint("a", 1.0, 2.0, "#000000", "o"), PlanePoint("b", 2.0, 4.0, "#000000", "o")))
    perception_distortion_plane(tmp_path / "p.png", [panel], x_label="x", y_label="y", title="no lines")
    (fig, _), = captured
    assert fig.axes[0].get_ylim() == pytest.approx((2.0 - 0.16, 4.0 + 0.16))
    assert len(fig.axes[0].lines) == 2


# ---------------------------------------------------------------- saving


def test_save_writes_a_png_atomically_without_software_metadata(tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "figures" / "f.png"
    fig = Figure(figsize=(2.0, 1.0))
    fig.add_subplot().plot([0, 1], [1, 0])
    with caplog.at_level(logging.DEBUG, logger="srgan.report.figures"):
        _save(fig, path)
    assert caplog.messages == [f"wrote {path}"]
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size == (2 * DPI, DPI)
        assert "Software" not in img.info
        assert img.info["dpi"] == pytest.approx((110, 110), abs=0.01)
    assert sorted(p.name for p in path.parent.iterdir()) == ["f.png"]  # no temporary left


def test_save_replaces_an_old_file_and_leaves_it_when_drawing_fails(tmp_path: Path) -> None:
    path = tmp_path / "f.png"
    path.write_bytes(b"old")
    fig = Figure(figsize=(1.0, 1.0))
    _save(fig, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    first = path.read_bytes()
    _save(fig, path)
    assert path.read_bytes() == first  # the same bytes again: nothing in them but the figure
    broken = Figure(figsize=(1.0, 1.0))
    broken.add_subplot().text(0.5, 0.5, "$\\frac{$")  # bad mathtext: fails while drawing
    path.write_bytes(b"old")
    with pytest.raises(ValueError):
        _save(broken, path)
    assert path.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["f.png"]
