"""The dvc plots template and page: runs of different lengths legible on one chart (a log step axis), a legend
that names each revision's line style, and a page with two charts to a row and no half-empty last row."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from srgan.report.curves import CHARTS
from srgan.report.plots_html import STYLE, page

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / ".dvc" / "plots" / "runs.json"


def _filled(rows: list[dict]) -> dict:
    """The template as DVC fills it (anchors replaced as text, the rows as its data)."""
    text = TEMPLATE.read_text(encoding="utf-8")
    for anchor, value in (("<DVC_METRIC_X_LABEL>", "step"), ("<DVC_METRIC_Y_LABEL>", "PSNR-Y (dB)"),
                          ("<DVC_METRIC_X>", "step"), ("<DVC_METRIC_Y>", "psnr_y_db"),
                          ("<DVC_METRIC_TITLE>", "validation PSNR-Y")):
        text = text.replace(anchor, value)
    spec = json.loads(text.replace('"<DVC_METRIC_DATA>"', json.dumps(rows)))
    return spec


def _rows() -> list[dict]:
    """A 300-step baseline and a 10-step variant, at two revisions (DVC gives values as text)."""
    rows = []
    for rev, offset in (("workspace", 0.0), ("HEAD", 0.3)):
        rows += [{"step": str(s), "run": "mse", "psnr_y_db": str(26 + s / 300 + offset), "rev": rev}
                 for s in range(30, 301, 30)]
        rows += [{"step": str(s), "run": "vgg19_5_4", "psnr_y_db": str(20 + s / 10 + offset), "rev": rev}
                 for s in range(1, 11)]
    return rows


def test_the_step_axis_is_logarithmic_so_short_and_long_runs_share_a_chart() -> None:
    vl_convert = pytest.importorskip("vl_convert")
    spec = _filled(_rows())
    assert spec["encoding"]["x"]["scale"] == {"type": "log"}
    svg = vl_convert.vegalite_to_svg(spec)
    ticks = re.findall(r'<text[^>]*>(\d[\d,]*)</text>', svg)
    assert {"1", "10", "100"} <= set(ticks), ticks  # decades, not 0, 50, 100, ... (where 10 steps fit in a sliver)
    assert svg.count('class="mark-line') == 4  # a line per run and revision


def test_the_revision_legend_shows_each_revisions_line_style() -> None:
    vl_convert = pytest.importorskip("vl_convert")
    svg = vl_convert.vegalite_to_svg(_filled(_rows()))
    legend = svg[svg.index("revision (line style)"):]
    assert "workspace" in legend and "HEAD" in legend
    # each entry is a line sample in its own dash pattern (a dot, as with the point overlay, hides it)
    assert len(set(re.findall(r'stroke-dasharray="([^"]+)"', legend))) >= 1
    assert legend.count('stroke="#333"') >= 2


def test_the_page_puts_two_charts_to_a_row_and_the_charts_fill_the_rows() -> None:
    assert "grid-template-columns: repeat(2, max-content)" in STYLE
    assert len(CHARTS) % 2 == 0  # no row with one chart and a blank half
    assert STYLE in page("window.vegaEmbed = 1;", "test")
    assert STYLE in (ROOT / ".dvc" / "plots" / "offline.html").read_text(encoding="utf-8")
