"""(b) parity: graphed against eager steps from the same state and batches, in the profiles' configuration
(fp32 + channels_last, TF32 convolutions; then bf16).

30 steps with EMA 0.999, the learning rate cut 10x after step 10 and a non-finite batch at step 15. The
state is read through the training `Task` protocol (`state_dict`, `read_health`, `learning_rate`) and
compared per group (weights, BatchNorm statistics, EMA, Adam's moments) as relative drift,
||graphed - eager|| / ||eager - start||: a graph that never updated drifts 1.0. Two eager runs from the
same state give the noise floor. Parity holds when

- every group's pooled drift is at most max(10 x its noise floor, 1e-3) — 10x because each drift is one
  sample of the same nondeterminism (atomics in cuDNN's backward kernels), 1e-3 so that a deterministic
  floor of 0 does not demand bit equality of different launch paths;
- every tensor's own drift is at most max(10 x that tensor's noise floor, 1e-2): pooled over ~1.5 M
  weights, one stale PReLU slope or bias moves the group's drift by under 1e-3, while its own drift is 1.0;
- every step's loss scalars agree: max over steps of |graphed - eager| / |eager| at most
  max(10 x the same for the second eager run, 1e-3), NaN exactly where eager is NaN;
- the integer state (Adam's step counts, BatchNorm's counts, the EMA's count, the learning rates, the
  guard's record) is equal, and every run skipped step 15.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from benchmarks.gpu_check.common import SCALE, Setup, build, free, train_params
from srgan.core.runtime import Runtime
from srgan.training.task import Task

PARITY_FACTOR, PARITY_FLOOR = 10.0, 1e-3  # a group's drift <= max(PARITY_FACTOR x noise floor, PARITY_FLOOR)
TENSOR_FLOOR = 1e-2  # a tensor's drift <= max(PARITY_FACTOR x its noise floor, TENSOR_FLOOR)
LOSS_FLOOR = 1e-3  # a step's loss: relative difference <= max(PARITY_FACTOR x noise floor, LOSS_FLOOR)
FLOAT_GROUPS = ("weights", "bn_statistics", "ema", "adam_moments")
EXACT_GROUPS = ("bn_counts", "ema_count", "adam_steps", "learning_rate", "guard")
BN_STATISTICS = ("running_mean", "running_var")


def snapshot(task: Task) -> dict[str, dict[str, Tensor]]:
    """The task's state by group, on the CPU (float groups in float64), read through the `Task` protocol:
    `state_dict` (networks, optimisers, EMA) and `read_health` (which resets the guard's window)."""
    groups: dict[str, dict[str, Tensor]] = {g: {} for g in FLOAT_GROUPS + EXACT_GROUPS}

    def put(group: str, name: str, value: Tensor) -> None:
        value = torch.as_tensor(value).detach().cpu()
        groups[group][name] = value.double() if group in FLOAT_GROUPS else value.clone()

    state = task.state_dict()
    for net_name, weights in state["networks"].items():
        for name, value in weights.items():
            if not value.is_floating_point():
                put("bn_counts", f"{net_name}.{name}", value)
            else:
                put("bn_statistics" if name.endswith(BN_STATISTICS) else "weights", f"{net_name}.{name}", value)
    if state["ema"] is not None:
        for name, value in state["ema"]["model"].items():
            put("ema" if value.is_floating_point() else "ema_count", name, value)
        put("ema_count", "updates", state["ema"]["updates"])
    for opt_name, opt in state["optimizers"].items():
        for g, group in enumerate(opt["param_groups"]):
            put("learning_rate", f"{opt_name}.{g}", group["lr"])
            for i in group["params"]:
                saved = opt["state"].get(i, {})  # empty before the first step: moments 0, step 0
                for key in ("exp_avg", "exp_avg_sq"):
                    if key in saved:
                        put("adam_moments", f"{opt_name}.{i}.{key}", saved[key])
                put("adam_steps", f"{opt_name}.{i}.step", torch.as_tensor(saved.get("step", 0.0)).float())
    health = task.read_health()
    put("guard", "bad", torch.tensor(health.bad))
    put("guard", "first_step", torch.tensor(health.first_step))
    put("guard", "failed_checks", torch.tensor(list("; ".join(health.failed).encode()), dtype=torch.uint8))
    return groups


def _at(snapshot: dict[str, Tensor], ref: dict[str, Tensor], key: str) -> Tensor:
    return snapshot[key] if key in snapshot else torch.zeros_like(ref[key])  # Adam's moments before a step: 0


def _ratio(num: float, den: float) -> float:
    if den == 0.0:
        return 0.0 if num == 0.0 else math.inf
    return num / den


def relative_drift(start: dict[str, Tensor], ref: dict[str, Tensor], other: dict[str, Tensor]) -> float:
    """||other - ref|| / ||ref - start|| over a group's tensors (L2, float64); inf when ref never moved but
    other differs, nan when a value is not finite."""
    num = math.sqrt(sum(float((_at(other, ref, k) - ref[k]).pow(2).sum()) for k in ref))
    den = math.sqrt(sum(float((ref[k] - _at(start, ref, k)).pow(2).sum()) for k in ref))
    return _ratio(num, den)


def tensor_drifts(start: dict[str, Tensor], ref: dict[str, Tensor], other: dict[str, Tensor]) -> dict[str, float]:
    """`relative_drift` of each tensor of a group on its own."""
    return {k: _ratio(float((_at(other, ref, k) - ref[k]).norm()), float((ref[k] - _at(start, ref, k)).norm()))
            for k in ref}


def _limit(floor: float, absolute: float) -> float:
    return max(PARITY_FACTOR * floor, absolute) if not math.isnan(floor) else math.nan


def worst_tensor(start: dict[str, Tensor], eager: dict[str, Tensor], eager_again: dict[str, Tensor],
                 other: dict[str, Tensor]) -> dict:
    """The tensor of a group furthest over (or nearest to) its own limit, and whether every tensor is within it."""
    drifts, floors = tensor_drifts(start, eager, other), tensor_drifts(start, eager, eager_again)
    rows = []
    for name, drift in drifts.items():
        limit = _limit(floors[name], TENSOR_FLOOR)
        ok = not math.isnan(drift) and drift <= limit
        score = math.inf if not ok else (drift / limit if limit else 0.0)
        rows.append((not ok, score, name, drift, floors[name], limit))
    bad, _, name, drift, floor, limit = max(rows)
    return {"tensor": name, "drift": drift, "noise_floor": floor, "limit": limit, "ok": not bad,
            "tensors_over_limit": sum(r[0] for r in rows)}


def compare(start: dict, eager: dict, eager_again: dict, other: dict) -> dict:
    """Parity of `other` with `eager` (all snapshots of one task): per float group its pooled drift, the noise
    floor (`eager_again`), the limit and its worst tensor; per integer group whether it is equal; the verdict."""
    groups, holds = {}, True
    for group in FLOAT_GROUPS:
        if not eager[group]:
            continue  # e.g. no EMA
        floor = relative_drift(start[group], eager[group], eager_again[group])
        drift = relative_drift(start[group], eager[group], other[group])
        limit = _limit(floor, PARITY_FLOOR)
        worst = worst_tensor(start[group], eager[group], eager_again[group], other[group])
        ok = math.isfinite(drift) and drift <= limit and worst["ok"]
        groups[group] = {"drift": drift, "noise_floor": floor, "limit": limit, "worst_tensor": worst, "ok": ok}
        holds &= ok
    for group in EXACT_GROUPS:
        if not eager[group]:
            continue
        ok = eager[group].keys() == other[group].keys() and all(torch.equal(eager[group][k], other[group][k])
                                                                 for k in eager[group])
        groups[group] = {"equal": ok, "ok": ok}
        holds &= ok
    return {"groups": groups, "holds": holds}


def loss_parity(eager: dict[str, Tensor], eager_again: dict[str, Tensor], other: dict[str, Tensor]) -> dict:
    """Per loss scalar ((steps,) float64 each): the largest relative step difference from eager, its noise
    floor, the step where it is largest, and whether it holds (NaN exactly where eager is NaN)."""
    out, holds = {}, True
    for key, ref in eager.items():
        same_nan = torch.equal(ref.isnan(), other[key].isnan())
        finite = ~ref.isnan()

        def worst(values: Tensor) -> tuple[float, int]:
            rel = ((values - ref).abs() / ref.abs().clamp_min(1e-30))[finite]
            if not rel.numel():
                return 0.0, 0
            value, index = rel.nan_to_num(nan=math.inf).max(0)
            return float(value), int(finite.nonzero()[index]) + 1

        diff, step = worst(other[key])
        floor, _ = worst(eager_again[key])
        limit = max(PARITY_FACTOR * floor, LOSS_FLOOR)
        ok = same_nan and diff <= limit
        out[key] = {"max_rel_diff": diff, "at_step": step, "noise_floor": floor, "limit": limit, "nan_match": same_nan,
                    "ok": ok}
        holds &= ok
    return {"losses": out, "holds": holds}


def _batches(setup: Setup, steps: int, bad_step: int) -> list[tuple[Tensor, Tensor]]:
    lr_px = setup.patch_px // SCALE
    batches = [(torch.rand(setup.batch, 3, lr_px, lr_px, generator=torch.Generator().manual_seed(i)),
                torch.rand(setup.batch, 3, setup.patch_px, setup.patch_px,
                           generator=torch.Generator().manual_seed(10**6 + i)))
               for i in range(steps)]
    batches[bad_step - 1][0].fill_(float("nan"))  # a non-finite batch: the guard must skip the step
    return batches


def parity(setup: Setup, kind: str, precision: str, steps: int = 30) -> dict:
    """(b) for one task and precision: eager, eager again and graphed runs over the same batches."""
    cut_after, bad_step = steps // 3, steps // 2  # 10 and 15 of 30
    p = train_params(setup, steps, lr_schedule="step", lr_decay_step=cut_after, ema_decay=0.999)
    batches = _batches(setup, steps, bad_step)
    to_device = Runtime(setup.device, None, True).to_device  # NHWC on the device, as the loop feeds a step
    runs, starts, notes, losses = {}, {}, {}, {}
    for label, graphs in (("eager", "never"), ("eager_again", "never"), ("graphed", "auto")):
        task = build(setup, kind, precision, graphs, p)
        starts[label] = snapshot(task)
        scalars: list[dict[str, Tensor]] = []
        for lr_img, hr_img in batches:
            out = task.train_step(to_device(lr_img), to_device(hr_img))
            scalars.append({k: v.detach().float().clone() for k, v in out.items()})  # a replay overwrites them
            task.end_step()
        losses[label] = {k: torch.stack([s[k] for s in scalars]).cpu().double() for k in scalars[0]}
        notes[label] = {"graphed": task.graphed, "note": task.graph_note, "final_lr": task.learning_rate}
        runs[label] = snapshot(task)
        guard = runs[label]["guard"]
        notes[label]["skipped"] = [int(guard["bad"]), int(guard["first_step"])]
        del task
        free(setup)
    same_start = all(compare(starts["eager"], starts["eager"], starts["eager"], starts[label])["holds"]
                     for label in ("eager_again", "graphed"))
    result = compare(starts["eager"], runs["eager"], runs["eager_again"], runs["graphed"])
    per_step = loss_parity(losses["eager"], losses["eager_again"], losses["graphed"])
    skipped_ok = all(n["skipped"] == [1, bad_step] for n in notes.values())
    lr_ok = all(math.isclose(n["final_lr"], 1.0e-5, rel_tol=1e-6) for n in notes.values())
    return {"task": kind, "precision": precision, "steps": steps, "lr_cut_after_step": cut_after,
            "non_finite_step": bad_step, "runs": notes, "same_start": same_start, "skipped_step_ok": skipped_ok,
            "lr_cut_ok": lr_ok, **result, "step_losses": per_step,
            "holds": result["holds"] and per_step["holds"] and same_start and skipped_ok and lr_ok,
            "graphed": notes["graphed"]["graphed"]}
