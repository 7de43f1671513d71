"""docs/layout.md's table of typical changes: each row's files exist, its count is the number of code files it
names, and the test said to hold it exists (and is a real test function)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYOUT = ROOT / "docs" / "layout.md"
CODE = re.compile(r"`((?:srgan|stages)/[^`]*)`")


def _rows() -> list[list[str]]:
    text = LAYOUT.read_text(encoding="utf-8")
    table = text[text.index("<!-- typical-changes:begin -->"):text.index("<!-- typical-changes:end -->")]
    lines = [line for line in table.splitlines() if line.startswith("|")][2:]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def _test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_the_typical_changes_table_is_held_by_real_tests() -> None:
    rows = _rows()
    assert {row[0].split(" (")[0] for row in rows} >= {"a `study_code` switch of an existing effect",
                                                       "a loss term kind", "a metric", "a param of a stage",
                                                       "a stage"}
    for change, files, count, held_by in rows:
        named = CODE.findall(files)
        for path in named:
            assert (ROOT / path).exists(), f"{change}: {path} does not exist"
        assert int(count) == len(named), f"{change}: the row counts {count} files and names {len(named)}"
        test_file, _, function = held_by.strip("`").partition("::")
        assert function in _test_functions(ROOT / test_file), f"{change}: no test {held_by}"
