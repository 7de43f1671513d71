"""Stage `check_params`: the whole params file checked before any other stage runs.

usage: python -m stages.check_params PARAMS_FILE OUT_FILE

Every stage depends on OUT_FILE, so DVC runs this stage first whenever any key of the file changes
(it declares the whole file, added keys too). A problem stops the run here, one line each, before
DVC has deleted the outputs of any other stage. While the file passes, OUT_FILE keeps the same bytes,
so a passing check reruns nothing downstream.
"""

from pathlib import Path

from srgan.core.artifacts import bump_mtime, write_text_atomic
from srgan.core.console import run_main
from srgan.core.errors import SrganError
from srgan.losses.terms import params_file_problems

CHECKED = "checked: every stage of dvc.yaml depends on this file; its bytes never change (stages/check_params.py)\n"


def main(argv: list[str]) -> None:
    if len(argv) != 3:
        raise SrganError("usage: python -m stages.check_params PARAMS_FILE OUT_FILE")
    params_file, out_file = Path(argv[1]), Path(argv[2])
    problems = params_file_problems(params_file)
    if problems:
        if params_file.is_file():
            bump_mtime(params_file)  # so that git sees the edit a failed `dvc exp run -S` leaves (bump_mtime)
        raise SrganError("\n".join(problems) + "\nno other stage has run and no output was removed: fix the file "
                         "and run again")
    if not out_file.is_file() or out_file.read_text(encoding="utf-8") != CHECKED:
        write_text_atomic(out_file, CHECKED)


if __name__ == "__main__":
    run_main(main)
