"""Stages `prepare_train`, `prepare_valid`, `prepare_test@<set>`: one prepared folder from its source.

usage: python -m stages.prepare train|valid|test/<set> OUT_DIR CACHE_DIR
The source is params `data.train`, `data.valid` or `data.test.<set>`.
"""

from pathlib import Path

from srgan.core.config import load_params
from srgan.core.console import run_main
from srgan.core.declared import read_declared
from srgan.core.errors import SrganError
from srgan.core.sections import params_view
from srgan.datasets.prepare import prepare_dataset


def main(argv: list[str]) -> None:
    role, out_dir, cache_dir = argv[1], Path(argv[2]), Path(argv[3])
    role_name, _, name = role.partition("/")
    if role_name == "test" and name:
        stage = f"prepare_test@{name}"
    elif role_name in ("train", "valid") and not name:
        stage, name = f"prepare_{role_name}", role_name
    else:
        raise SrganError(f"unknown dataset '{role}': use train, valid or test/<a key of data.test>")
    full = load_params(Path("params.yaml"))
    if role_name == "test" and name not in full.data.test:
        raise SrganError(f"unknown dataset '{role}': params data.test has {', '.join(full.data.test)}")
    data = params_view(full, stage, read_declared(stage).params).data
    source = data.test[name] if role_name == "test" else getattr(data, role_name)
    prepare_dataset(name, source, data.scale, out_dir, cache_dir)


if __name__ == "__main__":
    run_main(main)
