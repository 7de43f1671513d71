"""The check's printout: a markdown table per part (or its error), then the verdicts."""

from __future__ import annotations

from benchmarks.gpu_check.parity import (
    EXACT_GROUPS,
    FLOAT_GROUPS,
    LOSS_FLOOR,
    PARITY_FACTOR,
    PARITY_FLOOR,
    TENSOR_FLOOR,
)

TITLES = {
    "a": "captured",
    "b": "parity, graphed vs eager",
    "c": "no host sync",
    "d": "speed",
    "e": "where the time goes",
    "f": "sampler parity",
    "g": "a forced capture failure",
}


def fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return str(value)


def table(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def failed(value: object) -> bool:
    return isinstance(value, dict) and "error" in value and len(value) == 1


def _parity(value: list[dict]) -> None:
    rows = []
    for r in value:
        row = {"task": r["task"], "precision": r["precision"], "graphed": r["graphed"], "holds": r["holds"]}
        for group, v in r["groups"].items():
            if group in FLOAT_GROUPS:
                worst = v["worst_tensor"]
                row[group] = (f"{fmt(v['drift'])} (floor {fmt(v['noise_floor'])}); worst tensor {fmt(worst['drift'])} "
                              f"(floor {fmt(worst['noise_floor'])}){'' if v['ok'] else ' FAIL'}")
        row["integer state"] = ", ".join(g for g in EXACT_GROUPS if g in r["groups"]
                                         and not r["groups"][g]["ok"]) or "equal"
        row["step losses"] = "agree" if r["step_losses"]["holds"] else "DIFFER"
        rows.append(row)
    print(table(rows, ["task", "precision", "graphed", *FLOAT_GROUPS, "integer state", "step losses", "holds"]))
    print(f"\ndrift: ||graphed - eager|| / ||eager - start||; floor: the same for a second eager run; limit: "
          f"max({PARITY_FACTOR:g} x floor, {PARITY_FLOOR:g}) pooled, max({PARITY_FACTOR:g} x floor, {TENSOR_FLOOR:g}) "
          f"per tensor; step losses: max relative difference <= max({PARITY_FACTOR:g} x floor, {LOSS_FLOOR:g})")
    for r in value:
        worst = max(((g, v["worst_tensor"]) for g, v in r["groups"].items() if g in FLOAT_GROUPS),
                    key=lambda gv: (not gv[1]["ok"], gv[1]["drift"] / gv[1]["limit"] if gv[1]["limit"] else 0.0),
                    default=(None, None))
        losses = r["step_losses"]["losses"]
        loss_key = max(losses, key=lambda k: (not losses[k]["ok"], losses[k]["max_rel_diff"]), default=None)
        print(f"- {r['task']} {r['precision']}: parity {'holds' if r['holds'] else 'FAILS'} (same start "
              f"{r['same_start']}, step {r['non_finite_step']} skipped in every run {r['skipped_step_ok']}, "
              f"lr cut after step {r['lr_cut_after_step']} seen {r['lr_cut_ok']}); worst tensor "
              f"{worst[1]['tensor'] if worst[1] else '-'} ({worst[0]}); worst step loss {loss_key}: "
              + (f"{fmt(losses[loss_key]['max_rel_diff'])} at step {losses[loss_key]['at_step']} "
                 f"(floor {fmt(losses[loss_key]['noise_floor'])})" if loss_key else "-"))


def _speed(value: dict) -> None:
    print(table(value["loops"], ["task", "precision", "mode", "cut", "graphed", "steps", "steps_per_s",
                                 "images_per_s"]))
    print()
    print(table(value["steps"], ["task", "guard", "mode", "graphed", "steps", "steps_per_s"]))
    print()
    print(table(value["samplers"], ["augment", "steps", "batches_per_s"]))
    print("\nthe stages' own runs (TrainingRun, timing.json):\n")
    print(table(value["runs"], ["task", "stage", "steps", "steady_steps_per_s", "vs_graphed_loop", "graphed",
                                "graph_note", "peak_memory_mib", "wall_s", "error"]))
    print(f"\ntargets per GPU model (steps/s; this GPU: {value['model'] or 'not in the table'}):\n")
    rows = [{**t, "here": "<-" if t["model"] == value["model"] else ""} for t in value["targets"]]
    print(table(rows, ["model", "here", "srresnet", "srgan", "srresnet_stretch", "srgan_stretch", "eager_measured",
                       "source"]))
    for kind, v in value["verdicts"].items():
        print(f"- {kind}: fp32 graphed loop {fmt(v['fp32_graphed_steps_per_s'])} steps/s, target {fmt(v['target'])} "
              f"({ {True: 'met', False: 'NOT met', None: 'no target for this GPU'}[v['meets_target']] }); bf16 graphed "
              f"{fmt(v['bf16_graphed_steps_per_s'])}, stretch {fmt(v['stretch'])}")


def _profile(value: dict) -> None:
    rows = value["rows"]
    columns = ["task", "mode", "graphed", "kernels_per_step", "kernels_vs_eager", "h2d_copies_per_step",
               "busy_share", "wall_ms_per_step", "memory_mib_before_capture", "memory_mib_after_capture",
               "with_guard", "without_guard", "note"]
    print(table(rows, [c for c in columns if any(c in r for r in rows)]))
    cupti = value["cupti"]
    print(f"\nCUPTI: API {cupti['api_version']}, {cupti['packages'] or 'no package'}, {cupti['library']}")
    for r in rows:
        for k in r.get("top_kernels", [])[:5]:
            print(f"- {r['task']} {r['mode']}: {fmt(k['share_of_kernel_time'])} of kernel time, "
                  f"{fmt(k['per_step'])}/step: {k['name']}")


def print_part(part: str, value: object) -> None:
    """A markdown table of one part's result (or its error)."""
    print(f"\n## ({part}) {TITLES[part]}\n")
    if failed(value):
        print(f"error: {value['error'].strip().splitlines()[-1]}")
        return
    if part == "a":
        print(table(value, ["task", "precision", "captured", "note"]))
    elif part == "b":
        _parity(value)
    elif part == "c":
        print(table(value, ["task", "graphed", "steps_checked", "ok", "host_sync", "note"]))
    elif part == "d":
        _speed(value)
    elif part == "e":
        _profile(value)
    elif part == "f":
        print(table(value, ["augment", "compared", "batches", "identical", "max_abs_diff_8bit_levels",
                            "values_differing", "values"]))
    elif part == "g":
        rows = [{"mode": m, **{k: v for k, v in r.items() if k != "logged"}} for m, r in value.items()]
        print(table(rows, ["mode", "ok", "steps_done", "graphed", "stream_restored", "note", "error"]))
