"""What dvc.yaml declares for one stage: the params keys it may read, and the code it runs.

dvc.yaml is generated (`srgan.pipeline.dvc_yaml`) from the one table of declared params
(`srgan.pipeline.stage_params`) and each stage script's import closure. A stage reads its own
entry back when it starts, so what DVC checks before deciding that a stage is up to date is, by
construction, what the stage may read:

- its params come through a view of exactly the declared keys (`srgan.core.config.params_view`):
  reading any other key is an error, not a stale result;
- a training run's resume fingerprint hashes those keys' values and the declared code files, so
  the stage needs none of the pipeline wiring in its own closure.

Stage names are DVC's: `train_srresnet_mse`, `train_srgan@hybrid_vgg19_5_4` (a `foreach` instance:
`${key}` in the entry is the part after `@`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from srgan.core.errors import SrganError

DVC_YAML = Path("dvc.yaml")
BASELINE_VARIANT = "mse"  # srgan.core.config.BASELINE_VARIANT (this module reads no params)


@dataclass(frozen=True)
class Declared:
    """One stage's declaration in dvc.yaml, its `${key}` resolved."""

    stage: str  # 'train_srgan@hybrid_vgg19_5_4'
    params: tuple[str, ...]  # dotted params keys, as dvc.yaml lists them
    code: tuple[str, ...]  # the .py files among its deps, relative to the project folder


def _resolve(value: Any, key: str) -> Any:
    if isinstance(value, str):
        return value.replace("${key}", key)
    if isinstance(value, list):
        return [_resolve(v, key) for v in value]
    return value


def read_declared(stage: str, dvc_yaml: Path = DVC_YAML) -> Declared:
    """The declaration of `stage` ('name' or 'name@key') in `dvc_yaml`; SrganError when there is none."""
    try:
        stages = (yaml.safe_load(dvc_yaml.read_text(encoding="utf-8")) or {}).get("stages", {})
    except FileNotFoundError:
        raise SrganError(f"{dvc_yaml} not found: run the stage from the project folder (where dvc.yaml is)") from None
    except yaml.YAMLError as e:
        raise SrganError(f"{dvc_yaml} is not valid YAML ({e}); regenerate it: python -m srgan.pipeline.dvc_yaml") \
            from None
    name, _, key = stage.partition("@")
    entry = stages.get(name)
    if entry is None or bool(key) != ("foreach" in entry):
        raise SrganError(f"{dvc_yaml} declares no stage '{stage}'; regenerate it (python -m srgan.pipeline.dvc_yaml) "
                         "or check the stage's arguments")
    body = entry["do"] if key else entry
    params = tuple(_resolve(p, key) for p in body.get("params", []))
    code = tuple(d for d in _resolve(body.get("deps", []), key) if d.endswith(".py"))
    return Declared(stage, params, code)


def code_digest(declared: Declared, root: Path = Path(".")) -> str:
    """sha256 over the paths and bytes of the declared code files (16 hex digits)."""
    digest = hashlib.sha256()
    for relative in sorted(declared.code):
        path = root / relative
        if not path.is_file():
            raise SrganError(f"{path}, declared as code of stage {declared.stage} in dvc.yaml, does not exist; "
                             "regenerate dvc.yaml (python -m srgan.pipeline.dvc_yaml)")
        digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def stage_name(kind: str, experiment: str, variant: str) -> str:
    """The dvc.yaml stage of a run: 'train_srgan_mse', 'evaluate_srresnet@vgg19_5_4' (kind: train | evaluate).
    The pixel-MSE baseline of each experiment is a stage of its own; every other variant an instance."""
    if variant == BASELINE_VARIANT:
        return f"{kind}_{experiment}_{BASELINE_VARIANT}"
    return f"{kind}_{experiment}@{variant}"
