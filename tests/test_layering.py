"""The package's layering, as each subpackage's docstring states it ("May import: ..."), holds for every
import of every module (module level and inside functions alike)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "srgan"
SUBPACKAGES = sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py"))


def _allowed(subpackage: str) -> set[str]:
    """The dotted names on the docstring's "May import:" line (subpackages or single modules)."""
    doc = ast.get_docstring(ast.parse((PACKAGE / subpackage / "__init__.py").read_text(encoding="utf-8"))) or ""
    match = re.search(r"May import: (.*?)\.?\s*$", doc, re.S)
    assert match, f"srgan/{subpackage}/__init__.py states no 'May import: ...' line"
    return {name.strip() for name in re.split(r",\s*", match.group(1).replace("\n", " ")) if name.startswith("srgan")}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("srgan."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("srgan."):
            if node.module.count(".") == 1:  # `from srgan.scoring import metrics`: the module srgan.scoring.metrics
                names.update(f"{node.module}.{a.name}" for a in node.names)
            else:
                names.add(node.module)
    return names


@pytest.mark.parametrize("subpackage", SUBPACKAGES)
def test_every_import_is_one_the_subpackage_may_make(subpackage: str) -> None:
    allowed = _allowed(subpackage)
    for module in sorted((PACKAGE / subpackage).glob("*.py")):
        for name in _imports(module):
            parts = name.split(".")
            if parts[1] == subpackage:
                continue
            assert ".".join(parts[:2]) in allowed or ".".join(parts[:3]) in allowed, (
                f"srgan/{subpackage}/{module.name} imports {name}, which srgan/{subpackage}/__init__.py does not allow "
                f"(May import: {', '.join(sorted(allowed)) or 'nothing'})")


def test_the_order_the_package_docstring_states_has_no_arrow_running_up() -> None:
    order = ["core", "datasets", "nets", "losses", "inference", "scoring", "training", "report", "pipeline"]
    assert sorted(order) == SUBPACKAGES
    for i, subpackage in enumerate(order):
        for name in _allowed(subpackage):
            assert order.index(name.split(".")[1]) < i, f"{subpackage} may import {name}, which is not below it"
