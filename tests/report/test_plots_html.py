"""The offline `dvc plots show` page: the committed page is what the module writes, and its command line
writes where it is told, says so, and stops with one line when vl-convert-python is missing."""

from __future__ import annotations

import importlib.metadata
import sys
import types
from pathlib import Path

import pytest

from srgan.report import plots_html
from srgan.report.plots_html import PLACEHOLDER, STYLE, main, page

ROOT = Path(__file__).resolve().parents[2]

EXPECTED_PAGE = (
    "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>DVC plots</title>\n"
    "<!-- vega, vega-lite, vega-embed: vl-convert-python 9.9, inlined for offline use -->\n"
    "<script>window.vegaEmbed = 1;</script>\n<style>" + STYLE + "</style>\n</head>\n<body>\n"
    "{plot_divs}\n</body>\n</html>\n")


@pytest.fixture
def fake_vl_convert(monkeypatch: pytest.MonkeyPatch) -> None:
    """vl_convert with a one-statement bundle, reporting version 9.9 (other packages' versions untouched)."""
    monkeypatch.setitem(sys.modules, "vl_convert", types.SimpleNamespace(javascript_bundle=lambda: "window.vegaEmbed = 1;"))
    real_version = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version",
                        lambda name: "9.9" if name == "vl-convert-python" else real_version(name))


def test_page_pinned() -> None:
    assert page("window.vegaEmbed = 1;", "9.9") == EXPECTED_PAGE
    assert PLACEHOLDER == "{plot_divs}"


@pytest.mark.parametrize("bundle", ["a{plot_divs}b", "x</script>y", "x</scriptz"])
def test_page_refuses_a_bundle_that_would_break_it(bundle: str) -> None:
    with pytest.raises(ValueError, match="^the JavaScript bundle contains text that would break the page$"):
        page(bundle, "9.9")


def test_main_writes_the_page_where_it_is_told(fake_vl_convert: None, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "sub" / "page.html"
    main([str(target)])
    assert target.read_text(encoding="utf-8") == EXPECTED_PAGE
    assert sorted(p.name for p in target.parent.iterdir()) == ["page.html"]  # no temp file left
    assert capsys.readouterr().out == f"wrote {target}\n"


def test_main_writes_dvcs_template_path_by_default(fake_vl_convert: None, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    main([])
    assert (tmp_path / ".dvc" / "plots" / "offline.html").read_text(encoding="utf-8") == EXPECTED_PAGE
    assert capsys.readouterr().out == "wrote .dvc/plots/offline.html\n"


def test_main_without_vl_convert_stops_with_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "vl_convert", None)  # import raises ImportError
    target = tmp_path / "page.html"
    with pytest.raises(SystemExit) as stop:
        main([str(target)])
    assert stop.value.code == "error: this needs vl-convert-python (pip install vl-convert-python)"
    assert not target.exists()


def test_main_help_names_the_module(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m srgan.report.plots_html [-h] [path]\n")
    assert plots_html.__doc__.splitlines()[0] in " ".join(out.split())  # argparse wraps the description
    assert "\n  path        where to write the page\n" in out


def test_the_committed_page_is_what_the_module_writes() -> None:
    """.dvc/plots/offline.html is regenerated from the installed bundle when its version is the one it names."""
    committed = (ROOT / ".dvc" / "plots" / "offline.html").read_text(encoding="utf-8")
    vl_convert = pytest.importorskip("vl_convert")
    installed = importlib.metadata.version("vl-convert-python")
    if f"vl-convert-python {installed}," not in committed:
        pytest.skip(f"the committed page was written with another vl-convert-python than {installed}")
    assert committed == page(vl_convert.javascript_bundle(), installed)
