"""What reruns when: the table the docs show, computed from what dvc.yaml is generated from.

A stage reruns when its code (the import closure of its script), its data or its declared params
change (`srgan.pipeline.dvc_yaml`, `srgan.pipeline.stage_params`). From the same closures and the
same table this module computes, for each change a user makes, the stages DVC reruns *directly*,
and the stages that follow *when those produce other outputs* (a comment changes no checkpoint, so
DVC stops there; a new learning rate does not). `python -m srgan.pipeline.reruns` prints the table;
tests/pipeline/test_reruns.py checks that the docs hold this very table, and the slow `dvc status` probes
(tests/pipeline/test_pipeline.py) check rows of it against DVC itself.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from srgan.core.config import BASELINE_VARIANT
from srgan.core.study_code import switch_groups
from srgan.pipeline.code_deps import import_closure
from srgan.pipeline.dvc_yaml import CHECK_STAGE, Stage, stages
from srgan.pipeline.stage_params import STAGE_PARAMS

ROOT = Path(__file__).resolve().parents[2]
V = "<v>"  # a variant (or a test set) in the table
S = "<s>"  # a seed

# (what the user changes, the files) — library modules by role; every stage kind is checked against them.
CODE_CHANGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("`srgan/nets/srresnet.py` (the generator)", ("srgan/nets/srresnet.py",)),
    ("`srgan/nets/discriminator.py`", ("srgan/nets/discriminator.py",)),
    ("`srgan/losses/adversarial.py`", ("srgan/losses/adversarial.py",)),
    ("`srgan/losses/extractors.py` (feature extractors)", ("srgan/losses/extractors.py",)),
    ("`srgan/losses/terms.py` (the loss grammar)", ("srgan/losses/terms.py",)),
    ("`srgan/training/srresnet.py` (experiment 1's step and task)", ("srgan/training/srresnet.py",)),
    ("`srgan/training/srgan.py` (experiment 2's step and task)", ("srgan/training/srgan.py",)),
    ("`srgan/training/loop.py` and the other shared training modules", ("srgan/training/loop.py",)),
    ("`srgan/datasets/patches.py` (training patches)", ("srgan/datasets/patches.py",)),
    ("`srgan/inference/generator.py` (checkpoints, whole images)", ("srgan/inference/generator.py",)),
    ("`srgan/inference/tiling.py`", ("srgan/inference/tiling.py",)),
    ("`srgan/inference/folding.py`, `srgan/inference/upscale.py` (`srgan upscale`)",
     ("srgan/inference/folding.py", "srgan/inference/upscale.py")),
    ("`srgan/scoring/metrics.py` (PSNR, SSIM)", ("srgan/scoring/metrics.py",)),
    ("`srgan/scoring/niqe.py`, `lpips.py`, `colour.py`, `evaluate.py`",
     ("srgan/scoring/niqe.py", "srgan/scoring/lpips.py", "srgan/scoring/colour.py", "srgan/scoring/evaluate.py")),
    ("`srgan/core/evaluation_records.py`", ("srgan/core/evaluation_records.py",)),
    ("`srgan/core/images.py` (image files, bicubic)", ("srgan/core/images.py",)),
    ("`srgan/core/config.py`, `srgan/core/study_code.py` (the params schema)",
     ("srgan/core/config.py", "srgan/core/study_code.py")),
    ("`srgan/datasets/prepare.py`, `download.py` (sources)", ("srgan/datasets/prepare.py", "srgan/datasets/download.py")),
    ("`srgan/report/*`", ("srgan/report/build.py",)),
    ("`srgan/pipeline/*` (the param table, closures, plan)",
     ("srgan/pipeline/stage_params.py", "srgan/pipeline/code_deps.py", "srgan/pipeline/plan.py")),
)

# (what the user changes, a dotted params key; `<v>` a variant or test set)
PARAM_CHANGES: tuple[tuple[str, str], ...] = (
    ("a weight of `srresnet.variants.<v>`", "srresnet.variants.<v>.mse"),
    ("a weight of `srgan.variants.<v>`", "srgan.variants.<v>.mse"),
    ("`srresnet.steps` (or any other `srresnet` training setting)", "srresnet.steps"),
    ("`srresnet.variant_length`", "srresnet.variant_length"),
    ("`srgan.steps` (or any other `srgan` training setting)", "srgan.steps"),
    ("`srgan.adversarial_weight`, `srgan.checkpoints`", "srgan.adversarial_weight"),
    ("`model.*`", "model.num_blocks"),
    ("`features.*` (extractor weights, offline fallback)", "features.weights"),
    ("`seeds` (a seed added: its runs are new stages, every other run is kept)", "seeds"),
    ("`runtime.precision` (or any other `runtime` setting but the device)", "runtime.precision"),
    ("`runtime.device`", "runtime.device"),
    ("`data.scale`", "data.scale"),
    ("`data.train`", "data.train.images"),
    ("`data.test.<v>`", "data.test.<v>.images"),
    ("`evaluate.*`", "evaluate.tile_px"),
    ("`report.*`", "report.crop_px"),
)
EXECUTION_CHANGE = ("`execution.*` (workers, TensorBoard and resume-checkpoint cadence, progress bars)",
                    "execution.log_every")


def switch_rows() -> list[tuple[str, str]]:
    """The rows of the `study_code` switches, from their `stages` metadata: one per group of switches that change
    the same stage kinds, in the section's order (a new switch needs no row written here)."""
    rows = []
    for switches in switch_groups():
        names = ", ".join(f"`{name}`" for name in switches[1:])
        rows.append((f"`study_code.{switches[0]}`" + (f", {names}" if names else ""), f"study_code.{switches[0]}"))
    return rows


def _display(stage: Stage) -> str:
    if stage.foreach:
        return f"{stage.name}@{V}"
    if stage.matrix:
        return f"{stage.name}@" + "-".join(V if key == "variant" else S for key, _ in stage.matrix)
    return stage.name


@cache
def _stages() -> tuple[Stage, ...]:
    # Not the params check: it reruns on any params change (and on its code), but its output keeps its bytes
    # while the file passes, so nothing follows from it (the docs say so under the table).
    return tuple(s for s in stages() if s.name != CHECK_STAGE)


@cache
def _closure(script: str) -> frozenset[str]:
    return frozenset(p.as_posix() for p in import_closure(ROOT / "stages" / f"{script}.py", ROOT))


def _path_re(path: str) -> re.Pattern:
    # `${item.variant}` is a variant, never the `mse` baseline (a stage of its own); `${key}` a test set.
    pattern = re.escape(path).replace(re.escape("${item.variant}"), rf"(?!{BASELINE_VARIANT}\b)[^/]+")
    return re.compile(pattern.replace(re.escape("${item.seed}"), r"[^/]+").replace(re.escape("${key}"), r"[^/]+"))


def _feeds(upstream: Stage, downstream: Stage) -> bool:
    """Whether an output of `upstream` is (or holds, or lies in) a data dependency of `downstream`."""
    outs = [o if isinstance(o, str) else next(iter(o)) for o in (*upstream.outs, *upstream.metrics)]
    for out in outs:
        for dep in downstream.data:
            out_re, dep_re = _path_re(out), _path_re(dep)
            if (out_re.fullmatch(dep) or dep_re.fullmatch(out) or out.startswith(dep.rstrip("/") + "/")
                    or dep.startswith(out.rstrip("/") + "/")):
                return True
    return False


def downstream(names: set[str]) -> set[str]:
    """Every stage (display name) that depends on the outputs of `names`, transitively (not `names`)."""
    by_name = {_display(s): s for s in _stages()}
    found, todo = set(), list(names)
    while todo:
        upstream = by_name[todo.pop()]
        for stage in _stages():
            name = _display(stage)
            if name not in names and name not in found and _feeds(upstream, stage):
                found.add(name)
                todo.append(name)
    return found


def code_reruns(paths: tuple[str, ...]) -> set[str]:
    """The stages whose code closure holds any of `paths`."""
    return {_display(s) for s in _stages() if _closure(s.script) & set(paths)}


def _covers(declared: str, key: str) -> bool:
    declared = declared.replace("${item.variant}", V).replace("${key}", V)
    return key == declared or key.startswith(declared + ".") or declared.startswith(key + ".")


def param_reruns(key: str) -> set[str]:
    """The stages that declare `key` (or a key inside it, or the section holding it)."""
    return {_display(s) for s in _stages() if any(_covers(d, key) for d in STAGE_PARAMS[s.name])}


def _order(names: set[str]) -> str:
    order = [_display(s) for s in _stages()]
    return ", ".join(f"`{n}`" for n in sorted(names, key=order.index)) if names else "nothing"


def table() -> str:
    """The markdown table: what you change | reruns | then, where their outputs change."""
    lines = ["| you change | reruns | then, where those outputs change |", "|---|---|---|"]
    rows = [(what, code_reruns(paths)) for what, paths in CODE_CHANGES]
    changes = [*PARAM_CHANGES, *switch_rows(), EXECUTION_CHANGE]
    rows += [(what, param_reruns(key)) for what, key in changes]
    for what, direct in rows:
        lines.append(f"| {what} | {_order(direct)} | {_order(downstream(direct)) if direct else '–'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
