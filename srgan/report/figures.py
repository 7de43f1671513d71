"""The report's figures: comparison grids, training curves and perception-distortion planes, as PNG files.

Each drawing function takes plain data (arrays, data frames, scalar series) and
writes one PNG atomically; nothing here reads pipeline folders. Figures are built with
`matplotlib.figure.Figure` and the Agg canvas directly, so no pyplot state or
global backend is touched.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from srgan.core.artifacts import atomic_path
from srgan.core.images import BT601_LUMA

log = logging.getLogger(__name__)

DPI = 110
TITLE_PT = 13
LABEL_PT = 11
TICK_PT = 10
# tab10 without its gray (gray is bicubic's): nine distinct colours, one per loss variant.
_VARIANT_COLORS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
)
_FIXED_COLORS = {"bicubic": "#7f7f7f", "mse": "#000000", "HR": "#444444"}


def model_colors(models: Sequence[str]) -> dict[str, str]:
    """One colour per name (a loss variant, bicubic), the same in every figure: bicubic gray, mse black."""
    colors, k = {}, 0
    for model in models:
        if model in _FIXED_COLORS:
            colors[model] = _FIXED_COLORS[model]
        else:
            colors[model] = _VARIANT_COLORS[k % len(_VARIANT_COLORS)]
            k += 1
    return colors


def _save(fig: Figure, path: Path) -> None:
    """`fig` as a PNG at `path`, atomically (savefig renders a PNG with Agg; no pyplot, no display)."""
    with atomic_path(path) as tmp:
        # No "Software" entry: the PNG bytes then depend only on the data and the renderer.
        fig.savefig(tmp, format="png", dpi=DPI, metadata={"Software": None})
    log.debug("wrote %s", path)


# ---------------------------------------------------------------- comparison grids


@dataclass(frozen=True)
class CropBox:
    """A square window of an HR-sized image, in HR pixels."""

    top: int
    left: int
    size_px: int

    def cut(self, img_u8: np.ndarray) -> np.ndarray:
        return img_u8[self.top : self.top + self.size_px, self.left : self.left + self.size_px]


def most_detailed_crop(hr_u8: np.ndarray, crop_px: int) -> CropBox:
    """The `crop_px` window of `hr_u8` (HxWx3 uint8) with the most gradient energy.

    Energy is the sum of squared differences between horizontally and vertically
    neighbouring luma values, over the pairs lying inside the window. It is
    computed in integers, so equal windows tie exactly; ties go to the top-most,
    then left-most window. An image smaller than `crop_px` gives a window of its
    shorter side.
    """
    h, w = hr_u8.shape[:2]
    size = min(crop_px, h, w)
    # BT.601 luma weights x1000, in integers (299, 587, 114).
    weights = np.array([round(1000 * w) for w in BT601_LUMA], dtype=np.int64)
    luma = hr_u8[..., :3].astype(np.int64) @ weights
    horizontal = np.zeros((h, w), dtype=np.int64)
    horizontal[:, :-1] = np.diff(luma, axis=1) ** 2  # pair (c, c+1) stored at column c
    vertical = np.zeros((h, w), dtype=np.int64)
    vertical[:-1, :] = np.diff(luma, axis=0) ** 2  # pair (r, r+1) stored at row r
    positions = (h - size + 1, w - size + 1)
    # A window holds horizontal pairs in its first size-1 columns and vertical pairs in its first size-1 rows.
    total = _box_sums(horizontal, size, size - 1, positions) + _box_sums(vertical, size - 1, size, positions)
    top, left = np.unravel_index(int(np.argmax(total)), total.shape)
    return CropBox(top=int(top), left=int(left), size_px=size)


def _box_sums(values: np.ndarray, rows_px: int, cols_px: int, positions: tuple[int, int]) -> np.ndarray:
    """Sums of `values` over the rows_px x cols_px boxes whose top-left corners are the
    first `positions` = (rows, cols) pixels; an integral image makes each sum O(1)."""
    h, w = values.shape
    integral = np.zeros((h + 1, w + 1), dtype=values.dtype)
    integral[1:, 1:] = values.cumsum(axis=0).cumsum(axis=1)
    n_rows, n_cols = positions
    return (
        integral[rows_px : rows_px + n_rows, cols_px : cols_px + n_cols]
        - integral[:n_rows, cols_px : cols_px + n_cols]
        - integral[rows_px : rows_px + n_rows, :n_cols]
        + integral[:n_rows, :n_cols]
    )


@dataclass(frozen=True)
class GridPanel:
    label: str  # the model's name, first title line
    crop_u8: np.ndarray  # (crop, crop, 3) window of this model's output (or of HR)
    caption: str  # second title line, e.g. "27.31 dB / 0.8123"


def comparison_grid(
    path: Path,
    hr_u8: np.ndarray,
    crop: CropBox,
    panels: Sequence[GridPanel],
    title: str,
    *,
    zoom_px: int = 200,
    max_cols: int = 6,
) -> None:
    """Write one comparison grid: the full HR image with the crop outlined, then one zoomed
    crop per panel, in order, wrapped into rows of at most `max_cols`.

    Crops are enlarged by an integer nearest-neighbour factor to about `zoom_px`
    pixels, so each source pixel stays a sharp square.
    """
    if not panels:
        raise ValueError("comparison_grid needs at least one panel")
    zoom = max(1, round(zoom_px / crop.size_px))
    panel_in = crop.size_px * zoom / DPI
    rows = math.ceil(len(panels) / max_cols)
    cols = math.ceil(len(panels) / rows)
    h, w = hr_u8.shape[:2]
    full_in = min(w / h * rows * panel_in, 2.4 * panel_in)
    title_in = 0.52  # two or three title lines above each crop
    fig = Figure(
        figsize=(full_in + cols * panel_in + 0.4, rows * (panel_in + title_in) + 0.4),
        layout="constrained",
    )
    grid = fig.add_gridspec(rows, cols + 1, width_ratios=[full_in / panel_in] + [1] * cols)

    full = fig.add_subplot(grid[:, 0])
    full.imshow(hr_u8, interpolation="antialiased")
    full.add_patch(
        Rectangle((crop.left - 0.5, crop.top - 0.5), crop.size_px, crop.size_px,
                  fill=False, edgecolor="#ff2020", linewidth=2.0)
    )
    full.set_title(f"HR {w}×{h}\ncrop at x={crop.left}, y={crop.top}", fontsize=LABEL_PT)
    full.set_axis_off()

    for i in range(rows * cols):
        ax = fig.add_subplot(grid[i // cols, 1 + i % cols])
        ax.set_axis_off()
        if i >= len(panels):
            continue
        panel = panels[i]
        enlarged = np.repeat(np.repeat(panel.crop_u8, zoom, axis=0), zoom, axis=1)
        ax.imshow(enlarged, interpolation="nearest")
        ax.set_title(f"{_wrap_name(panel.label)}\n{panel.caption}", fontsize=LABEL_PT - 1)
    fig.suptitle(title, fontsize=TITLE_PT)
    _save(fig, path)


def _wrap_name(name: str, width: int = 22) -> str:
    """Break a long model name at its last '_' before `width` characters, so grid titles do not collide."""
    if len(name) <= width or "_" not in name[1:width]:
        return name
    cut = name.rindex("_", 1, width)
    return f"{name[:cut]}\n{name[cut:]}"


# ---------------------------------------------------------------- training curves


@dataclass(frozen=True)
class ScalarSeries:
    steps: np.ndarray  # int64, increasing
    values: np.ndarray  # float64


def smoothing_window(points: int) -> int:
    """Width (odd, in points) of the centred moving average for a curve of `points` values:
    1 (no smoothing) below 30 points, else about a fifteenth of the curve (2 * (points // 30) + 1),
    at most 101."""
    return min(101, 2 * (points // 30) + 1)


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over `window` points (fewer at the ends); NaN values are skipped.

    Centred, unlike TensorBoard's EMA, so the smoothed curve does not lag the raw one.
    """
    return pd.Series(values).rolling(window, center=True, min_periods=1).mean().to_numpy()


@dataclass(frozen=True)
class Curve:
    tag: str  # TensorBoard scalar tag
    label: str  # panel title
    smooth: bool  # a moving average over the raw values (training losses); else markers (validation)
    log_y: bool = False
    ylim: tuple[float, float] | None = None


def training_curves(
    path: Path,
    runs: dict[str, dict[str, ScalarSeries]],
    curves: Sequence[Curve],
    title: str,
    colors: dict[str, str],
    *,
    max_cols: int = 3,
) -> None:
    """Small multiples: one panel per curve, one line per run (vs optimiser step).

    Smoothed curves show a centred moving average, over the raw values drawn
    faint when there are at most 3 runs; unsmoothed ones (validation) show
    markers and a star at each run's best value.
    """
    rows = math.ceil(len(curves) / max_cols)
    cols = min(len(curves), max_cols)
    fig = Figure(figsize=(4.6 * cols, 3.4 * rows + 0.9), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[len(curves):]:
        ax.set_axis_off()
    show_raw = len(runs) <= 3  # more runs' raw lines would bury the smoothed ones
    smoothed = validation = False
    for ax, curve in zip(axes.flat, curves):
        drawn = False
        for run, scalars in runs.items():
            series = scalars.get(curve.tag)
            if series is None or len(series.steps) == 0:
                continue
            drawn = True
            color = colors[run]
            window = smoothing_window(len(series.values)) if curve.smooth else 1
            if window > 1:
                smoothed = True
                if show_raw:
                    ax.plot(series.steps, series.values, color=color, alpha=0.25, linewidth=0.8)
                ax.plot(series.steps, smooth(series.values, window), color=color, linewidth=1.6)
            elif curve.smooth:
                ax.plot(series.steps, series.values, color=color, linewidth=1.4, marker=".")
            else:
                validation = True
                ax.plot(series.steps, series.values, color=color, linewidth=1.4, marker="o", markersize=3.5)
                finite = np.where(np.isfinite(series.values), series.values, -np.inf)
                best = int(np.argmax(finite))
                ax.plot(series.steps[best], series.values[best], marker="*", markersize=11, color=color,
                        markeredgecolor="white", linestyle="none")
        if not drawn:
            ax.text(0.5, 0.5, f"no '{curve.tag}' scalars", ha="center", va="center", transform=ax.transAxes,
                    fontsize=LABEL_PT, color="#888888")
        elif curve.log_y and _spans_decades(runs, curve.tag):
            ax.set_yscale("log")
        if curve.ylim is not None:
            ax.set_ylim(*curve.ylim)
        ax.set_title(curve.label, fontsize=LABEL_PT + 1)
        ax.set_xlabel("step", fontsize=LABEL_PT)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=TICK_PT)
        ax.grid(True, alpha=0.3)
    if len(runs) > 1:
        handles = [Line2D([], [], color=colors[run], linewidth=2.5, label=run) for run in runs]
        fig.legend(handles=handles, loc="outside lower center", ncols=min(len(runs), 5), fontsize=LABEL_PT,
                   frameon=False)
    notes = []
    if smoothed:
        notes.append("faint: raw, solid: centred moving average" if show_raw else "losses: centred moving average")
    if validation:
        notes.append("★ best value")
    fig.suptitle(f"{title} ({'; '.join(notes)})" if notes else title, fontsize=TITLE_PT)
    _save(fig, path)


def _spans_decades(runs: dict[str, dict[str, ScalarSeries]], tag: str) -> bool:
    """A log axis helps only when the positive values span more than a decade (early losses)."""
    values = np.concatenate([s[tag].values for s in runs.values() if tag in s])
    values = values[np.isfinite(values)]
    return values.size > 0 and values.min() > 0 and values.max() / values.min() > 10.0


# ---------------------------------------------------------------- perception-distortion planes


@dataclass(frozen=True)
class PlanePoint:
    label: str  # shown in the label column
    x: float  # distortion axis (PSNR-Y)
    y: float  # perception axis (NIQE, LPIPS)
    color: str
    marker: str  # matplotlib marker


@dataclass(frozen=True)
class PlanePanel:
    title: str
    points: tuple[PlanePoint, ...]


OUTLIER_FENCE_IQR = 3.0  # Tukey's "far out" fence: beyond 3 interquartile ranges of the quartiles


def bulk_range(values: Sequence[float], fence_iqr: float = OUTLIER_FENCE_IQR) -> tuple[float, float]:
    """(low, high) of the values inside Tukey's fences [Q1 - k IQR, Q3 + k IQR]: the bulk an axis
    should show, so that one far outlier does not squeeze the others. Non-finite values are ignored."""
    finite = np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64)
    if finite.size == 0:
        return (0.0, 1.0)
    q1, q3 = np.percentile(finite, [25, 75])
    iqr = q3 - q1
    inside = finite[(finite >= q1 - fence_iqr * iqr) & (finite <= q3 + fence_iqr * iqr)]
    return float(inside.min()), float(inside.max())


def _padded(lo: float, hi: float, fraction: float = 0.08) -> tuple[float, float]:
    pad = (hi - lo) * fraction if hi > lo else max(abs(hi), 1.0) * 0.02
    return lo - pad, hi + pad


def _plane_panel(ax, panel: PlanePanel, hlines: dict[str, float], x_label: str, y_label: str,
                 height_in: float) -> None:
    points = [p for p in panel.points if math.isfinite(p.x) and math.isfinite(p.y)]
    ax.set_title(panel.title, fontsize=LABEL_PT + 1, loc="left")
    if not points:
        ax.text(0.5, 0.5, "no finite scores", ha="center", va="center", transform=ax.transAxes, fontsize=LABEL_PT)
        return
    ax.set_xlim(*_padded(min(p.x for p in points), max(p.x for p in points)))
    y_lo, y_hi = bulk_range([p.y for p in points])
    y_lo, y_hi = min(y_lo, *hlines.values()) if hlines else y_lo, max(y_hi, *hlines.values()) if hlines else y_hi
    y_lo, y_hi = _padded(y_lo, y_hi)
    ax.set_ylim(y_lo, y_hi)
    for name, value in hlines.items():
        ax.axhline(value, color="#555555", linestyle="--", linewidth=1)
        ax.text(ax.get_xlim()[0], value, f" {name}", va="bottom", ha="left", fontsize=TICK_PT, color="#555555")
    edge = 0.015 * (y_hi - y_lo)
    x_hi = ax.get_xlim()[1]
    shown: list[tuple[float, PlanePoint]] = []  # (drawn y, point)
    for p in points:
        if p.y > y_hi - edge or p.y < y_lo + edge:  # an outlier: at the edge, pointing to its value
            above = p.y > y_hi - edge
            y = y_hi - edge if above else y_lo + edge
            ax.scatter(p.x, y, s=70, color=p.color, marker="^" if above else "v", edgecolor="black",
                       linewidth=0.6, zorder=4, clip_on=False)
            ax.annotate(f"{p.y:.3g}", (p.x, y), xytext=(5, -10 if above else 4), textcoords="offset points",
                        fontsize=TICK_PT - 1, color=p.color)
        else:
            y = p.y
            ax.scatter(p.x, y, s=60, color=p.color, marker=p.marker, edgecolor="white", zorder=3)
        # Leader, part 1: a faint level line from the point to the plot's right edge.
        ax.plot([p.x, x_hi], [y, y], color=p.color, linewidth=0.6, alpha=0.35, linestyle=":", zorder=1)
        shown.append((y, p))
    # Leader, part 2: from the edge to the label column. Labels keep the points' vertical order,
    # so these connectors (both ends in the same order) never cross.
    shown.sort(key=lambda item: (item[0], item[1].x))
    wanted = [(y - y_lo) / (y_hi - y_lo) for y, _ in shown]
    # Label height in axes fraction: 1.5 lines of TICK_PT text over the axes' height (~75% of the row).
    gap = 1.5 * TICK_PT / 72 / (0.75 * height_in)
    for slot, (y, p) in zip(_spread(wanted, gap), shown):
        y_frac = (y - y_lo) / (y_hi - y_lo)
        note = ax.annotate(f"{p.label}  ({p.x:.2f}, {p.y:.3f})", xy=(1.0, y_frac), xycoords="axes fraction",
                           xytext=(1.06, slot), textcoords="axes fraction", va="center", ha="left",
                           fontsize=TICK_PT, color=p.color, annotation_clip=False,
                           arrowprops={"arrowstyle": "-", "color": p.color, "linewidth": 0.7, "alpha": 0.7,
                                       "shrinkA": 0, "shrinkB": 2})
        note.set_in_layout(False)
    ax.set_xlabel(x_label, fontsize=LABEL_PT)
    ax.set_ylabel(y_label, fontsize=LABEL_PT)
    ax.tick_params(labelsize=TICK_PT)
    ax.grid(True, alpha=0.3)


def perception_distortion_plane(
    path: Path,
    panels: Sequence[PlanePanel],
    *,
    x_label: str,
    y_label: str,
    title: str,
    hlines: dict[str, float] | None = None,
) -> None:
    """One row per panel (e.g. per experiment): the points, and a label column on the right.

    Each panel's y range is set by the bulk of its points (`bulk_range`); a point
    beyond it is drawn at the edge as a ▲/▼ with its value. Labels sit in the
    column in the points' vertical order, joined to them by a level line and a
    connector, so no two leaders cross. `hlines`: labelled reference lines (HR's
    NIQE, whose PSNR is infinite), always inside the range.
    """
    rows = max(1, len(panels))
    heights = [max(4.2, 0.26 * len(panel.points) + 1.6) for panel in panels] or [4.2]
    fig = Figure(figsize=(11.5, sum(heights) + 0.8), layout="constrained")
    grid = fig.add_gridspec(rows, 2, width_ratios=[2.2, 1.0], height_ratios=heights, wspace=0.0)
    fig.suptitle(title, fontsize=TITLE_PT)
    for row, panel in enumerate(panels):
        ax = fig.add_subplot(grid[row, 0])
        # An empty axes that only reserves the label column's room (the labels are placed in `ax`'s
        # coordinates, so they line up with the points exactly).
        fig.add_subplot(grid[row, 1]).set_axis_off()
        _plane_panel(ax, panel, dict(hlines or {}), x_label, y_label, heights[row])
    _save(fig, path)


def _spread(wanted: Sequence[float], gap: float, lo: float = 0.02, hi: float = 0.98) -> list[float]:
    """Label positions in [lo, hi] near the sorted `wanted` ones and at least `gap` apart (less
    only when they cannot fit): pushed up where they crowd, then down from `hi` if they overflow."""
    if len(wanted) > 1:
        gap = min(gap, (hi - lo) / (len(wanted) - 1))
    slots = [min(max(w, lo), hi) for w in wanted]
    for i in range(1, len(slots)):
        slots[i] = max(slots[i], slots[i - 1] + gap)
    if slots and slots[-1] > hi:
        slots[-1] = hi
        for i in range(len(slots) - 2, -1, -1):
            slots[i] = min(slots[i], slots[i + 1] - gap)
    return slots
