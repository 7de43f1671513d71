"""The dvc plots template and page: runs of different lengths legible on one chart (a log step axis), a legend
that names each revision's line style, and a page with two charts to a row and no half-empty last row."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from srgan.report.curves import CHARTS, Chart, curve_table, write_curve_table
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


# ---------------------------------------------------------------- the long tables the charts read


def test_chart_files_and_fields_are_named_after_the_experiment_and_tag() -> None:
    chart = Chart("srgan", "valid/psnr_y_db", "t", "y")
    assert (chart.file, chart.field) == ("curves/srgan_valid_psnr_y_db.tsv", "psnr_y_db")
    nested = Chart("srresnet", "a/b/c", "t", "y")
    assert (nested.file, nested.field) == ("curves/srresnet_a_b_c.tsv", "c")  # every '/' in the file, the last part
    assert Chart("srgan", "plain", "t", "y").field == "plain"


def test_charts_pinned() -> None:
    """What dvc.yaml's plots are generated from: experiment, tag and axis label of each chart, in order."""
    assert [(c.experiment, c.tag, c.y_label) for c in CHARTS] == [
        ("srresnet", "valid/psnr_y_db", "PSNR-Y (dB)"),
        ("srresnet", "loss/content", "content loss"),
        ("srgan", "valid/psnr_y_db", "PSNR-Y (dB)"),
        ("srgan", "loss/generator", "content + adversarial"),
        ("srgan", "loss/adversarial", "-log D(SR)"),
        ("srgan", "loss/discriminator", "-log D(HR) - log(1 - D(SR))"),
        ("srgan", "d/real_prob", "D(HR)"),
        ("srgan", "d/fake_prob", "D(SR)")]
    assert CHARTS[0].title == "Experiment 1 (SRResNet): validation PSNR-Y"
    assert CHARTS[2].title == "Experiment 2 (SRGAN): validation PSNR-Y"


def test_curve_table_is_a_row_per_run_and_step_in_the_order_given() -> None:
    chart = Chart("srgan", "valid/psnr_y_db", "t", "y")
    runs = {
        "vgg19_5_4": {"valid/psnr_y_db": ([10, 20], [25.5, 26.0]), "loss/content": ([10], [0.1])},
        "mse": {"loss/content": ([5], [0.2])},  # without the tag: left out
        "resnet": {"valid/psnr_y_db": ((30,), (24.25,))},
    }
    table = curve_table(chart, runs)
    assert list(table.columns) == ["step", "run", "psnr_y_db"]
    assert table.to_dict("list") == {"step": [10, 20, 30], "run": ["vgg19_5_4", "vgg19_5_4", "resnet"],
                                     "psnr_y_db": [25.5, 26.0, 24.25]}
    assert list(table.index) == [0, 1, 2]
    assert (table["step"].dtype, table["psnr_y_db"].dtype) == (np.int64, np.float64)


def test_curve_table_values_are_floats_even_when_logged_as_integers() -> None:
    table = curve_table(Chart("srgan", "d/real_prob", "t", "y"), {"mse": {"d/real_prob": ([1, 2], [0, 1])}})
    assert table["real_prob"].dtype == np.float64 and list(table["real_prob"]) == [0.0, 1.0]


def test_curve_table_without_any_run_of_the_tag_is_empty_with_the_columns_and_dtypes() -> None:
    table = curve_table(Chart("srresnet", "loss/content", "t", "y"), {"mse": {"valid/psnr_y_db": ([1], [2.0])}})
    assert list(table.columns) == ["step", "run", "content"] and len(table) == 0
    assert (table["step"].dtype, table["content"].dtype) == (np.int64, np.float64)


def test_write_curve_table_writes_tabs_newlines_and_six_significant_digits(tmp_path: Path) -> None:
    chart = Chart("srresnet", "loss/content", "t", "y")
    table = curve_table(chart, {"mse": {"loss/content": ([1, 1000000], [0.123456789, 12345678.9])}})
    path = tmp_path / "c.tsv"
    write_curve_table(path, table)
    assert path.read_bytes() == b"step\trun\tcontent\n1\tmse\t0.123457\n1000000\tmse\t1.23457e+07\n"
