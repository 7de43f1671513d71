"""The page `dvc plots show` writes, with its scripts inline, so that it draws offline.

DVC's default page loads vega, vega-lite and vega-embed from a CDN: without internet it stays
blank. `.dvc/config` names this page instead (`plots.html_template`, relative to .dvc/); it
inlines the bundle of those three libraries that the `vl-convert-python` package ships
(`vl_convert.javascript_bundle()`, which sets `window.vegaEmbed`), and DVC puts its charts at
`{plot_divs}`. The page is committed, so every clone draws offline; this module rewrites it
when the bundle should change:

usage: python -m srgan.report.plots_html [PATH]   (default .dvc/plots/offline.html; needs vl-convert-python)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from srgan.core.artifacts import write_text_atomic

DEFAULT_PATH = Path(".dvc/plots/offline.html")
PLACEHOLDER = "{plot_divs}"  # where DVC puts the charts (dvc_render.html)
# Two charts per row at any window width (vega-embed's inline blocks would wrap 1, 2 or 3 to a row and leave
# the last row half empty); srgan.report.curves.CHARTS has an even number of them.
STYLE = ("body { display: grid; grid-template-columns: repeat(2, max-content); gap: 8px 24px; margin: 16px; } "
         "table { border-spacing: 15px; }")


def page(bundle: str, version: str) -> str:
    """The HTML template around a JavaScript bundle that defines `window.vegaEmbed`."""
    if PLACEHOLDER in bundle or "</script" in bundle:
        raise ValueError("the JavaScript bundle contains text that would break the page")  # a bug, not user input
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>DVC plots</title>\n"
        f"<!-- vega, vega-lite, vega-embed: vl-convert-python {version}, inlined for offline use -->\n"
        f"<script>{bundle}</script>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"{PLACEHOLDER}\n</body>\n</html>\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m srgan.report.plots_html", description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_PATH, help="where to write the page")
    args = parser.parse_args(argv)
    try:
        import vl_convert
    except ImportError:
        sys.exit("error: this needs vl-convert-python (pip install vl-convert-python)")
    from importlib.metadata import version

    write_text_atomic(args.path, page(vl_convert.javascript_bundle(), version("vl-convert-python")))
    print(f"wrote {args.path}")


if __name__ == "__main__":
    main()
