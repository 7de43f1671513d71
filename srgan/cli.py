"""Entry points: the `srgan` console command and the wrapper every stage script uses.

This is the only place (with `stages/`) that reads argv, configures logging and
turns `SrganError` into a one-line message with a non-zero exit code.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from srgan.core.console import error_line, setup_logging
from srgan.core.errors import SrganError
from srgan.core.metric_table import CLOSER_TO_1, HIGHER, LOWER, METRICS, PROTOCOLS, headline_keys


def _cli_runtime(device: str, precision: str, channels_last: bool):
    """A single-process runtime for the inference commands (no compile, no DDP)."""
    from srgan.core.config import RuntimeParams
    from srgan.core.runtime import resolve_runtime

    params = RuntimeParams(
        device=device, precision=precision, channels_last=channels_last, compile=False, cuda_graphs="never",
        processes=1
    )
    return resolve_runtime(params)


def _origin(checkpoint: Path):
    """Where an imported generator checkpoint's weights came from (srgan import), or None."""
    from srgan.inference.importing import checkpoint_origin

    return checkpoint_origin(checkpoint)


EVALUATE_HELP = """\
Score one generator checkpoint (or bicubic upscaling) on benchmark folders, with every metric the
pipeline's evaluations compute (a metric whose weights are not in torch's cache is left out, and its
status says why). Prints one JSON record: per folder, the mean of each metric:
{metrics}

SET: a folder with HR/ (the ground truth) and optionally LRbicx4/ (its own x4 LR images); without
LRbicx4/, LR is PIL bicubic of HR, as the pipeline prepares its sets (a prepared set, such as
data/prepared/test/sample, works as it is). Runs in fp32 on --device.
"""


def _cmd_evaluate(args: argparse.Namespace) -> None:
    import json
    from dataclasses import asdict

    from srgan.core.evaluation_records import CheckpointEvaluation
    from srgan.datasets.prepare import folder_eval_images
    from srgan.inference.generator import load_generator
    from srgan.scoring.evaluate import evaluate_bicubic, make_scorer, score_sets

    runtime = _cli_runtime(args.device, precision="fp32", channels_last=True)
    sets = {Path(p).name: folder_eval_images(Path(p), args.scale) for p in args.sets}
    scorer = make_scorer(args.scale, runtime, lpips_required=False)
    if args.model == "bicubic":
        baseline, _ = evaluate_bicubic(sets, scorer, runtime)
        result = CheckpointEvaluation("bicubic", "", "", baseline.lpips_alex_status, baseline.scores)
    else:
        generator, record = load_generator(Path(args.model), args.scale, runtime)
        origin = _origin(Path(args.model))
        if origin is not None:
            from srgan.inference.importing import describe_origin

            logging.getLogger("srgan.cli").info("weights %s", describe_origin(origin))
        scores, _ = score_sets(generator, sets, scorer, runtime)
        result = CheckpointEvaluation(args.model, record.experiment, record.variant, scorer.lpips_status, scores)
    print(json.dumps(asdict(result), indent=2))


UPSCALE_HELP = """\
Upscale image files with a trained generator.

INPUT: image files and/or folders (a folder's PNG/JPEG/WebP/TIFF/BMP/GIF files,
not recursive; its other files are listed as skipped, hidden files are
ignored). A named file of another type, or a path that does not exist, fails
with the reason. Each result is written to OUT as the input's stem plus the
input's suffix (a GIF's result is a PNG), or the --format suffix; the format
follows the suffix. Results are written atomically: a
failed image leaves no file behind.

--model: the path of a generator checkpoint (.pt), e.g. a best.pt that the
pipeline wrote (dvc.yaml lists where each stage writes its models) or one
`srgan import` wrote, or an ONNX model that `srgan export` wrote (.onnx: run by
onnxruntime, from the `export` extra, with the same tiles and progress).

Colour: RGB is upscaled as is. Grayscale (L, 16-bit I;16) is upscaled as gray
replicated to RGB and written back as 8-bit grayscale. RGBA and LA: the colour
goes through the model, the alpha channel is upscaled with bicubic
interpolation and re-attached (JPEG output drops alpha, with a warning).
Palette images (GIF, palette PNG) become RGB, or RGBA when they have
transparency. Inputs with more than 8 bits per sample are written as 8-bit.
EXIF orientation is applied; of a multi-frame file (an animated GIF or WebP,
a multi-page TIFF) only the first frame is upscaled, and the log says so.

Large images are cut into tiles (--tile LR pixels, overlapping by
--tile-overlap) that are blended without seams; memory stays bounded.
A file that cannot be read or written is reported on stderr and skipped; the
exit code is 1 when any file failed, 0 otherwise.
"""


class UpscaleProgress:
    """Two bars on `stream`: all images in LR megapixels (the ETA weighs each image by its size) and the
    current image in tiles. `tile(done, all)` is the tiling's progress callback. Like tqdm's own
    default, the bars are shown only when `stream` is a terminal (a log file gets none)."""

    def __init__(self, files: list[Path], stream=None) -> None:
        from functools import partial

        from tqdm import tqdm

        from srgan.inference.upscale import lr_size

        self._tqdm = partial(tqdm, file=stream or sys.stderr, disable=None, mininterval=0.5)
        tqdm = self._tqdm
        self.megapixels: dict[Path, float] = {}
        for path in files:
            size = lr_size(path)  # an unreadable file counts 0: its error comes when it is upscaled
            self.megapixels[path] = size[0] * size[1] / 1e6 if size else 0.0
        self.overall = tqdm(total=round(sum(self.megapixels.values()), 3), desc="upscale", unit="MP",
                            bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} MP [{elapsed}<{remaining}]")
        self.image = None
        self.path: Path | None = None
        self.credited = 0.0

    def start(self, path: Path, index: int, count: int) -> None:
        self.path, self.credited = path, 0.0
        self.image = self._tqdm(total=None, desc=f"{index}/{count} {path.name}", unit="tile", leave=False)

    def tile(self, done: int, total: int) -> None:
        if self.image.total != total:
            self.image.total = total
        self.image.update(done - self.image.n)
        share = self.megapixels[self.path] * done / total
        self.overall.update(share - self.credited)
        self.credited = share

    def finish(self) -> None:
        """The image is done (or failed): its whole share counts."""
        self.overall.update(self.megapixels[self.path] - self.credited)
        self.image.close()

    def close(self) -> None:
        self.overall.close()


def _cmd_upscale(args: argparse.Namespace) -> None:
    from srgan.inference.folding import load_for_inference
    from srgan.inference.upscale import check_output_folder, collect_inputs, output_path, upscale_file

    if args.tile < 0 or (args.tile > 0 and not 0 <= args.tile_overlap < args.tile):
        raise SrganError(
            f"--tile must be >= 0 and --tile-overlap in [0, tile) LR px, got {args.tile} and {args.tile_overlap}"
        )
    check_output_folder(Path(args.output))  # before the model loads: a mistyped -o costs nothing
    checkpoint = Path(args.model)
    if not checkpoint.is_file():
        raise SrganError(f"--model {checkpoint}: no such file; pass the path of a generator checkpoint (.pt) or of "
                         "an ONNX model (.onnx)")
    log = logging.getLogger("srgan.cli")
    inputs = collect_inputs([Path(name) for name in args.inputs])
    if not inputs.files:
        # Nothing to do: the reasons are the error (one line for one input).
        reasons = inputs.errors or ["no input images to upscale"]
        for path, why in inputs.skipped:
            log.warning("skipped %s: %s", path, why)
        if len(reasons) == 1:
            raise SrganError(reasons[0])
        for message in reasons[:-1]:
            error_line(message)
        raise SrganError(f"{reasons[-1]} (none of the {len(args.inputs)} inputs holds an image to upscale)")
    for message in inputs.errors:
        error_line(message)
    for path, why in inputs.skipped:
        log.warning("skipped %s: %s", path, why)
    if checkpoint.suffix.lower() == ".onnx":
        from srgan.inference.onnx_model import load_onnx_generator

        # onnxruntime takes CPU arrays (and copies them to the GPU itself with its CUDA provider).
        runtime = _cli_runtime("cpu", precision="fp32", channels_last=False)
        model, record = load_onnx_generator(checkpoint, args.scale, args.device)
        origin = model.origin
        log.info("onnxruntime, providers %s", ", ".join(model.providers))
    else:
        runtime = _cli_runtime(args.device, precision="bf16", channels_last=True)
        model, record = load_for_inference(checkpoint, args.scale, runtime)
        origin = _origin(checkpoint)
    log.info("model %s (%s %s), x%d, tile %d px", checkpoint, record.experiment or "?", record.variant or "?",
             args.scale, args.tile)
    if origin is not None:
        from srgan.inference.importing import describe_origin

        log.info("weights %s", describe_origin(origin))
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    written, failed = 0, len(inputs.errors)
    claimed: dict[Path, Path] = {}  # output -> the input that writes it
    # Log and error lines go through tqdm.write (srgan.core.console), above the bars, not through them.
    progress = UpscaleProgress(inputs.files)
    for index, in_path in enumerate(inputs.files, start=1):
        progress.start(in_path, index, len(inputs.files))
        try:
            out_path = output_path(in_path, out_dir, args.format)
            if out_path.resolve() == in_path.resolve():
                raise SrganError(f"{in_path}: the output would overwrite the input; choose another -o folder")
            if out_path in claimed:
                raise SrganError(f"{in_path}: its output {out_path} is already written from {claimed[out_path]}")
            claimed[out_path] = in_path
            upscale_file(model, in_path, out_path, runtime, args.scale, args.tile, args.tile_overlap,
                         on_tile=progress.tile)
            written += 1
        except SrganError as e:
            error_line(str(e))
            failed += 1
        finally:
            progress.finish()
    progress.close()
    skipped = f", {len(inputs.skipped)} skipped" if inputs.skipped else ""
    print(f"{written} written to {out_dir}, {failed} failed{skipped}")
    if failed:
        sys.exit(1)


IMPORT_HELP = """\
Convert a generator checkpoint written by another code base into this project's generator checkpoint, which
`srgan evaluate` and `srgan upscale` read like one the pipeline trained. Its record says where the weights
come from (format, source layout, file name and SHA-256, the study_code switches its architecture equals).

FORMAT:
  lornatang   Lornatang/SRGAN-PyTorch SRResNet and SRGAN generators (model.py `SRResNet`, and its 2022
              `Generator`): a bare state dict, or a training checkpoint (.pth.tar) with it under `state_dict`
  study       the content-loss study's generator (unique-chan/SRGAN Model/Generator.py): one BatchNorm per
              residual block, no biases in the head, upsampling and tail (study_code shared_bn: true,
              generator_bias: false)
  state_dict  a state dict of this project's SRResNet (.pt/.pth, or .safetensors from srgan export)
`module.` (DataParallel) and `_orig_mod.` (torch.compile) prefixes are removed. The number of residual
blocks, the width and the scale are read from the weights. Anything else (a file that is missing, not a
checkpoint, truncated, of another architecture or scale, or an existing OUT without --force) gives one
line and exit code 1, and nothing is written.
"""


def _cmd_import(args: argparse.Namespace) -> None:
    from srgan.inference.importing import describe_origin, import_generator

    out = Path(args.output)
    record, origin = import_generator(args.format, Path(args.checkpoint), out, args.scale, overwrite=args.force)
    arch = record.architecture
    print(f"{out}: SRResNet x{arch.scale}, {arch.num_blocks} blocks, {arch.channels} channels, "
          f"{describe_origin(origin)}")


EXPORT_HELP = """\
Export a generator checkpoint for deployment.

--format onnx (the default, unless OUT ends in .safetensors): an ONNX model (opset 18) with every BatchNorm folded into its convolution, dynamic
batch, height and width. Input `lr_img` (N, 3, h, w) float32 RGB in [0, 1]; output `sr_img` (N, 3, 4h, 4w)
for x4, unclamped (clip to [0, 1]). Before the file is written, onnxruntime runs it at two odd sizes against
torch; more than 1e-4 apart and nothing is written. The record travels in the model's metadata, so
`srgan upscale --model OUT.onnx` runs it with onnxruntime.
--format safetensors: the state dict without pickle, the record in its metadata
(`srgan import state_dict OUT.safetensors` reads it back).

Needs the optional packages of the `export` extra: pip install -e '.[export]'.
"""


def _cmd_export(args: argparse.Namespace) -> None:
    from srgan.inference.exporting import export_onnx, export_safetensors

    checkpoint, out = Path(args.model), Path(args.output)
    if (args.format or ("safetensors" if out.suffix.lower() == ".safetensors" else "onnx")) == "safetensors":
        count = export_safetensors(checkpoint, out, args.scale, overwrite=args.force)
        print(f"{out}: {count} tensors (safetensors)")
        return
    opset = {} if args.opset is None else {"opset": args.opset}
    result = export_onnx(checkpoint, out, args.scale, overwrite=args.force, **opset)
    sizes = " and ".join("x".join(map(str, shape)) for shape in result.parity_shapes)
    print(f"{out}: ONNX opset {result.opset}, {result.nodes} nodes ({', '.join(result.op_types)}); "
          f"max |onnxruntime - torch| = {result.max_abs_diff:.1e} at {sizes}")


PLAN_HELP = """\
Slice the study for several hosts that share a git remote and a DVC remote.

--first prints the stage targets of the first phase, space-separated: one host
runs them and pushes before the others start:
  targets=$(srgan plan --first) && dvc repro --pull $targets && dvc push --run-cache
--hosts N --host I prints host I's targets (0-based), the same way:
  targets=$(srgan plan --hosts N --host I) && dvc repro --pull $targets && dvc push --run-cache
(assign first: a failing plan then stops there, where `dvc repro --pull $(...)`
would run every stage). --hosts N alone prints one line per phase,
tab-separated, `first<TAB>targets` then `<I><TAB>targets` per host, and the
expected work per host on stderr. Runs are dealt longest first by optimiser
steps x FLOPs of one training step (docs/hosts.md).

Only what is not done is dealt: a stage is done when its dvc.lock entry still
matches its command, params, code and upstream outputs, and its outputs are in
the DVC remote (the cache when there is none); stderr says "N runs done, M
dealt". Every host at one commit deals the same. A host left with nothing
prints no targets: guard `dvc repro` with `[ -n "$targets" ]`. --all deals
every run, done or not, and checks nothing (any --params file).
"""


def _cmd_plan(args: argparse.Namespace) -> None:
    from srgan.core.config import load_params
    from srgan.pipeline.plan import first_phase, make_plan

    params_file = Path(args.params)
    params = load_params(params_file)
    if args.host is not None and (args.hosts is None or not 0 <= args.host < args.hosts):
        raise SrganError(f"--host must be in 0..{args.hosts - 1} for --hosts {args.hosts}, got {args.host}"
                         if args.hosts else "--host I needs --hosts N")
    if not args.first and args.hosts is None:
        raise SrganError("give --first, or --hosts N (and --host I for one host's targets)")
    done = None
    if not args.all:
        from srgan.pipeline.done import done_stages

        if params_file.resolve() != (Path.cwd() / "params.yaml").resolve():
            raise SrganError(f"--params {params_file}: what is done is known only for the params.yaml beside "
                             "dvc.yaml (dvc.lock records its runs); add --all to deal every run of this file")
        found = done_stages(Path.cwd())
        done = found.stages
        if not found.lock_committed:
            print("note: dvc.lock differs from the commit's (this clone's own runs): hosts that plan from the "
                  "commit may deal otherwise; `srgan worker sync COMMIT` resets it", file=sys.stderr)
        if found.unstored:
            print(f"note: {len(found.unstored)} stage(s) match dvc.lock but their outputs are not in "
                  f"{found.store}, so they are dealt again ({', '.join(found.unstored[:3])}"
                  f"{', …' if len(found.unstored) > 3 else ''}); `dvc push` from the clone that has them",
                  file=sys.stderr)
    if args.first:
        first = first_phase(params)
        print(" ".join(t for t in first if done is None or t not in done))
        if done is not None:
            print(_first_line(sum(1 for t in first if t in done), sum(1 for t in first if t not in done)),
                  file=sys.stderr)
        return
    plan = make_plan(params, args.hosts, args.train_images, done)
    first_line = _first_line(plan.first_done, len(plan.first)) if done is not None else ""
    summary = (f"{plan.runs_done} runs done, {plan.dealt} dealt to {args.hosts} host(s) (done: settled in "
               f"dvc.lock, outputs in {found.store})" if done is not None else "")
    if args.host is not None:
        print(" ".join(plan.targets(args.host)))
        if done is not None:
            print(f"{summary}; host {args.host}: " + _host_work(plan, args.host), file=sys.stderr)
        return
    print("first\t" + " ".join(plan.first))
    total = sum(plan.cost_gflop(h) for h in range(args.hosts))
    for host in range(args.hosts):
        print(f"{host}\t" + " ".join(plan.targets(host)))
        share = f" ({100 * plan.cost_gflop(host) / total:.0f} %)" if total and plan.hosts[host] else ""
        print(f"host {host}: {_host_work(plan, host)}{share}", file=sys.stderr)
    for line in (summary, first_line):
        if line:
            print(line, file=sys.stderr)


def _first_line(done: int, left: int) -> str:
    return f"first phase: {done} stage(s) done, " + (f"{left} to run" if left else "nothing to run")


def _host_work(plan, host: int) -> str:
    """'3 run(s), 2.05e+03 GFLOP', with its evaluation-only jobs, or 'nothing left to run'."""
    jobs = plan.hosts[host]
    if not jobs:
        return "nothing left to run"
    evaluations = sum(1 for job in jobs if not job.train)
    only = f" ({evaluations} evaluation only)" if evaluations else ""
    return f"{len(jobs)} run(s){only}, {plan.cost_gflop(host):.3g} GFLOP"


WORKER_HELP = """\
A clone that worked on one commit, brought to another (a host's next round):

  srgan worker sync COMMIT

Git would refuse (dvc.lock and the .gitignore files DVC writes beside outputs
are changed here). sync pushes this clone's results first (dvc push
--run-cache; with no DVC remote they are in the cache already), then discards
only those DVC files and checks COMMIT out (detached). It stops, resetting
nothing, on any other change (a result in git such as report/ is committed by
its host) or when the push fails. Outputs and state/ (resume points) stay.
"""


def _cmd_worker(args: argparse.Namespace) -> None:
    from srgan.pipeline.worker import sync

    print(sync(Path.cwd(), args.commit).summary())


COMPARE_HELP = """\
Is a difference real? A − B of one metric with the training seed as the unit: each seed's mean
over the test images, then a 95 % t interval over seeds (paired by seed when both models ran the same
seeds, Welch's t otherwise), per test set and over all of them; a verdict (A better, A worse) or the
reason there is none (one seed, the interval holds 0); and how many seeds would detect the metric's
planning difference ({planning}) at 80 % power. It reads the per-image scores the report stage
writes into git (report/per_image.csv), so it works in any clone, offline, for any commit or experiment.

A and B are each `[REV:]MODEL[@CHECKPOINT]`:
  MODEL       a run of the report: 'srgan/vgg19_5_4', 'srresnet/mse', or 'bicubic'
  CHECKPOINT  one of its scored checkpoints ('best', 'step10', 'epoch100'); default: its last
  REV         a git commit, branch or tag, or a DVC experiment name: the table as that revision
              holds it (from git, no DVC remote needed); none: the one in the working tree
`REV:` alone names the other side's model at that revision: `srgan compare srgan/vgg19_5_4 HEAD~1:`
compares a run with itself one commit back.
"""


def _cmd_compare(args: argparse.Namespace) -> None:
    from srgan.report.compare import compare, git_reader, parse_spec

    result = compare(parse_spec(args.a), parse_spec(args.b), args.metric, git_reader(Path(args.repo)),
                     images=args.images)
    print(result.text)


EXPERIMENTS_HELP = """\
The workspace, commits and DVC experiments in one table that fits 120 columns: for each, the params that
differ from the baseline (HEAD) and, for every model whose headline moved ({headline} at its headline
checkpoint, the DVC metrics), its values, their change, and whether the change of {verdict} is beyond seed noise
(`srgan compare`'s test, the training seed as the unit, on the per-image scores git holds). It reads
`dvc exp show --json`.
"""

VERDICT_METRIC = "psnr_y_db"  # what `srgan compare` compares by default and `srgan experiments` tests


def _metrics_help() -> str:
    """Each metric (key, label and unit, direction, protocol: what it measures), then each protocol, wrapped."""
    import textwrap

    better = {HIGHER: "higher is better", LOWER: "lower is better", CLOSER_TO_1: "best at 1"}
    width = max(map(len, METRICS))
    lines = []
    for key, metric in METRICS.items():
        text = f"{key:<{width}}  {metric.label_unit}, {better[metric.better]}, {PROTOCOLS[metric.protocol].name}: "
        lines.append(textwrap.fill(text + metric.what, 100, initial_indent="  ", subsequent_indent=" " * (width + 4)))
    lines += [textwrap.fill(f"{protocol.name}: {protocol.what}", 100, initial_indent="  ", subsequent_indent="    ")
              for protocol in PROTOCOLS.values()]
    return "\n".join(lines)


def _help_texts() -> dict[str, str]:
    """The descriptions that name metrics, with the metric table's labels, units and planning differences."""
    verdict = METRICS[VERDICT_METRIC]
    return {"evaluate": EVALUATE_HELP.format(metrics=_metrics_help()),
            "compare": COMPARE_HELP.format(planning=f"{verdict.planning_diff:.2f} {verdict.unit} of {verdict.label}"),
            "experiments": EXPERIMENTS_HELP.format(headline=" and ".join(METRICS[k].label for k in headline_keys()),
                                                   verdict=verdict.label)}


def _cmd_experiments(args: argparse.Namespace) -> None:
    from srgan.report.experiments import experiments_text, read_rows

    root = Path(args.repo)
    if not root.is_dir():
        raise SrganError(f"--repo {root}: no such folder")
    print(experiments_text(read_rows(root, args.commits), root, verdicts=not args.no_verdicts))


LOCK_HELP = """\
dvc.lock entries that keep DVC away from its run-cache. While a stage's dvc.lock entry matches it, `dvc repro`
and `dvc exp run` check out the outputs the entry names, and look in the run-cache only when the entry does not
match: so when the entry names outputs that are in neither the DVC cache nor the DVC remote (results another
machine produced and did not push), DVC trains the stage again, even when this cache holds its own run of it.

forget-unavailable drops exactly those entries; then `dvc repro` restores those stages from the run-cache
("Stage '...' is cached - skipping run") and runs only what the run-cache does not hold.
"""


def _cmd_lock(args: argparse.Namespace) -> None:
    from srgan.pipeline.lock import forget_entries, unavailable_entries

    root = Path(args.repo)
    found = unavailable_entries(root)
    if not found.stages:
        print(f"every matching dvc.lock entry's outputs are in {found.looked_in}: nothing to forget")
        return
    if not args.dry_run:
        forget_entries(root, found.stages)
    verb = "would forget" if args.dry_run else "forgot"
    print(f"{verb} {len(found.stages)} dvc.lock entries whose outputs are not in {found.looked_in}: "
          f"{', '.join(found.stages)}" + ("" if args.dry_run else "; `dvc repro` restores them from the run-cache "
                                          "where it holds them"))


CHECK_HELP = """\
Check a whole params file: every section and key (unknown and missing keys, types, allowed words,
ranges, the rules between fields) and every loss term of every variant. Prints one line per problem
and exits 1, or one line saying the file is fine. Every stage runs the same check on the whole file
before it starts (the loss terms: the training stages and the report).
"""


def _cmd_check(args: argparse.Namespace) -> None:
    from srgan.losses.terms import params_file_problems

    problems = params_file_problems(Path(args.params))
    for problem in problems:
        print(problem)
    if problems:
        sys.exit(1)
    print(f"{args.params}: ok")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="srgan", description="SRResNet / SRGAN x4 super-resolution tools")
    sub = parser.add_subparsers(dest="command", required=True)
    helps = _help_texts()
    ev = sub.add_parser("evaluate", help="score a generator checkpoint (or bicubic) on benchmark folders",
                        description=helps["evaluate"], formatter_class=argparse.RawDescriptionHelpFormatter)
    ev.add_argument("--model", required=True, metavar="CHECKPOINT",
                    help="a generator checkpoint (.pt) the pipeline wrote, or 'bicubic'")
    ev.add_argument("--scale", type=int, default=4, help="upscaling factor; must match the checkpoint (default 4)")
    ev.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                    help="auto = CUDA when available, else the CPU (evaluation always runs fp32)")
    ev.add_argument("sets", nargs="+", metavar="SET", help="folders holding HR/ and optionally LRbicx4/")
    ev.set_defaults(func=_cmd_evaluate)
    up = sub.add_parser(
        "upscale",
        help="upscale image files or folders with a trained generator",
        description=UPSCALE_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    up.add_argument("inputs", nargs="+", metavar="INPUT", help="image files and/or folders of images")
    up.add_argument("-o", "--output", required=True, metavar="OUT", help="output folder (created)")
    up.add_argument("--model", required=True, metavar="CHECKPOINT",
                    help="path of a generator checkpoint (.pt) or of an ONNX model from srgan export (.onnx)")
    up.add_argument("--tile", type=int, default=256, metavar="PX",
                    help="tile side in LR pixels; 0 = the whole image at once (default 256)")
    up.add_argument("--tile-overlap", type=int, default=16, metavar="PX",
                    help="minimum overlap of neighbouring tiles in LR pixels (default 16)")
    up.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                    help="auto = CUDA when available (bf16 autocast), else CPU")
    up.add_argument("--scale", type=int, default=4, help="upscaling factor; must match the checkpoint (default 4)")
    up.add_argument("--format", choices=("png", "jpg", "webp", "tiff"), default=None,
                    help="output format (default: the input's own)")
    up.set_defaults(func=_cmd_upscale)
    imp = sub.add_parser("import", help="convert another code base's generator checkpoint into this project's",
                         description=IMPORT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    imp.add_argument("format", metavar="FORMAT", help="lornatang, study or state_dict (see above)")
    imp.add_argument("checkpoint", metavar="CHECKPOINT", help="the file to import (.pth, .pth.tar, .pt, .safetensors)")
    imp.add_argument("-o", "--output", required=True, metavar="OUT", help="the generator checkpoint to write (.pt)")
    imp.add_argument("--scale", type=int, default=4, help="the upscaling factor the weights must have (default 4)")
    imp.add_argument("--force", action="store_true", help="replace OUT when it exists")
    imp.set_defaults(func=_cmd_import)
    exp = sub.add_parser("export", help="write a generator checkpoint as ONNX (onnxruntime) or safetensors",
                         description=EXPORT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    exp.add_argument("model", metavar="MODEL", help="a generator checkpoint (.pt)")
    exp.add_argument("-o", "--output", required=True, metavar="OUT", help="the file to write (.onnx, .safetensors)")
    exp.add_argument("--format", choices=("onnx", "safetensors"), default=None,
                     help="onnx or safetensors (default: safetensors for an OUT ending in .safetensors, else onnx)")
    exp.add_argument("--opset", type=int, default=None, help="ONNX opset, >= 17 (default 18)")
    exp.add_argument("--scale", type=int, default=4, help="upscaling factor; must match the checkpoint (default 4)")
    exp.add_argument("--force", action="store_true", help="replace OUT when it exists")
    exp.set_defaults(func=_cmd_export)
    plan = sub.add_parser("plan", help="the stage targets of each host when several hosts run the study",
                          description=PLAN_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    plan.add_argument("--first", action="store_true", help="print the first phase's targets (one host, first)")
    plan.add_argument("--hosts", type=int, metavar="N", help="number of hosts sharing the other runs")
    plan.add_argument("--host", type=int, metavar="I", help="print only host I's targets (0-based)")
    plan.add_argument("--params", default="params.yaml",
                      help="the params file (default: params.yaml; another file needs --all)")
    plan.add_argument("--all", action="store_true",
                      help="deal every run, done or not (checks nothing: no dvc.lock, no DVC remote)")
    plan.add_argument("--train-images", type=int, metavar="N",
                      help="training images, for runs counted in epochs when params do not list them "
                           "(default: the prepared set's manifest, or the known set size)")
    plan.set_defaults(func=_cmd_plan)
    worker = sub.add_parser("worker", help="a host's clone between rounds: `srgan worker sync COMMIT`",
                            description=WORKER_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    worker_sub = worker.add_subparsers(dest="action", required=True, help="sync: move this clone to COMMIT")
    sync = worker_sub.add_parser("sync", help="push this clone's results, then move it to COMMIT",
                                 description=WORKER_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    sync.add_argument("commit", metavar="COMMIT", help="a commit, branch or tag (fetched first when a git remote exists)")
    sync.set_defaults(func=_cmd_worker)
    exps = sub.add_parser("experiments", help="workspace, commits and experiments: what differs from HEAD, in 120 "
                                              "columns", description=helps["experiments"],
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    exps.add_argument("-n", "--commits", type=int, default=1, help="commits to list from HEAD back (default 1)")
    exps.add_argument("--repo", default=".", help="the project folder (default: here)")
    exps.add_argument("--no-verdicts", action="store_true",
                      help=f"skip the {METRICS[VERDICT_METRIC].label} comparison (faster)")
    exps.set_defaults(func=_cmd_experiments)
    lock = sub.add_parser("lock", help="dvc.lock entries that keep DVC from its run-cache: forget-unavailable",
                          description=LOCK_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    lock.add_argument("action", choices=("forget-unavailable",),
                      help="forget-unavailable: drop the entries whose outputs are in neither the cache nor the remote")
    lock.add_argument("--repo", default=".", help="the project folder (default: here)")
    lock.add_argument("--dry-run", action="store_true", help="only list the entries")
    lock.set_defaults(func=_cmd_lock)
    check = sub.add_parser("check", help="check a params file: one line per problem (exit 1), or 'ok'",
                           description=CHECK_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("params", nargs="?", default="params.yaml", help="the params file (default: params.yaml)")
    check.set_defaults(func=_cmd_check)
    compare = sub.add_parser("compare", help="is a difference real? A − B of one metric with its 95 %% interval",
                             description=helps["compare"], formatter_class=argparse.RawDescriptionHelpFormatter)
    compare.add_argument("a", metavar="A", help="[REV:]MODEL[@CHECKPOINT], e.g. srgan/vgg19_5_4@step10")
    compare.add_argument("b", metavar="B", help="[REV:]MODEL[@CHECKPOINT], e.g. srgan/mse, or HEAD~1: (A's model)")
    compare.add_argument("--metric", default=VERDICT_METRIC,
                         help=f"a per-image metric: {', '.join(METRICS)} (default {VERDICT_METRIC})")
    compare.add_argument("--repo", default=".", help="the project folder, a git work tree (default: here)")
    compare.add_argument("--images", choices=("fixed", "random"), default="fixed",
                         help="fixed: the interval is about these test images (the benchmark); random: about "
                              "images like them too (adds the image-to-image spread; wider)")
    compare.set_defaults(func=_cmd_compare)
    return parser


def main(argv: list[str] | None = None) -> None:
    """The `srgan` console command."""
    args = build_parser().parse_args(argv)
    setup_logging()
    try:
        args.func(args)
    except SrganError as e:
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    main()
