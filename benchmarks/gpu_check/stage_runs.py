"""(d), the stages' own loop: a real `TrainingRun` of each task for about 30 seconds (`train_srresnet` and
`train_srgan`, as the training stages call them, on the paper profile's settings), read back from the
run's timing.json: steady steps/s (after warm-up and capture, device-synchronised, progress bar, logging,
one validation and one resume save included) and whether its steps were graphed."""

from __future__ import annotations

import dataclasses
import json
import math
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.gpu_check.common import PROFILE_PRECISION, SCALE, Setup, free, synthetic_images, vgg_loss
from srgan.core.config import ModelParams, load_params
from srgan.core.declared import Declared
from srgan.core.images import bicubic_downscale, resize_bicubic
from srgan.core.records import TIMING_FILE
from srgan.core.runtime import Runtime, seed_everything
from srgan.core.study_code import training_code
from srgan.datasets.prepared import EvalImage
from srgan.losses.content import ContentLoss
from srgan.nets.srresnet import SRResNet
from srgan.training.loop import TrainData
from srgan.training.setup import TrainingArgs, TrainingSetup
from srgan.training.srgan import train_srgan
from srgan.training.srresnet import train_srresnet
from srgan.training.store import RunPaths

PROFILE = Path(__file__).resolve().parents[2] / "profiles" / "paper.yaml"
CPU_STEPS = 4  # the dry run: a few steps of the tiny networks


def _valid_images(setup: Setup, count: int = 2) -> list[EvalImage]:
    rng = np.random.default_rng(1)
    side = 256 if setup.cuda else 2 * setup.patch_px
    out = []
    for i in range(count):
        hr = resize_bicubic(rng.integers(0, 256, (side // 8, side // 8, 3)).astype(np.uint8), (side, side))
        out.append(EvalImage(f"valid{i}", bicubic_downscale(hr, SCALE), hr, False))
    return out


def steps_for(setup: Setup, seconds: float, rate: float | None, guess: float) -> int:
    """Steps that take about `seconds` at `rate` steps/s (else `guess`), in hundreds; CPU_STEPS on the CPU."""
    if not setup.cuda:
        return CPU_STEPS
    return max(200, int(math.ceil(seconds * (rate or guess) / 100.0)) * 100)


def stage_run(setup: Setup, kind: str, steps: int) -> dict:
    """One run of the stage `kind` ("srresnet": train_srresnet_mse, "srgan": train_srgan@vgg19_5_4) for
    `steps` steps on synthetic images, in a temporary folder; its timing.json and what it says."""
    params = load_params(PROFILE)
    section = params.srresnet if kind == "srresnet" else params.srgan
    half = max(1, steps // 2)
    changes = {"steps": steps, "epochs": 0, "batch_size": setup.batch, "patch_px": setup.patch_px,
               "valid_every": half}
    if kind == "srgan":
        changes.update(checkpoints=(steps,), lr_decay_step=half)  # the profile's 10x cut, half-way
    p = dataclasses.replace(section, **changes)
    execution = dataclasses.replace(params.execution, checkpoint_every=half, progress=setup.cuda,
                                    num_workers=params.execution.num_workers if setup.cuda else 0)
    model = ModelParams(num_blocks=setup.blocks, channels=setup.channels, init=params.model.init)
    params = dataclasses.replace(params, model=model, execution=execution, **{kind: p})
    runtime = Runtime(setup.device, None, params.runtime.channels_last, cuda_graphs=params.runtime.cuda_graphs)
    if params.runtime.precision != PROFILE_PRECISION:
        raise RuntimeError(f"{PROFILE} trains {params.runtime.precision}, the check assumes {PROFILE_PRECISION}")
    data = TrainData(synthetic_images(setup), _valid_images(setup), SCALE, 0)
    variant, terms = ("mse", {"mse": 1.0}) if kind == "srresnet" else ("vgg19_5_4", {"vgg19_5_4": 1.0})
    with tempfile.TemporaryDirectory(prefix=f"gpu_check_{kind}_") as tmp:
        root = Path(tmp)
        paths = RunPaths(root / "out", root / "logs", root / "plots", root / "state")
        args = TrainingArgs(kind, variant, root / "unused", root / "unused", paths, 0)
        declared = Declared(f"train_{kind}@{variant}-0", (), ())
        code = training_code(params.study_code, f"train_{kind}")  # the profile's switches (all corrected)
        stage = TrainingSetup(args, declared, params, p, terms, code, runtime, data,
                              {"settings": {}, "code": "gpu_check"})
        seed_everything(0)
        if kind == "srresnet":
            train_srresnet(stage, ContentLoss({"mse": 1.0}))
        else:
            init = SRResNet(scale=SCALE, num_blocks=setup.blocks, channels=setup.channels).state_dict()
            train_srgan(stage, vgg_loss(), init)
        timing = json.loads((paths.log_dir / TIMING_FILE).read_text(encoding="utf-8"))
    free(setup)
    return {"task": kind, "stage": declared.stage, "steps": steps, "valid_every": half, "checkpoint_every": half,
            "log_every": execution.log_every, **timing}


def stage_runs(setup: Setup, seconds: float, loop_rates: dict[str, float | None]) -> list[dict]:
    """Both stages, each about `seconds` long at the rate its graphed loop reached (`loop_rates`)."""
    rows = []
    for kind, guess in (("srresnet", 150.0), ("srgan", 60.0)):
        steps = steps_for(setup, seconds, loop_rates.get(kind), guess)
        try:
            row = stage_run(setup, kind, steps)
        except Exception as e:  # noqa: BLE001  (one run's failure must not lose the other's figures)
            row = {"task": kind, "steps": steps, "error": f"{type(e).__name__}: {e}".splitlines()[0]}
            free(setup)
        rate = loop_rates.get(kind)
        steady = row.get("steady_steps_per_s")
        row["vs_graphed_loop"] = steady / rate if steady and rate else None
        rows.append(row)
    return rows
