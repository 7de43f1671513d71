"""Stage `prepare@<set>`: build data/prepared/<set> from its source in params.data.sets.

usage: python stages/prepare.py SET_NAME OUT_DIR CACHE_DIR
"""

from pathlib import Path

from srgan.console import run_main
from srgan.config import load_params
from srgan.prepare import prepare_dataset


def main(argv: list[str]) -> None:
    name, out_dir, cache_dir = argv[1], Path(argv[2]), Path(argv[3])
    data = load_params(Path("params.yaml")).data
    prepare_dataset(data.sets[name], data.scale, out_dir, cache_dir)


if __name__ == "__main__":
    run_main(main)
