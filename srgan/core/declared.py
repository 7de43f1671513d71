"""What dvc.yaml declares for one stage: the params keys it may read, and the code it runs.

dvc.yaml is generated (`srgan.pipeline.dvc_yaml`) from the one table of declared params
(`srgan.pipeline.stage_params`) and each stage script's import closure. A stage reads its own
entry back when it starts, so what DVC checks before deciding that a stage is up to date is, by
construction, what the stage may read:

- its params come through a view of exactly the declared keys (`srgan.core.sections.params_view`):
  reading any other key is an error, not a stale result;
- a training run's resume fingerprint hashes those keys' values and the declared code files, so
  the stage needs none of the pipeline wiring in its own closure.

Stage names are DVC's. A training or evaluation run is an instance of a `matrix` stage, one per
seed of params `seeds` (and per variant): `train_srresnet_mse@0`, `train_srgan@hybrid_vgg19_5_4-2`
(`${item.variant}` = hybrid_vgg19_5_4, `${item.seed}` = 2: DVC joins the values with '-', and a
variant name has no '-'). A prepared test set is a `foreach` instance: `prepare_test@set5`
(`${key}` = set5).
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

    stage: str  # 'train_srgan@hybrid_vgg19_5_4-0'
    params: tuple[str, ...]  # dotted params keys, as dvc.yaml lists them, resolved for this instance
    code: tuple[str, ...]  # the .py files among its deps, relative to the project folder


def _resolve(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        for placeholder, text in names.items():
            value = value.replace(placeholder, text)
        return value
    if isinstance(value, list):
        return [_resolve(v, names) for v in value]
    return value


def _instance(entry: dict[str, Any], suffix: str) -> tuple[dict[str, Any], dict[str, str]] | None:
    """(the stage body, {placeholder: value}) of instance `suffix` of a generated stage; None: not one."""
    if "foreach" in entry:
        return entry["do"], {"${key}": suffix}
    if "matrix" in entry:
        keys = list(entry["matrix"])
        values = suffix.rsplit("-", len(keys) - 1)  # only the first value (a variant name) could hold a '-'
        if len(values) != len(keys):
            return None
        body = {k: v for k, v in entry.items() if k != "matrix"}
        return body, {f"${{item.{k}}}": v for k, v in zip(keys, values)}
    return None


def read_declared(stage: str, dvc_yaml: Path = DVC_YAML) -> Declared:
    """The declaration of `stage` ('name' or 'name@key') in `dvc_yaml`; SrganError when there is none."""
    try:
        stages = (yaml.safe_load(dvc_yaml.read_text(encoding="utf-8")) or {}).get("stages", {})
    except FileNotFoundError:
        raise SrganError(f"{dvc_yaml} not found: run the stage from the project folder (where dvc.yaml is)") from None
    except yaml.YAMLError as e:
        raise SrganError(f"{dvc_yaml} is not valid YAML ({e}); regenerate it: python -m srgan.pipeline.dvc_yaml") \
            from None
    name, at, suffix = stage.partition("@")
    entry = stages.get(name)
    found = None if entry is None else (_instance(entry, suffix) if at else (entry, {}))
    if found is None or (not at and ("foreach" in entry or "matrix" in entry)):
        raise SrganError(f"{dvc_yaml} declares no stage '{stage}'; regenerate it (python -m srgan.pipeline.dvc_yaml) "
                         "or check the stage's arguments")
    body, names = found
    params = tuple(_resolve(p, names) for p in body.get("params", []))
    code = tuple(d for d in _resolve(body.get("deps", []), names) if d.endswith(".py"))
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


def stage_name(kind: str, experiment: str, variant: str, seed: int) -> str:
    """The dvc.yaml stage of a run: 'train_srgan_mse@0', 'evaluate_srresnet@vgg19_5_4-1' (kind: train |
    evaluate). The pixel-MSE baseline of each experiment is a stage of its own (one instance per seed);
    every other variant an instance per (variant, seed)."""
    if variant == BASELINE_VARIANT:
        return f"{kind}_{experiment}_{BASELINE_VARIANT}@{seed}"
    return f"{kind}_{experiment}@{variant}-{seed}"


def run_folder(experiment: str, variant: str, seed: int) -> str:
    """A run's folder below models/, logs/, plots/, state/ and evaluation/: 'srgan/vgg19_5_4/seed0'."""
    return f"{experiment}/{variant}/seed{seed}"
