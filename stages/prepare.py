"""Stages `prepare_train`, `prepare_valid`, `prepare_test@<set>`: one prepared folder from its source.

usage: python -m stages.prepare train|valid|test/<set> OUT_DIR CACHE_DIR
The source is params `data.train`, `data.valid` or `data.test.<set>`.
"""

from pathlib import Path

from srgan.core.config import load_params
from srgan.core.console import run_main
from srgan.core.errors import SrganError
from srgan.datasets.prepare import prepare_dataset


def main(argv: list[str]) -> None:
    role, out_dir, cache_dir = argv[1], Path(argv[2]), Path(argv[3])
    data = load_params(Path("params.yaml")).data
    role_name, _, name = role.partition("/")
    if role_name == "test" and name in data.test:
        source = data.test[name]
    elif role_name in ("train", "valid") and not name:
        source, name = getattr(data, role_name), role_name
    else:
        raise SrganError(f"unknown dataset '{role}': use train, valid or test/<a key of data.test>")
    prepare_dataset(name, source, data.scale, out_dir, cache_dir)


if __name__ == "__main__":
    run_main(main)
