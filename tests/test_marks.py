"""Slow marks sit on tests, not on modules: a module-wide `pytestmark = pytest.mark.slow` hides every test added to
that module later from the fast suite (`-m "not slow"`), however quick it is."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def module_wide_slow_marks(source: str) -> list[int]:
    """Line numbers of module-level `pytestmark = ...` assignments that mark slow (alone or in a list)."""
    lines = []
    for node in ast.parse(source).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) \
            else []
        marks = any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in targets) and node.value is not None
        if marks and any(isinstance(n, ast.Attribute) and n.attr == "slow" for n in ast.walk(node.value)):
            lines.append(node.lineno)
    return lines


def test_no_test_module_is_marked_slow_as_a_whole() -> None:
    found = {path.relative_to(TESTS).as_posix(): lines for path in sorted(TESTS.rglob("*.py"))
             if (lines := module_wide_slow_marks(path.read_text(encoding="utf-8")))}
    assert not found, f"mark the slow tests one by one (@pytest.mark.slow), not the module: {found}"


def test_the_check_finds_a_module_mark_and_leaves_others() -> None:
    assert module_wide_slow_marks("import pytest\npytestmark = pytest.mark.slow\n") == [2]
    assert module_wide_slow_marks("import pytest\n\npytestmark = [pytest.mark.usefixtures('x'), pytest.mark.slow]\n") \
        == [3]
    assert module_wide_slow_marks("import pytest\npytestmark = pytest.mark.usefixtures('one_thread')\n") == []
    assert module_wide_slow_marks("import pytest\n\n@pytest.mark.slow\ndef test_a():\n    pytestmark = 1\n") == []
