"""The check_params stage script: one line per problem and a new file time on failure (so git sees what a failed
`dvc exp run -S` left), the same output bytes while the file passes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from stages import check_params

ROOT = Path(__file__).resolve().parents[2]


def test_a_passing_file_writes_the_same_bytes_and_leaves_them_alone(tmp_path: Path) -> None:
    params, out = tmp_path / "params.yaml", tmp_path / "data" / "params.checked"
    shutil.copy(ROOT / "params.yaml", params)
    check_params.main(["check_params", str(params), str(out)])
    assert out.read_bytes() == (ROOT / "data" / "params.checked").read_bytes()
    os.utime(out, (1_000_000, 1_000_000))
    check_params.main(["check_params", str(params), str(out)])
    assert out.stat().st_mtime == 1_000_000  # not rewritten: nothing for DVC or git to notice


def test_a_failing_file_stops_with_one_line_per_problem_and_a_new_time(tmp_path: Path) -> None:
    params, out = tmp_path / "params.yaml", tmp_path / "params.checked"
    text = (ROOT / "params.yaml").read_text(encoding="utf-8")
    params.write_text(text.replace("  steps: 10\n", "  steps: -5\n  stepz: 5\n"), encoding="utf-8")
    out.write_text("kept\n", encoding="utf-8")
    os.utime(params, (1_000_000, 1_000_000))
    with pytest.raises(check_params.SrganError) as info:
        check_params.main(["check_params", str(params), str(out)])
    lines = str(info.value).splitlines()
    assert lines[:2] == [f"{params}: unknown params key 'srgan.stepz'; valid keys: " + lines[0].split("valid keys: ")[1],
                         f"{params}: params key 'srgan.steps' must be >= 0, got -5"]
    assert lines[2] == "no other stage has run and no output was removed: fix the file and run again"
    assert out.read_text(encoding="utf-8") == "kept\n"
    assert params.stat().st_mtime > 1_000_000 and params.read_text(encoding="utf-8").count("stepz") == 1
